"""Unexpected exceptions anywhere: logged to data/logs/crash.log and shown in a dialog; the app keeps going."""

from __future__ import annotations

import datetime
import logging
import sys
import threading
import traceback
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QApplication, QWidget

from ui.dialogs.error_details import ErrorDetailsDialog

log = logging.getLogger("biseo.ui")


class CrashDialog(ErrorDetailsDialog):
    """"Something went wrong" in plain words; the traceback behind "Show details"."""

    def __init__(self, message: str, details: str, log_path: Path | None, parent=None) -> None:
        where = f"\n\nThe details were saved to {log_path}." if log_path else ""
        super().__init__("Biseo hit a problem",
                         f"Something unexpected went wrong: {message}\n\nYour chats are saved; you can keep "
                         f"working.{where}", details, parent)
        self.setObjectName("crashDialog")


class CrashReporter(QObject):
    """Installed as sys.excepthook and threading.excepthook; shows the dialog on the GUI thread."""

    crashed = Signal(str, str)  # message, details

    def __init__(self, log_path: Path, parent_window: Callable[[], QWidget | None] = lambda: None) -> None:
        super().__init__()
        self.log_path = Path(log_path)
        self.parent_window = parent_window
        self.dialogs: list[CrashDialog] = []
        self._previous = (sys.excepthook, threading.excepthook)
        self.crashed.connect(self._show, Qt.QueuedConnection)

    def install(self) -> "CrashReporter":
        sys.excepthook = self.excepthook
        threading.excepthook = self.thread_excepthook
        return self

    def uninstall(self) -> None:
        sys.excepthook, threading.excepthook = self._previous

    def excepthook(self, exc_type, exc, tb) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            QApplication.quit()
            return
        self.report(exc_type, exc, tb)

    def thread_excepthook(self, args) -> None:
        if args.exc_type is SystemExit:
            return
        self.report(args.exc_type, args.exc_value, args.exc_traceback,
                    where=f"thread {getattr(args.thread, 'name', '?')}")

    def report(self, exc_type, exc, tb, where: str = "") -> None:
        """Log the crash and ask the GUI thread to show it (safe from any thread)."""
        details = "".join(traceback.format_exception(exc_type, exc, tb))
        if where:
            details = f"In {where}:\n{details}"
        self._write_log(details)
        log.error("unexpected error: %s", details)
        message = f"{exc_type.__name__}: {exc}" if str(exc) else exc_type.__name__
        self.crashed.emit(message, details)

    def _write_log(self, details: str) -> None:
        try:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            stamp = datetime.datetime.now().isoformat(timespec="seconds")
            with open(self.log_path, "a", encoding="utf-8") as handle:
                handle.write(f"--- {stamp}\n{details}\n")
        except OSError:  # a full disk must not turn one crash into two
            pass

    @Slot(str, str)
    def _show(self, message: str, details: str) -> None:
        if len([d for d in self.dialogs if d.isVisible()]) >= 3:
            return  # a crash loop must not bury the window in dialogs
        dialog = CrashDialog(message, details, self.log_path, self.parent_window())
        dialog.setAttribute(Qt.WA_DeleteOnClose, False)
        self.dialogs.append(dialog)
        dialog.open()


def crash_log_path(paths) -> Path:
    return Path(paths.data_dir) / "logs" / "crash.log"
