"""Memory panel: the user sees, adds, edits, searches and forgets memories."""

from __future__ import annotations

from ui.panels import common
from ui.panels.memory import MemoryPanel


def rows(panel) -> list[str]:
    return [panel.list.topLevelItem(i).text(0) for i in range(panel.list.topLevelItemCount())]


def select(panel, text: str) -> None:
    [item] = [panel.list.topLevelItem(i) for i in range(panel.list.topLevelItemCount())
              if panel.list.topLevelItem(i).text(0) == text]
    panel.list.setCurrentItem(item)


def test_starting_then_empty_state_says_what_to_do(qtbot, assistant, idle):
    from tests.ui.panels.conftest import make_services

    services = make_services(None, factory=lambda: assistant)
    panel = MemoryPanel(services)
    qtbot.addWidget(panel)
    panel.refresh()
    assert panel.objectName() == "Memory"
    assert panel.pages.currentWidget() is panel.starting and "Starting" in panel.starting.text()
    services.start() if hasattr(services, "start") else services.become_ready(assistant)
    qtbot.waitUntil(lambda: services.assistant is not None, timeout=10_000)
    idle(panel)
    assert panel.stack.currentWidget() is panel.empty
    assert "Add…" in panel.empty.text()
    services.pool.waitForDone(5000)


def test_add_edit_search_history_forget(qtbot, services, idle, monkeypatch):
    panel = MemoryPanel(services)
    qtbot.addWidget(panel)
    panel.refresh()
    idle(panel)
    answers = iter(["My sister's birthday is May 3", "I live in Busan"])
    monkeypatch.setattr(common, "ask_text", lambda *a, **k: next(answers))
    panel.add_button.click()
    idle(panel)
    panel.add_button.click()
    idle(panel)
    assert sorted(rows(panel)) == ["I live in Busan", "My sister's birthday is May 3"]
    assert panel.list.topLevelItem(0).text(2) == "typed by you (in the desktop app)"
    assert panel.list.topLevelItem(0).text(1).startswith("today")

    select(panel, "I live in Busan")
    monkeypatch.setattr(common, "ask_text", lambda *a, **k: "I live in Seoul")
    panel.edit_button.click()
    idle(panel)
    assert "I live in Seoul" in rows(panel) and "I live in Busan" not in rows(panel)
    assert "Changed to" in panel.notice.text()

    select(panel, "I live in Seoul")
    panel.history_button.click()
    idle(panel)
    history = panel.history_dialog.list
    assert [history.topLevelItem(i).text(0) for i in range(history.topLevelItemCount())] == [
        "I live in Busan", "I live in Seoul"]

    panel.search_box.setText("birthday")
    qtbot.waitUntil(lambda: rows(panel) == ["My sister's birthday is May 3"], timeout=5000)
    panel.search_box.setText("zebra crossing")
    qtbot.waitUntil(lambda: panel.stack.currentWidget() is panel.empty, timeout=5000)
    assert "No memory matches" in panel.empty.text()
    panel.search_box.clear()
    qtbot.waitUntil(lambda: len(rows(panel)) == 2, timeout=5000)

    select(panel, "My sister's birthday is May 3")
    monkeypatch.setattr(common, "confirm", lambda *a, **k: False)
    panel.forget_button.click()
    assert len(rows(panel)) == 2  # said no: nothing forgotten
    monkeypatch.setattr(common, "confirm", lambda *a, **k: True)
    panel.forget_button.click()
    idle(panel)
    assert rows(panel) == ["I live in Seoul"]
    assert [m.text for m in services.assistant.memory.list()] == ["I live in Seoul"]


def test_a_failure_is_shown_in_place_with_details(qtbot, services, idle, monkeypatch):
    panel = MemoryPanel(services)
    qtbot.addWidget(panel)

    def broken(*args, **kwargs):
        raise OSError("disk is full")

    monkeypatch.setattr(services.assistant.memory, "list", broken)
    panel.refresh()
    idle(panel)
    assert panel.error.isVisibleTo(panel)
    assert panel.error.message.text() == "Could not read memories: disk is full"
    assert "OSError" in panel.error.details.toPlainText()
