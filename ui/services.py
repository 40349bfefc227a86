"""What every part of the window shares: the Assistant (built in the background), model status, opening files."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QObject, QThreadPool, QUrl, Signal
from PySide6.QtGui import QDesktopServices

from ui.chat.markdown import is_safe_url
from ui import workers

log = logging.getLogger("biseo.ui")


class Services(QObject):
    """Holds the Assistant once it is built off the GUI thread; panels and the chat get everything here."""

    ready = Signal()
    failed = Signal(str)  # the assistant could not be built (plain words)
    model_status = Signal(str)  # "Loading model…", "Model ready: NAME", "Model failed: reason"
    settings_changed = Signal()

    def __init__(self, factory: Callable[[], Any] | None = None, *, warm_up: bool = True, parent=None) -> None:
        super().__init__(parent)
        self.assistant = None
        self.error: str | None = None
        self.status_text = "Starting…"
        self._factory = factory
        self._warm_up = warm_up
        self._ready_callbacks: list[Callable[[], None]] = []
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max(4, self.pool.maxThreadCount()))
        self.opened: list[tuple[str, int | None]] = []  # what open_path was asked to open (tests, logs)
        self.model_status.connect(self._remember_status)

    # startup
    def start(self) -> None:
        """Build the Assistant on a worker (heavy imports happen there), then load the model in the background."""
        self.model_status.emit("Starting…")
        self.run_in_background(self._build, on_done=self._built, on_error=self._build_failed)

    def _build(self):
        if self._factory is not None:
            return self._factory()
        from assistant.app import Assistant

        return Assistant()

    def _built(self, assistant) -> None:
        self.assistant = assistant
        self.ready.emit()
        callbacks, self._ready_callbacks = self._ready_callbacks, []
        for callback in callbacks:
            callback()
        if self._warm_up:
            self.model_status.emit("Loading model…")
            self.run_in_background(self._load_model, on_done=self.model_status.emit,
                                   on_error=lambda exc: self.model_status.emit(f"Model failed: {exc}"))
        else:
            self.model_status.emit(_ready_text(assistant) if assistant.backend_loaded else "Model loads on first use")

    def _build_failed(self, exc: BaseException) -> None:
        self.error = f"Biseo could not start: {exc}"
        log.error("assistant could not be built", exc_info=exc)
        self.model_status.emit(self.error)
        self.failed.emit(self.error)

    def _load_model(self) -> str:
        """Warm the model up (warm_up_in_background) and report how it went."""
        assistant = self.assistant
        thread = assistant.warm_up_in_background()
        thread.join()
        if not assistant.backend_loaded:
            from assistant.llm.base import LLMError

            try:
                assistant.backend()
            except LLMError as exc:
                return f"Model failed: {exc}"
        return _ready_text(assistant)

    def _remember_status(self, text: str) -> None:
        self.status_text = text

    def when_ready(self, callback: Callable[[], None]) -> None:
        """Call now if the Assistant is there, else as soon as it is."""
        if self.assistant is not None:
            callback()
        else:
            self._ready_callbacks.append(callback)

    @property
    def is_ready(self) -> bool:
        return self.assistant is not None

    # background work
    def run_in_background(self, fn: Callable[..., Any], *args: Any, on_done: Callable[[Any], None] | None = None,
                          on_error: Callable[[BaseException], None] | None = None) -> None:
        """fn(*args) on the pool; the callbacks run on the GUI thread."""
        workers.run_in_background(fn, *args, on_done=on_done, on_error=on_error, pool=self.pool)

    # opening things the user clicked
    def open_path(self, path: str | Path, page: int | None = None) -> bool:
        """Open a file with the system's viewer, at a PDF page where given (file URL fragment #page=N)."""
        self.opened.append((str(path), page))
        url = QUrl.fromLocalFile(str(Path(path).expanduser()))
        if page:
            url.setFragment(f"page={int(page)}")
        return QDesktopServices.openUrl(url)

    def open_url(self, url: QUrl) -> bool:
        """Open a link the user clicked, only for http(s)/file (biseo links are handled in the window)."""
        text = url.toString()
        if not is_safe_url(text) or url.scheme() == "biseo":
            return False
        self.opened.append((text, None))
        return QDesktopServices.openUrl(url)

    def shutdown(self, wait_ms: int = 3000) -> None:
        """Stop background work and close the Assistant (off the GUI thread, bounded wait)."""
        assistant, self.assistant = self.assistant, None
        self.pool.waitForDone(wait_ms)
        if assistant is not None:
            closer = threading.Thread(target=_close_quietly, args=(assistant,), name="biseo-close", daemon=True)
            closer.start()
            closer.join(wait_ms / 1000)


def _close_quietly(assistant) -> None:
    try:
        assistant.close()
    except Exception:  # noqa: BLE001 - closing at exit must not crash the exit
        log.exception("closing the assistant failed")


def _ready_text(assistant) -> str:
    try:
        info = assistant.backend().info
        return f"Model ready: {info.model}"
    except Exception as exc:  # noqa: BLE001
        return f"Model failed: {exc}"
