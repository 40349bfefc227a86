"""Background work for the GUI: jobs on a thread pool whose results and events arrive on the GUI thread."""

from __future__ import annotations

import logging
import sys
import traceback
from typing import Any, Callable, Iterator

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from assistant.cancel import CancelToken
from assistant.events import ApprovalRequested, Event

log = logging.getLogger("biseo.ui")


class _Relay(QObject):
    """Lives on the GUI thread; a signal emitted from a worker is delivered there (queued)."""

    done = Signal(object)
    failed = Signal(object)

    def __init__(self, on_done, on_error) -> None:
        super().__init__()
        self._on_done, self._on_error = on_done, on_error
        self.done.connect(self._deliver_done)
        self.failed.connect(self._deliver_error)

    @Slot(object)
    def _deliver_done(self, result) -> None:
        _LIVE.discard(self)
        if self._on_done is not None:
            self._on_done(result)

    @Slot(object)
    def _deliver_error(self, exc) -> None:
        _LIVE.discard(self)
        if self._on_error is not None:
            self._on_error(exc)
        else:  # nobody expected this: it is a crash, shown and logged like any other
            sys.excepthook(type(exc), exc, exc.__traceback__)


_LIVE: set[_Relay] = set()  # relays alive until their job reported


class _Job(QRunnable):
    def __init__(self, fn, args, relay: _Relay) -> None:
        super().__init__()
        self.fn, self.args, self.relay = fn, args, relay
        self.setAutoDelete(True)

    def run(self) -> None:
        try:
            result = self.fn(*self.args)
        except BaseException as exc:  # noqa: BLE001 - reported to the GUI thread, never lost
            log.debug("background job failed", exc_info=True)
            self.relay.failed.emit(exc)
            return
        self.relay.done.emit(result)


def run_in_background(fn: Callable[..., Any], *args: Any, on_done: Callable[[Any], None] | None = None,
                      on_error: Callable[[BaseException], None] | None = None,
                      pool: QThreadPool | None = None) -> None:
    """Run fn(*args) on the pool; on_done(result) / on_error(exc) are called on the GUI thread."""
    relay = _Relay(on_done, on_error)
    _LIVE.add(relay)
    (pool or QThreadPool.globalInstance()).start(_Job(fn, args, relay))


class TurnWorker(QObject):
    """Runs one chat turn's event generator on the pool; every event is re-emitted on the GUI thread.

    An ApprovalRequested pauses the generator until the user answers (or the turn is stopped, which
    denies), so the core never runs a side-effecting tool without the window's decision.
    """

    event = Signal(object)
    finished = Signal()
    crashed = Signal(str, str)  # plain message, details

    def __init__(self, make_events: Callable[[CancelToken], Iterator[Event]], cancel: CancelToken | None = None,
                 parent=None) -> None:
        super().__init__(parent)
        self.cancel = cancel or CancelToken()
        self._make_events = make_events
        self.running = False

    def start(self, pool: QThreadPool | None = None) -> None:
        self.running = True
        self.finished.connect(self._mark_done)
        (pool or QThreadPool.globalInstance()).start(_Callable(self._run))

    @Slot()
    def _mark_done(self) -> None:
        self.running = False

    def stop(self) -> None:
        """Cancel the turn (the model stops generating; a pending approval is denied)."""
        self.cancel.cancel()

    def _run(self) -> None:
        try:
            for item in self._make_events(self.cancel):
                self.event.emit(item)
                if isinstance(item, ApprovalRequested):
                    while not item.wait(0.1):
                        if self.cancel.cancelled:
                            item.deny("the turn was stopped")
                            break
        except Exception as exc:  # noqa: BLE001 - the turn ends with an error bubble, the app goes on
            log.exception("turn worker failed")
            self.crashed.emit(f"Something went wrong: {type(exc).__name__}: {exc}", traceback.format_exc())
        finally:
            self.finished.emit()


class _Callable(QRunnable):
    def __init__(self, fn) -> None:
        super().__init__()
        self.fn = fn
        self.setAutoDelete(True)

    def run(self) -> None:
        self.fn()
