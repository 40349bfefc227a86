#!/usr/bin/env sh
# Installs the system libraries voice needs where the platform lacks them: on Debian/Ubuntu the espeak-ng
# speech synthesizer (pyttsx3's Linux driver) and PortAudio (microphone and speaker). macOS and Windows
# ship their own synthesizers, and sounddevice's wheels carry PortAudio there, so nothing is done.
set -u
command -v apt-get >/dev/null 2>&1 || exit 0
missing=""
for pkg in espeak-ng libespeak-ng1 libportaudio2; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0
echo "Installing system packages for voice:$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
if ! { $SUDO apt-get install -y -q $missing >/dev/null 2>&1 || { $SUDO apt-get update -q >/dev/null 2>&1 && $SUDO apt-get install -y -q $missing >/dev/null; }; }; then
    echo "warning: could not install$missing; voice will report what is missing (install them with apt)." >&2
fi
exit 0
