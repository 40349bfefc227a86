"""Polls added folders while the app runs, so edited, new and deleted files reach the index by themselves."""

from __future__ import annotations

import logging
import threading
from typing import Callable

log = logging.getLogger("biseo.documents")


class FolderWatcher:
    """Calls `check()` every `interval_s` seconds in a daemon thread until stop().

    Polling (a stat of each file) rather than OS notifications: it works the same on every platform and
    file system (network drives, Dropbox folders), and the cost is small next to embedding.
    """

    def __init__(self, check: Callable[[], None], interval_s: float) -> None:
        self._check = check
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="biseo-docs-watch", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self._check()
            except Exception:  # noqa: BLE001 - one failed pass must not end watching
                log.exception("checking document folders failed")

    def stop(self) -> None:
        """Stop and wait for a pass in progress to end (it finishes its current file)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self._thread = None
