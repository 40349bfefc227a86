"""Feedback panel: the ratings and corrections the user gave, with delete and export."""

from __future__ import annotations

import re
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QStackedWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ui.panels import common
from ui.panels.common import Panel, button, empty_state, when

EMPTY = ("No feedback yet.\n\nUse the thumbs up / down buttons under an answer in the chat to rate it, or “Correct this” to write what it "
         "should have said. Your feedback stays on this computer; Export saves it to a file you choose.")
KINDS = [("All feedback", None), ("Ratings", "rating"), ("Corrections", "correction")]


def pick(entry: Any, *names: str, default: Any = "") -> Any:
    """The first of these attributes (or keys) the entry has: the store's field names decide."""
    for name in names:
        value = entry.get(name) if isinstance(entry, dict) else getattr(entry, name, None)
        if value not in (None, ""):
            return value
    return default


def describe(entry: Any) -> tuple[str, str, str, str]:
    """(what, the answer it is about, when, where) for one rating or correction."""
    kind = pick(entry, "kind", default="")
    rating = pick(entry, "rating", "value", "score", default=None)
    correction = pick(entry, "corrected", "correction", "text", "corrected_text", default="")
    if kind == "correction" or (correction and rating is None):
        what = f"✎ Correction: {correction}"
    elif isinstance(rating, (int, float)):
        # Words, not emoji: many Linux desktops have no emoji font and show a box.
        what = "Good answer (thumbs up)" if rating > 0 else "Bad answer (thumbs down)"
    else:
        what = str(rating or kind or "feedback")
    comment = pick(entry, "comment", "reason", "note", default="")
    if comment and kind != "correction":
        what += f" — {comment}"
    answer = " ".join(str(pick(entry, "original", "answer", "answer_text", "assistant_text", "response", "message_text",
                               default="")).split())
    answer = re.sub(r"[*_`#]+", "", answer)  # a one-line preview: Markdown marks would only clutter it
    cid = str(pick(entry, "conversation_id", default=""))
    where = f"conversation {cid[:8]}" if cid else ""
    return what, answer, when(pick(entry, "created_at", "at", "timestamp", default=None)), where


class FeedbackPanel(Panel):
    """A list of feedback with a kind filter; Delete and Export act on it."""

    title = "Feedback"
    subtitle = "Your ratings and corrections of Biseo's answers."

    def build(self) -> QWidget:
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        self.kind = QComboBox()
        for label, kind in KINDS:
            self.kind.addItem(label, kind)
        self.count = QLabel()
        top.addWidget(QLabel("Show:"))
        top.addWidget(self.kind)
        top.addWidget(self.count, 1)
        self.export_button = button("Export…", "Save all feedback to a JSON Lines file", self.export)
        top.addWidget(self.export_button)
        layout.addLayout(top)
        self.list = QTreeWidget()
        self.list.setHeaderLabels(["Feedback", "About the answer", "When", "Where"])
        self.list.setRootIsDecorated(False)
        self.list.setAlternatingRowColors(True)
        header = self.list.header()
        header.setSectionResizeMode(0, QHeaderView.Interactive)
        header.resizeSection(0, 260)
        header.setSectionResizeMode(1, QHeaderView.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeToContents)
        header.setStretchLastSection(False)
        self.empty = empty_state(EMPTY)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.list)
        self.stack.addWidget(self.empty)
        layout.addWidget(self.stack, 1)
        bottom = QHBoxLayout()
        self.delete_button = button("Delete…", "Delete the selected feedback", self.delete_selected)
        bottom.addWidget(self.delete_button)
        bottom.addStretch(1)
        layout.addLayout(bottom)
        self.kind.currentIndexChanged.connect(lambda _i: self.reload())
        self.list.itemSelectionChanged.connect(
            lambda: self.delete_button.setEnabled(bool(self.list.selectedItems())))
        self.delete_button.setEnabled(False)
        return body

    @property
    def store(self) -> Any:
        return getattr(self.assistant, "feedback", None)

    def reload(self) -> None:
        if self.store is None:
            self.empty.setText("Feedback is not available in this version of Biseo's core.")
            self.stack.setCurrentWidget(self.empty)
            self.export_button.setEnabled(False)
            self.kind.setEnabled(False)
            return
        kind = self.kind.currentData()
        self.background(self.store.list, kind, on_done=self._show, what="Could not read the feedback")

    def _show(self, entries: list[Any]) -> None:
        self.list.clear()
        for entry in entries:
            what, answer, at, where = describe(entry)
            item = QTreeWidgetItem([what, answer, at, where])
            item.setData(0, Qt.UserRole, pick(entry, "id", default=None))
            item.setToolTip(0, what)
            item.setToolTip(1, answer)
            self.list.addTopLevelItem(item)
        n = len(entries)
        self.count.setText(f"{n} item{'s' if n != 1 else ''}" if n else "")
        self.stack.setCurrentWidget(self.list if entries else self.empty)
        if not entries:
            self.empty.setText(EMPTY if self.kind.currentData() is None else
                               f"No {self.kind.currentText().lower()} yet.")
        self.export_button.setEnabled(True)
        self.delete_button.setEnabled(bool(self.list.selectedItems()))

    def delete_selected(self) -> None:
        items = self.list.selectedItems()
        if not items:
            return
        entry_id = items[0].data(0, Qt.UserRole)
        if not common.confirm(self, "Delete this feedback?", f"“{items[0].text(0)}” will be deleted.", yes="Delete"):
            return
        self.background(self.store.delete, entry_id, on_done=lambda _r: self.reload(),
                        what="Could not delete the feedback")

    def export(self) -> None:
        path = common.ask_save_path(self, "Export feedback", "biseo-feedback.jsonl",
                                    "JSON Lines (*.jsonl);;All files (*)")
        if path:
            self.background(self.store.export, path,
                            on_done=lambda _r: self.notice.say(f"Exported the feedback to {path}."),
                            what="Could not export the feedback")
