"""Memory panel: what Biseo remembers about the user; search, add, edit, forget and see a memory's history."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QStackedWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ui.panels import common
from ui.panels.common import Panel, button, empty_state, when

# Memories typed in the app are marked as the user's own words ("typed by you (in the desktop app)").
APP_SOURCE = {"kind": "cli", "detail": "in the desktop app"}
SEARCH_LIMIT = 20
SEARCH_MIN_SCORE = 0.2  # closeness in meaning below which a hit is noise for a person scanning a list

EMPTY = ("Biseo remembers nothing about you yet.\n\nTell it facts in chat (\"my sister's birthday is May 3\") "
         "and it keeps them here, or press Add… to type one yourself.")


def source_text(memory: Any) -> str:
    """Where a memory came from, in plain words."""
    try:
        return memory.source.describe()
    except AttributeError:
        return ""


class MemoryPanel(Panel):
    """The memories, newest first; the search box filters them by words and by meaning."""

    title = "Memory"
    subtitle = "Facts about you that Biseo recalls in later conversations. Only you can see or change them."

    def build(self) -> QWidget:
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        self.search_box = QLineEdit()
        self.search_box.setPlaceholderText("Search memories…")
        self.search_box.setClearButtonEnabled(True)
        self.add_button = button("Add…", "Type a fact for Biseo to remember", self.add_memory)
        top.addWidget(self.search_box, 1)
        top.addWidget(self.add_button)
        layout.addLayout(top)

        self.list = QTreeWidget()
        self.list.setHeaderLabels(["Memory", "When", "Source"])
        self.list.setRootIsDecorated(False)
        self.list.setAlternatingRowColors(True)
        self.list.setWordWrap(True)
        header = self.list.header()
        header.setSectionResizeMode(0, QHeaderView.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeToContents)
        header.setStretchLastSection(False)
        self.empty = empty_state(EMPTY)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.list)
        self.stack.addWidget(self.empty)
        layout.addWidget(self.stack, 1)

        bottom = QHBoxLayout()
        self.edit_button = button("Edit…", "Change the wording of the selected memory", self.edit_memory)
        self.forget_button = button("Forget…", "Erase the selected memory", self.forget_memory)
        self.history_button = button("History", "Every wording of the selected memory", self.show_history)
        for b in (self.edit_button, self.forget_button, self.history_button):
            bottom.addWidget(b)
        bottom.addStretch(1)
        layout.addLayout(bottom)

        self.list.itemSelectionChanged.connect(self._selection_changed)
        self.list.itemDoubleClicked.connect(lambda *_: self.edit_memory())
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(300)  # search once the user pauses typing, not per key
        self._timer.timeout.connect(self.reload)
        self.search_box.textChanged.connect(lambda _t: self._timer.start())
        self.history_dialog: QDialog | None = None
        self._selection_changed()
        return body

    # data
    def reload(self) -> None:
        memory = self.assistant.memory
        query = self.search_box.text().strip()
        if query:
            self.background(search, memory, query, on_done=lambda found, q=query: self._show(found, q),
                            what="Could not search memories")
        else:
            self.background(memory.list, on_done=lambda found: self._show(found, ""),
                            what="Could not read memories")

    def _show(self, memories: list[Any], query: str) -> None:
        if query != self.search_box.text().strip():
            return  # an older search finished after the user typed more
        selected = self.selected_id()
        self.list.clear()
        for m in memories:
            item = QTreeWidgetItem([m.text, when(m.updated_at), source_text(m)])
            item.setData(0, Qt.UserRole, m.id)
            item.setToolTip(0, m.text)
            item.setToolTip(2, source_text(m))
            self.list.addTopLevelItem(item)
            if m.id == selected:
                item.setSelected(True)
        if memories:
            self.stack.setCurrentWidget(self.list)
        else:
            self.empty.setText(f"No memory matches “{query}”." if query else EMPTY)
            self.stack.setCurrentWidget(self.empty)
        self._selection_changed()

    def selected_id(self) -> str | None:
        items = self.list.selectedItems()
        return items[0].data(0, Qt.UserRole) if items else None

    def _selection_changed(self) -> None:
        has = self.selected_id() is not None
        for b in (self.edit_button, self.forget_button, self.history_button):
            b.setEnabled(has)

    # actions
    def add_memory(self) -> None:
        text = common.ask_text(self, "Add a memory", "What should Biseo remember about you?")
        if text and text.strip():
            self.background(self.assistant.memory.add, text.strip(), APP_SOURCE,
                            on_done=self._added, what="Could not save the memory")

    def _added(self, remembered: Any) -> None:
        action = getattr(remembered, "action", "added")
        text = remembered.memory.text if hasattr(remembered, "memory") else ""
        self.notice.say({"unchanged": f"Biseo already knew that: “{text}”.",
                         "updated": f"Updated: “{text}” replaces what Biseo knew before."}.get(
            action, f"Remembered: “{text}”."))
        self.reload()

    def edit_memory(self) -> None:
        memory_id = self.selected_id()
        if memory_id is None:
            return
        current = self.list.selectedItems()[0].text(0)
        text = common.ask_text(self, "Edit memory", "New wording (the old one stays in its history):", current)
        if text and text.strip() and text.strip() != current:
            self.background(self.assistant.memory.edit, memory_id, text.strip(), APP_SOURCE,
                            on_done=lambda m: (self.notice.say(f"Changed to “{m.text}”."), self.reload()),
                            what="Could not change the memory")

    def forget_memory(self) -> None:
        memory_id = self.selected_id()
        if memory_id is None:
            return
        text = self.list.selectedItems()[0].text(0)
        if not common.confirm(self, "Forget this memory?",
                              f"Biseo will erase “{text}” and its earlier wordings, and stop using it in answers.",
                              yes="Forget"):
            return
        self.background(self.assistant.memory.forget, memory_id, APP_SOURCE,
                        on_done=lambda m: (self.notice.say(f"Forgot “{text}”."), self.reload()),
                        what="Could not forget the memory")

    def show_history(self) -> None:
        memory_id = self.selected_id()
        if memory_id is not None:
            self.background(self.assistant.memory.history, memory_id, on_done=self._show_history,
                            what="Could not read the memory's history")

    def _show_history(self, versions: list[Any]) -> None:
        dialog = HistoryDialog(versions, self)
        self.history_dialog = dialog
        dialog.show()


def search(memory: Any, query: str) -> list[Any]:
    """Memories containing the words first, then those close in meaning (runs in a worker thread)."""
    words = query.lower()
    listed = memory.list()
    found = [m for m in listed if words in m.text.lower()]
    seen = {m.id for m in found}
    try:
        hits = memory.search(query, k=SEARCH_LIMIT, min_score=SEARCH_MIN_SCORE)
    except Exception:  # noqa: BLE001 - meaning search needs the embedding model; words still work without it
        if found:
            return found
        raise
    found += [h.memory for h in hits if h.memory.id not in seen]
    return found[:SEARCH_LIMIT]


class HistoryDialog(QDialog):
    """Every wording of one memory, oldest first, with what changed it and where from."""

    def __init__(self, versions: list[Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Memory history")
        self.resize(640, 300)
        layout = QVBoxLayout(self)
        self.list = QTreeWidget()
        self.list.setHeaderLabels(["Wording", "Change", "When", "Source"])
        self.list.setRootIsDecorated(False)
        self.list.setWordWrap(True)
        self.list.header().setSectionResizeMode(0, QHeaderView.Stretch)
        self.list.header().setStretchLastSection(False)
        for i in (1, 2, 3):
            self.list.header().setSectionResizeMode(i, QHeaderView.ResizeToContents)
        for v in versions:
            source = v.source.describe() if hasattr(v.source, "describe") else str(v.source)
            item = QTreeWidgetItem([v.text, v.change, when(v.changed_at), source])
            item.setToolTip(0, v.text)
            self.list.addTopLevelItem(item)
        layout.addWidget(self.list)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.close)
        layout.addWidget(buttons)
