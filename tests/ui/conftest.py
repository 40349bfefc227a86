"""Fixtures for the desktop app: the real window over an Assistant with a scripted fake backend."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# pydantic must finish importing before shiboken's import hook inspects it (else a circular import).
import assistant.app  # noqa: E402,F401

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")


@pytest.fixture
def docs_folder(tmp_path: Path) -> Path:
    """The folder the files tool may use in these tests."""
    folder = tmp_path / "docs"
    folder.mkdir()
    return folder


@pytest.fixture
def no_microphone(monkeypatch):
    """A computer without sound devices (the reason comes from assistant.voice.devices itself)."""
    import assistant.voice.devices as devices

    monkeypatch.setattr(devices, "list_devices", lambda: [])


@pytest.fixture
def make_assistant(fake_backend, docs_folder):
    """Build an Assistant with a fake backend (memory and documents off: no embedding model loads)."""
    made = []

    def make(decisions=(), answers=(), backend=None, plugins=("plugins.files", "plugins.calculator"), **settings):
        from assistant.app import Assistant
        from assistant.settings import DocumentSettings, MemorySettings, Settings, ToolSettings

        config = Settings(tools=ToolSettings(file_roots=[str(docs_folder)]),
                          memory=MemorySettings(enabled=False, auto_extract=False),
                          documents=DocumentSettings(enabled=False), **settings)
        app = Assistant(config, backend=backend or fake_backend(list(decisions), list(answers)),
                        builtin_plugins=plugins)
        made.append(app)
        return app

    yield make
    for app in made:
        try:
            app.close()
        except Exception:  # noqa: BLE001 - already closed by the window
            pass


@pytest.fixture
def open_window(qtbot, make_assistant, no_microphone):
    """Open the real main window over a given (or new) Assistant; waits until it is ready."""
    from ui.app import create_app
    from ui.main_window import MainWindow
    from ui.services import Services

    create_app()
    opened: list[tuple[Any, Any]] = []

    def open_(assistant=None, **kwargs):
        assistant = assistant or make_assistant(**kwargs)
        services = Services(factory=lambda: assistant, warm_up=False)
        window = MainWindow(services)
        qtbot.addWidget(window)
        window.resize(1100, 720)
        window.show()
        with qtbot.waitSignal(services.ready, timeout=10_000):
            services.start()
        qtbot.waitUntil(lambda: not window.chat.voice_bar.reason.startswith("Checking"), timeout=10_000)
        opened.append((window, services))
        return window

    yield open_
    for window, services in opened:
        if window.chat.turn is not None:
            window.chat.stop()
            qtbot.waitUntil(lambda w=window: w.chat.turn is None, timeout=10_000)
        services.pool.waitForDone(10_000)
        window.close()


@pytest.fixture
def send(qtbot):
    """Type a message and press Enter, as a user would."""
    from PySide6.QtCore import Qt

    def send_(window, text: str) -> None:
        box = window.chat.composer.input
        box.setFocus()
        qtbot.keyClicks(box, text)
        qtbot.keyClick(box, Qt.Key_Return)

    return send_


@pytest.fixture
def wait_idle(qtbot):
    """Wait until the turn in progress has ended."""

    def wait(window, timeout: int = 15_000) -> None:
        qtbot.waitUntil(lambda: window.chat.turn is None, timeout=timeout)

    return wait
