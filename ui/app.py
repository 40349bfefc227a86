"""Starts the desktop app: the window shows first, the Assistant and the model load behind it."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from typing import Any

# Set before anything imports numpy/onnxruntime: idle worker threads must not spin on the GUI's cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

from PySide6.QtCore import QEvent, QObject, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

log = logging.getLogger("biseo.ui")

# Seconds from main() starting to the window being on screen (None until it is).
STARTUP: dict[str, Any] = {"visible_s": None}


def time_to_visible() -> float | None:
    """How long the last main() took to put the window on screen (seconds), for scripts and tests."""
    return STARTUP["visible_s"]


class VisibleWatch(QObject):
    """Records the moment the window is first exposed (shown and drawable)."""

    def __init__(self, window, t0: float, on_visible=None) -> None:
        super().__init__(window)
        self.t0, self.on_visible, self.done = t0, on_visible, False
        self.window = window

    def attach(self) -> None:
        handle = self.window.windowHandle()
        if handle is not None:
            handle.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        if not self.done and event.type() == QEvent.Expose and obj.isExposed():
            self.done = True
            STARTUP["visible_s"] = round(time.perf_counter() - self.t0, 3)
            if self.on_visible is not None:
                QTimer.singleShot(0, self.on_visible)
        return False


def create_app(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance() or QApplication(argv or sys.argv[:1])
    app.setApplicationName("Biseo")
    app.setApplicationDisplayName("Biseo")
    app.setOrganizationName("Biseo")
    from ui.resources import icon, stylesheet

    app.setWindowIcon(icon("app"))
    app.setStyleSheet(stylesheet())
    return app


def main(argv: list[str] | None = None) -> int:
    """Open the window (or focus the one already running) and run until it is closed."""
    t0 = time.perf_counter()
    parser = argparse.ArgumentParser(prog="biseo app", description="Biseo's desktop app.")
    parser.add_argument("--measure-startup", action="store_true",
                        help="print how long the window took to appear, then quit")
    args = parser.parse_args(argv if argv is not None else sys.argv[1:])
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    app = create_app()
    from ui.single_instance import SingleInstance

    instance = SingleInstance()
    if not args.measure_startup and instance.signal_existing():
        print("Biseo is already running: its window was brought to the front.")
        return 0
    if not args.measure_startup:
        instance.listen()

    from assistant.paths import resolve_paths
    from ui.dialogs.crash import CrashReporter, crash_log_path
    from ui.main_window import MainWindow
    from ui.services import Services

    window_ref: list = []
    reporter = CrashReporter(crash_log_path(resolve_paths()),
                             lambda: window_ref[0] if window_ref else None).install()
    services = Services()
    window = MainWindow(services)
    window_ref.append(window)
    instance.activated.connect(window.bring_to_front)

    def visible() -> None:
        if args.measure_startup:
            print(f"window visible after {STARTUP['visible_s']:.3f} s")
            app.quit()
        else:
            services.start()  # the Assistant (and then the model) load behind the shown window

    watch = VisibleWatch(window, t0, visible)
    window.show()
    watch.attach()

    def no_expose_event() -> None:  # some platforms never send one: count the time until now instead
        if not watch.done:
            watch.done = True
            STARTUP["visible_s"] = round(time.perf_counter() - t0, 3)
            visible()

    QTimer.singleShot(3000, no_expose_event)
    tray = None
    if not args.measure_startup:
        from ui.tray import Tray

        tray = Tray(window, services)
    try:
        return app.exec()
    finally:
        if tray is not None:
            tray.hide()
        services.shutdown()
        instance.close()
        reporter.uninstall()
