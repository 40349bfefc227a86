"""The tray icon: show or hide the window, Quick ask…, Quit (only where the system has a tray)."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication, QMenu, QSystemTrayIcon

from ui.dialogs.quick_ask import QuickAskDialog
from ui.resources import icon


class Tray:
    """Wraps QSystemTrayIcon; `available` is False on systems without a tray (then nothing is shown)."""

    def __init__(self, window, services) -> None:
        self.window = window
        self.services = services
        self.quick_ask: QuickAskDialog | None = None
        self.available = QSystemTrayIcon.isSystemTrayAvailable()
        self.menu = QMenu()
        self.toggle_action = self.menu.addAction("Hide Biseo", self.toggle_window)
        self.menu.addAction("Quick ask…", self.open_quick_ask)
        self.menu.addSeparator()
        self.menu.addAction("Quit", QApplication.quit)
        self.menu.aboutToShow.connect(self._update_labels)
        self.icon = QSystemTrayIcon(icon("app"))
        self.icon.setToolTip("Biseo")
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._activated)
        if self.available:
            self.icon.show()

    def _update_labels(self) -> None:
        self.toggle_action.setText("Hide Biseo" if self.window.isVisible() else "Show Biseo")

    def _activated(self, reason) -> None:
        if reason == QSystemTrayIcon.Trigger:
            self.toggle_window()

    def toggle_window(self) -> None:
        if self.window.isVisible() and not self.window.isMinimized():
            self.window.hide()
        else:
            self.window.bring_to_front()

    def open_quick_ask(self) -> QuickAskDialog:
        if self.quick_ask is None:
            self.quick_ask = QuickAskDialog(self.services, lambda: self.window.chat.cid)
            self.quick_ask.answered.connect(self._answered)
        self.quick_ask.new_conversation.setChecked(self.window.chat.cid is None)
        self.quick_ask.show()
        self.quick_ask.raise_()
        self.quick_ask.activateWindow()
        self.quick_ask.input.setFocus()
        return self.quick_ask

    def _answered(self, cid: str) -> None:
        chat = self.window.chat
        if cid == chat.cid and not chat.busy:
            chat.reload()
        self.window.sidebar.refresh()

    def hide(self) -> None:
        self.icon.hide()
