"""The frozen app's entry point: `--smoke-test` runs the smoke test, anything else opens the desktop app."""

from __future__ import annotations

import multiprocessing
import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--plugin-host"]:  # a third-party plugin's own process (assistant/extensions/remote.py)
        from assistant.extensions.host import main as host

        host()
        return 0
    if "--smoke-test" in argv:
        argv.remove("--smoke-test")
        from ui.smoke import main as smoke

        return smoke(argv)
    from ui.app import main as app

    return app(argv)


if __name__ == "__main__":
    # A frozen app re-runs itself for any multiprocessing child (a library may spawn one): let it act as that child.
    multiprocessing.freeze_support()
    sys.exit(main())
