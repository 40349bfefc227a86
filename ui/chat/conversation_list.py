"""The sidebar: New, a search box and the conversations (rename, delete with confirmation)."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (QLabel, QLineEdit, QListWidget, QListWidgetItem, QMenu, QPushButton, QVBoxLayout,
                               QWidget)

from ui.dialogs.ask import ask_text, confirm
from ui.resources import icon


class ConversationList(QWidget):
    """Lists conversations from the history store (newest first); reports which one the user picked."""

    selected = Signal(str)  # conversation id
    new_requested = Signal()
    deleted = Signal(str)

    def __init__(self, services, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("sidebar")
        self.services = services
        self.current: str | None = None
        self.dialog = None  # the open rename/delete question, if any
        box = QVBoxLayout(self)
        box.setContentsMargins(10, 10, 10, 10)
        box.setSpacing(8)
        self.new_button = QPushButton(icon("plus"), "New chat")
        self.new_button.setObjectName("newChatButton")
        self.new_button.setToolTip("Start a new conversation (Ctrl+N)")
        self.new_button.clicked.connect(self.new_requested)
        box.addWidget(self.new_button)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search conversations")
        self.search.setClearButtonEnabled(True)
        self.search.addAction(icon("search"), QLineEdit.LeadingPosition)
        self._search_timer = QTimer(self, singleShot=True, interval=200)
        self._search_timer.timeout.connect(self.refresh)
        self.search.textChanged.connect(lambda _: self._search_timer.start())
        box.addWidget(self.search)
        self.list = QListWidget()
        self.list.setObjectName("conversationList")
        self.list.setContextMenuPolicy(Qt.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._menu)
        self.list.itemClicked.connect(self._clicked)
        self.list.currentItemChanged.connect(lambda item, _: self._clicked(item) if item else None)
        self.hint = QLabel("Starting…")
        self.hint.setObjectName("sidebarHint")
        self.hint.setWordWrap(True)
        self.hint.setAlignment(Qt.AlignCenter)
        box.addWidget(self.hint)
        box.addWidget(self.list, 1)
        self.rename_action = QAction("Rename…", self, triggered=self.rename_current)
        self.rename_action.setShortcut("F2")
        self.rename_action.setShortcutContext(Qt.WidgetWithChildrenShortcut)
        self.delete_action = QAction("Delete…", self, triggered=self.delete_current)
        self.delete_action.setShortcut("Del")
        self.delete_action.setShortcutContext(Qt.WidgetWithChildrenShortcut)
        self.list.addAction(self.rename_action)
        self.list.addAction(self.delete_action)
        self._refreshing = False
        services.when_ready(self.refresh)

    # contents
    def refresh(self) -> None:
        assistant = self.services.assistant
        if assistant is None:
            return
        query = self.search.text().strip()
        conversations = assistant.store.list_conversations(search=query or None)
        self._refreshing = True
        try:
            self.list.clear()
            for conv in conversations:
                item = QListWidgetItem(conv.title)
                item.setData(Qt.UserRole, conv.id)
                item.setToolTip(conv.title)
                self.list.addItem(item)
                if conv.id == self.current:
                    self.list.setCurrentItem(item)
        finally:
            self._refreshing = False
        if conversations:
            self.hint.hide()
        else:
            self.hint.setText("No conversations match." if query else "No conversations yet.")
            self.hint.show()

    def ids(self) -> list[str]:
        return [self.list.item(i).data(Qt.UserRole) for i in range(self.list.count())]

    def titles(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]

    def select(self, cid: str | None) -> None:
        """Highlight a conversation without emitting `selected` (the chat already shows it)."""
        self.current = cid
        self._refreshing = True
        try:
            self.list.setCurrentItem(None)
            for i in range(self.list.count()):
                if self.list.item(i).data(Qt.UserRole) == cid:
                    self.list.setCurrentItem(self.list.item(i))
        finally:
            self._refreshing = False

    def _clicked(self, item: QListWidgetItem) -> None:
        if self._refreshing or item is None:
            return
        cid = item.data(Qt.UserRole)
        if cid != self.current:
            self.current = cid
            self.selected.emit(cid)

    # rename and delete
    def _menu(self, pos) -> None:
        item = self.list.itemAt(pos)
        if item is None:
            return
        self.list.setCurrentItem(item)
        menu = QMenu(self)
        menu.addAction(self.rename_action)
        menu.addAction(self.delete_action)
        menu.exec(self.list.viewport().mapToGlobal(pos))

    def _current_item(self) -> QListWidgetItem | None:
        return self.list.currentItem()

    def rename_current(self) -> None:
        item = self._current_item()
        if item is None:
            return
        cid = item.data(Qt.UserRole)
        self.dialog = ask_text(self, "Rename conversation", "New name:", item.text(),
                               lambda title: self._rename(cid, title))

    def _rename(self, cid: str, title: str) -> None:
        if not title.strip():
            return
        self.services.assistant.store.rename_conversation(cid, title.strip())
        self.refresh()

    def delete_current(self) -> None:
        item = self._current_item()
        if item is None:
            return
        cid, title = item.data(Qt.UserRole), item.text()
        self.dialog = confirm(self, "Delete conversation", f"Delete “{title}” and all its messages? "
                              "This cannot be undone.", "Delete", lambda: self._delete(cid))

    def _delete(self, cid: str) -> None:
        self.services.assistant.store.delete_conversation(cid)
        if cid == self.current:
            self.current = None
        self.refresh()
        self.deleted.emit(cid)
