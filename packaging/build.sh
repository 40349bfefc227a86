#!/usr/bin/env bash
# Build the one-folder desktop app (dist/biseo/) with pyinstaller.spec, then smoke-test the built app headless.
#   packaging/build.sh              clean build + smoke test
#   SKIP_BUILD=1 packaging/build.sh smoke-test the existing dist/biseo only
#   FAST=1 packaging/build.sh       reuse build/ (PyInstaller's cache) instead of a clean build
# Prints the build time, the folder size and the smoke test's JSON line; exits non-zero if either fails.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
export OMP_WAIT_POLICY=PASSIVE ORT_DISABLE_TELEMETRY=1

if [ "${SKIP_BUILD:-0}" != "1" ]; then
    clean=--clean
    [ "${FAST:-0}" = "1" ] && clean=
    start=$(date +%s.%N)
    "$PY" -m PyInstaller --noconfirm $clean --log-level "${PYI_LOG_LEVEL:-WARN}" \
        --distpath dist --workpath build pyinstaller.spec
    end=$(date +%s.%N)
    printf 'build: %.1f s\n' "$(echo "$end - $start" | bc)"
fi
[ -x dist/biseo/biseo ] || { echo "dist/biseo/biseo is missing: build first" >&2; exit 1; }
printf 'size: %s MB (dist/biseo, %s files)\n' "$(du -sm dist/biseo | cut -f1)" "$(find dist/biseo -type f | wc -l)"

# A fresh home (first start: the bundled model is assembled there), no display, and no network where the
# system lets us take it away (an unprivileged network namespace), to show the app answers offline.
home=$(mktemp -d "${TMPDIR:-/tmp}/biseo-smoke.XXXXXX")
trap 'rm -rf "$home"' EXIT
offline=()
if unshare -rn true 2>/dev/null; then offline=(unshare -rn); fi
echo "smoke test: BISEO_HOME=$home QT_QPA_PLATFORM=offscreen ${offline[*]:-(network not isolated)}"
start=$(date +%s.%N)
set +e
env BISEO_HOME="$home" QT_QPA_PLATFORM=offscreen "${offline[@]}" \
    dist/biseo/biseo --smoke-test --smoke-out "$home/smoke.json" --smoke-timeout "${SMOKE_TIMEOUT:-900}" \
    > "$home/smoke.log" 2>&1
rc=$?
set -e
end=$(date +%s.%N)
if [ -s "$home/smoke.json" ]; then cat "$home/smoke.json"; else echo "no smoke-test result; its output:"; tail -n 60 "$home/smoke.log"; fi
printf 'smoke test: exit %d after %.1f s\n' "$rc" "$(echo "$end - $start" | bc)"
[ "$rc" -eq 0 ] || { echo "--- smoke-test output (tail) ---"; tail -n 40 "$home/smoke.log"; }
exit "$rc"
