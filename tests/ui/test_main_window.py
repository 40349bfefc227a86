"""The window: panels from ui.panels (errors shown in place), status bar, layout at 1100x720, quick ask."""

from __future__ import annotations

import sys
import types

from PySide6.QtCore import Qt

from ui.main_window import PanelError


def test_the_status_bar_shows_the_model_state(qtbot, open_window):
    window = open_window(plugins=())
    assert window.model_label.text() == "Model loads on first use" or window.model_label.text().startswith("Model")


def test_a_panel_that_fails_to_import_shows_its_error_in_place(qtbot, open_window, monkeypatch):
    broken = types.ModuleType("ui_test_broken_panel")
    monkeypatch.setitem(sys.modules, "ui_test_broken_panel", broken)  # has no Panel class
    window = open_window(plugins=())
    window._panel_paths["Broken"] = "ui_test_broken_panel:Panel"
    from PySide6.QtGui import QAction

    window.panel_actions["Broken"] = QAction("Broken", window, checkable=True)
    page = window.show_page("Broken")
    assert isinstance(page, PanelError) and "could not be opened" in page.message
    assert window.show_page("Chat") is window.chat and window.sidebar.isVisible()


def test_the_panels_open_from_the_toolbar(qtbot, open_window):
    window = open_window(plugins=())
    for title in list(window.panel_actions)[1:]:
        page = window.show_page(title)
        assert page.objectName() == title
        assert window.stack.currentWidget() is page


def test_nothing_is_clipped_at_1100_by_720(qtbot, open_window):
    window = open_window(plugins=())
    window.resize(1100, 720)
    qtbot.wait(50)
    composer = window.chat.composer
    for widget in (composer.button, window.chat.persona, window.sidebar.new_button, window.chat.voice_bar):
        top_left = widget.mapTo(window, widget.rect().topLeft())
        bottom_right = widget.mapTo(window, widget.rect().bottomRight())
        assert window.rect().contains(top_left) and window.rect().contains(bottom_right), widget
        assert widget.width() >= widget.minimumSizeHint().width() - 1


def test_quick_ask_answers_in_a_new_conversation(qtbot, open_window):
    from ui.tray import Tray

    window = open_window(answers=["Forty-two."], plugins=())
    tray = Tray(window, window.services)
    dialog = tray.open_quick_ask()
    assert dialog.new_conversation.isChecked()
    qtbot.keyClicks(dialog.input, "meaning of life?")
    qtbot.keyClick(dialog.input, Qt.Key_Return)
    qtbot.waitUntil(lambda: dialog.worker is None and "Forty-two." in dialog.answer.toPlainText(), timeout=10_000)
    assert "meaning of life?" in window.sidebar.titles()
    dialog.close()
    tray.hide()


def test_the_tray_hides_and_shows_the_window(qtbot, open_window):
    from ui.tray import Tray

    window = open_window(plugins=())
    tray = Tray(window, window.services)
    tray.toggle_window()
    assert not window.isVisible()
    tray.toggle_window()
    assert window.isVisible()
    tray.hide()
