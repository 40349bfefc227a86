"""Panel fixtures: a real Assistant on the fake backend and fast fake indexes, behind a Services object."""

from __future__ import annotations

import traceback
from typing import Any, Callable

import pytest

from assistant.app import Assistant
from assistant.settings import Settings
from tests.memory.fakes import FakeIndex as MemoryFakeIndex

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal  # noqa: E402,I001 - after pydantic (see ui/panels/common.py)


class _Signals(QObject):
    done = Signal(object)
    failed = Signal(object)


class _Job(QRunnable):
    def __init__(self, fn: Callable[..., Any], args: tuple, signals: _Signals) -> None:
        super().__init__()
        self.fn, self.args, self.signals = fn, args, signals

    def run(self) -> None:
        try:
            result = self.fn(*self.args)
        except BaseException as exc:  # noqa: BLE001 - reported to the panel
            exc.__traceback_text__ = traceback.format_exc()
            self.signals.failed.emit(exc)
        else:
            self.signals.done.emit(result)


class StandInServices(QObject):
    """The agreed Services interface (ui/services.py) in small: an Assistant and a thread pool."""

    ready = Signal()
    model_status = Signal(str)
    settings_changed = Signal()

    def __init__(self, assistant: Assistant | None = None) -> None:
        super().__init__()
        self.assistant = assistant
        self.pool = QThreadPool()
        self.pool.setMaxThreadCount(4)
        self._live: set[_Signals] = set()
        self.opened: list[tuple[str, Any]] = []
        self.current_conversation_id: str | None = None

    def run_in_background(self, fn: Callable[..., Any], *args: Any, on_done: Callable | None = None,
                          on_error: Callable | None = None) -> None:
        signals = _Signals()  # lives in the GUI thread, so its signals arrive there
        self._live.add(signals)

        def finish(callback: Callable | None, value: Any) -> None:
            self._live.discard(signals)
            if callback is not None:
                callback(value)

        signals.done.connect(lambda value: finish(on_done, value))
        signals.failed.connect(lambda exc: finish(on_error, exc))
        self.pool.start(_Job(fn, args, signals))

    def open_path(self, path: Any, page: int | None = None) -> None:
        self.opened.append((str(path), page))

    def become_ready(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.ready.emit()


@pytest.fixture
def memory_index(monkeypatch) -> MemoryFakeIndex:
    shared = MemoryFakeIndex()
    monkeypatch.setattr("assistant.memory.service.default_index", lambda *args: shared)
    return shared


@pytest.fixture
def docs_index(monkeypatch):
    from tests.documents.docfixtures import FakeIndex, bag_cosine

    shared = FakeIndex()
    monkeypatch.setattr("assistant.documents.service.default_index_factory",
                        lambda *args: (lambda folder: shared))
    monkeypatch.setattr("assistant.documents.service.embedder_similarity",
                        lambda *args: (lambda q, texts: [bag_cosine(q, t) for t in texts]))
    return shared


@pytest.fixture
def assistant(fake_backend, memory_index, docs_index):
    app = Assistant(Settings(), backend=fake_backend(), builtin_plugins=("plugins.calculator", "plugins.clock",
                                                                          "plugins.files", "plugins.memory"))
    yield app
    app.close()


def make_services(assistant: Assistant | None = None, factory: Callable[[], Any] | None = None):
    """The real ui.services.Services when it exists (the stand-in otherwise), holding this assistant."""
    try:
        from ui.services import Services
    except ImportError:
        return StandInServices(assistant)
    services = Services(factory, warm_up=False)
    services.assistant = assistant
    return services


@pytest.fixture
def services(qtbot, assistant):
    s = make_services(assistant)
    yield s
    s.pool.waitForDone(10_000)


def wait_idle(qtbot, panel, timeout: int = 10_000) -> None:
    """Wait until the panel's background work has finished and its results are shown."""
    qtbot.waitUntil(lambda: not panel.busy, timeout=timeout)


@pytest.fixture
def idle(qtbot):
    return lambda panel, timeout=10_000: wait_idle(qtbot, panel, timeout)
