"""An unexpected exception shows a crash dialog, is logged, and the chat history survives it."""

from __future__ import annotations

import sys
import threading

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication

from ui.dialogs.crash import CrashReporter, crash_log_path


@pytest.fixture
def reporter(monkeypatch, open_window):
    from assistant.paths import resolve_paths

    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # restored after the test
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    made = []

    def make(window):
        rep = CrashReporter(crash_log_path(resolve_paths()), lambda: window).install()
        made.append(rep)
        return rep

    yield make
    for rep in made:
        rep.uninstall()


@pytest.mark.qt_no_exception_capture
def test_a_crash_shows_a_dialog_and_the_history_survives(qtbot, open_window, send, wait_idle, reporter):
    window = open_window(answers=["Kept answer."], plugins=())
    rep = reporter(window)
    send(window, "remember this question")
    wait_idle(window)
    cid = window.chat.cid

    def boom() -> None:
        raise RuntimeError("injected failure")

    QTimer.singleShot(0, boom)  # an exception in a slot, like a bug in any handler
    qtbot.waitUntil(lambda: bool(rep.dialogs) and rep.dialogs[-1].isVisible())
    dialog = rep.dialogs[-1]
    assert "injected failure" in dialog.message.text() and "Your chats are saved" in dialog.message.text()
    assert not dialog.details.isVisible()
    qtbot.mouseClick(dialog.details_button, Qt.LeftButton)
    assert dialog.details.isVisible() and "RuntimeError" in dialog.details.toPlainText()
    qtbot.mouseClick(dialog.copy_button, Qt.LeftButton)
    assert "injected failure" in QGuiApplication.clipboard().text()
    assert "injected failure" in rep.log_path.read_text()
    assert rep.log_path.parent.name == "logs" and rep.log_path.parent.parent.name == "data"
    # the app goes on and the conversation is listed and complete
    dialog.accept()
    assert cid in window.sidebar.ids()
    stored = [(m.role, m.content) for m in window.services.assistant.store.messages(cid)]
    assert stored == [("user", "remember this question"), ("assistant", "Kept answer.")]
    send(window, "still working?")
    wait_idle(window)


@pytest.mark.qt_no_exception_capture
def test_a_crash_in_a_background_thread_is_shown_too(qtbot, open_window, reporter):
    window = open_window(plugins=())
    rep = reporter(window)

    def work() -> None:
        raise ValueError("thread failure")

    thread = threading.Thread(target=work, name="worker")
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: bool(rep.dialogs) and rep.dialogs[-1].isVisible())
    assert "thread failure" in rep.dialogs[-1].details.toPlainText()
    assert "thread worker" in rep.log_path.read_text()


@pytest.mark.qt_no_exception_capture
def test_a_failing_background_job_without_a_handler_is_a_crash(qtbot, open_window, reporter):
    window = open_window(plugins=())
    rep = reporter(window)
    window.services.run_in_background(lambda: 1 / 0)
    qtbot.waitUntil(lambda: bool(rep.dialogs) and rep.dialogs[-1].isVisible())
    assert "ZeroDivisionError" in rep.dialogs[-1].message.text()
