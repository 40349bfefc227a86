"""Review panel: the answers Biseo was least sure of, most unsure first, to rate or correct."""

from __future__ import annotations

import re
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QSplitter,
    QStackedWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ui.chat.rich_text import SafeBrowser
from ui.panels.common import Panel, button, empty_state, select_row, when

EMPTY = ("Nothing to review.\n\nBiseo measures how sure it was of every answer as you chat. The answers it was "
         "least sure of show up here, so you can say whether they were good or correct them; Biseo learns from "
         "that when you train an adapter.")
LIMIT = 200  # listed at once; the queue can be longer (the count says so)


def hint(mean_entropy: float) -> str:
    """Plain words for a mean token entropy (nats): how unsure the model was of the answer."""
    if mean_entropy >= 1.5:
        return "very unsure"
    if mean_entropy >= 0.6:
        return "unsure"
    return "fairly sure"


def one_line(text: str, width: int = 140) -> str:
    """A list-row preview: one line, Markdown marks dropped (they would only clutter it)."""
    flat = re.sub(r"[*_`#]+", "", " ".join(str(text).split()))
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def ask_correction(parent: QWidget, answer: str) -> str | None:
    """The correction editor, prefilled with the answer; the corrected text, or None when cancelled."""
    from ui.dialogs.correction import CorrectionDialog

    saved: list[str] = []
    dialog = CorrectionDialog(answer, saved.append, parent)
    dialog.exec()
    return saved[0] if saved else None


class ReviewPanel(Panel):
    """A most-unsure-first list; Good / Bad / Correct… write feedback and take the answer off the list."""

    title = "Review"
    subtitle = ("Answers Biseo was least sure of, most unsure first. Rate or correct them so it can learn what "
                "you expect.")

    def build(self) -> QWidget:
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        self.count = QLabel()
        self.count.setObjectName("reviewCount")
        layout.addWidget(self.count)

        self.list = QTreeWidget()
        self.list.setHeaderLabels(["Unsure", "Question", "Answer", "When"])
        self.list.setRootIsDecorated(False)
        self.list.setAlternatingRowColors(True)
        self.list.setSelectionMode(QAbstractItemView.SingleSelection)
        header = self.list.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.Stretch)
        header.setSectionResizeMode(2, QHeaderView.Stretch)
        header.setSectionResizeMode(3, QHeaderView.ResizeToContents)

        detail = QWidget()
        box = QVBoxLayout(detail)
        box.setContentsMargins(0, 6, 0, 0)
        self.figure = QLabel()
        self.figure.setWordWrap(True)
        self.figure.setStyleSheet("color: #444;")
        box.addWidget(self.figure)
        box.addWidget(QLabel("You asked:"))
        # Plain text only: questions and answers are untrusted (model output, pasted text).
        self.question = QPlainTextEdit()
        self.question.setReadOnly(True)
        self.question.setMaximumHeight(64)
        box.addWidget(self.question)
        box.addWidget(QLabel("Biseo answered:"))
        # Rendered as in the chat: sanitised Markdown, no resources loaded, links only opened on a click.
        self.answer = SafeBrowser(fit_height=False)
        self.answer.setFrameShape(QFrame.StyledPanel)
        self.answer.setStyleSheet("QTextBrowser { background: palette(base); }")
        self.answer.link_clicked.connect(self._open_link)
        box.addWidget(self.answer, 1)
        actions = QHBoxLayout()
        self.good_button = button("&Good", "The answer was right: keep it as a good example", lambda: self.rate(1))
        self.bad_button = button("&Bad", "The answer was wrong or unhelpful", lambda: self.rate(-1))
        self.correct_button = button("&Correct…", "Write the answer it should have given", self.correct)
        self.skip_button = button("&Skip", "Leave this one for later (it comes back next time)", self.skip)
        for b in (self.good_button, self.bad_button, self.correct_button, self.skip_button):
            actions.addWidget(b)
        actions.addStretch(1)
        box.addLayout(actions)

        self.split = QSplitter(Qt.Vertical)
        self.split.addWidget(self.list)
        self.split.addWidget(detail)
        self.split.setStretchFactor(0, 2)
        self.split.setStretchFactor(1, 3)
        self.split.setChildrenCollapsible(False)

        self.empty = empty_state(EMPTY)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.split)
        self.stack.addWidget(self.empty)
        layout.addWidget(self.stack, 1)

        self.items: list[Any] = []
        self.total = 0
        self.skipped: set[str] = set()  # skipped this session: shown again after a restart
        self.list.itemSelectionChanged.connect(self._selection_changed)
        self._selection_changed()
        return body

    @property
    def queue(self) -> Any:
        return getattr(self.assistant, "review", None)

    # data
    def reload(self) -> None:
        queue = self.queue
        if queue is None:
            self._show(([], 0))
            self.empty.setText("Review is not available in this version of Biseo's core.")
            return
        skipped = set(self.skipped)

        def load() -> tuple[list[Any], int]:
            items = [i for i in queue.pending(LIMIT + len(skipped)) if i.message_id not in skipped]
            return items[:LIMIT], max(queue.count_pending() - len(skipped), len(items))

        self.background(load, on_done=self._show, what="Could not read the answers to review")

    def _show(self, result: tuple[list[Any], int]) -> None:
        selected = self.selected()
        self.items, self.total = list(result[0]), int(result[1])
        self.list.clear()
        for entry in self.items:
            row = QTreeWidgetItem([f"{entry.uncertainty:.2f} · {hint(entry.uncertainty)}", one_line(entry.prompt),
                                   one_line(entry.answer), when(entry.created_at)])
            row.setData(0, Qt.UserRole, entry.message_id)
            row.setToolTip(0, f"Mean token entropy {entry.uncertainty:.2f} nats: higher means less sure")
            row.setToolTip(1, one_line(entry.prompt, 400))
            row.setToolTip(2, one_line(entry.answer, 400))
            self.list.addTopLevelItem(row)
        keep = next((i for i, e in enumerate(self.items) if selected and e.message_id == selected.message_id), 0)
        if self.items:
            self.list.setCurrentItem(self.list.topLevelItem(keep))
        self.stack.setCurrentWidget(self.split if self.items else self.empty)
        if not self.items:
            self.empty.setText(EMPTY)
        self._update_count()
        self._selection_changed()

    def _update_count(self) -> None:
        shown = len(self.items)
        if not shown:
            self.count.setText("")
        elif self.total > shown:
            self.count.setText(f"{self.total} answers left to review; the {shown} least sure are listed.")
        else:
            self.count.setText(f"{shown} answer{'s' if shown != 1 else ''} left to review.")

    # selection
    def selected(self) -> Any:
        row = self.list.currentItem()
        if row is None or not row.isSelected():
            return None
        mid = row.data(0, Qt.UserRole)
        return next((e for e in self.items if e.message_id == mid), None)

    def select(self, message_id: str) -> None:
        select_row(self.list, message_id)

    def _selection_changed(self) -> None:
        entry = self.selected()
        for b in (self.good_button, self.bad_button, self.correct_button, self.skip_button):
            b.setEnabled(entry is not None and not self.busy)
        if entry is None:
            self.figure.setText("Select an answer to review it.")
            self.question.clear()
            self.answer.clear()
            return
        self.figure.setText(f"Biseo was {hint(entry.uncertainty)} of this answer: mean token entropy "
                            f"{entry.uncertainty:.2f} (highest {entry.max_entropy:.2f}) over {entry.tokens} "
                            f"tokens; higher means less sure. {when(entry.created_at).capitalize()}.")
        self.question.setPlainText(entry.prompt or "(the question was not found)")
        self.answer.set_markdown(entry.answer)

    def _open_link(self, url: Any) -> None:
        opener = getattr(self.services, "open_url", None)
        if opener is not None:
            opener(url)

    # actions
    def rate(self, rating: int) -> None:
        entry = self.selected()
        if entry is None or self.busy:
            return
        feedback = self.assistant.feedback
        self._act(entry, lambda: feedback.rate(entry.message_id, conversation_id=entry.conversation_id,
                                               rating=rating),
                  "Marked as a good answer." if rating > 0 else "Marked as a bad answer.")

    def correct(self) -> None:
        entry = self.selected()
        if entry is None or self.busy:
            return
        text = ask_correction(self, entry.answer)
        if text is None or not text.strip():
            return
        feedback = self.assistant.feedback
        self._act(entry, lambda: feedback.correct(entry.message_id, conversation_id=entry.conversation_id,
                                                  prompt=entry.prompt, original=entry.answer, corrected=text),
                  "Correction saved.")

    def skip(self) -> None:
        entry = self.selected()
        if entry is None:
            return
        self.skipped.add(entry.message_id)
        self.total = max(self.total - 1, 0)
        self._remove(entry)
        self.notice.say("Skipped; it comes back the next time Biseo starts.")

    def _act(self, entry: Any, write, done_text: str) -> None:
        self.error.clear()
        for b in (self.good_button, self.bad_button, self.correct_button, self.skip_button):
            b.setEnabled(False)  # one write at a time: a second click must not rate the next answer

        def done(_result: Any) -> None:
            self.total = max(self.total - 1, 0)
            self._remove(entry)
            self.notice.say(done_text)

        def failed(exc: Any) -> None:
            self.show_error("Could not save your review", exc)
            self._selection_changed()

        self.background(write, on_done=done, on_error=failed)

    def _remove(self, entry: Any) -> None:
        """Take a reviewed (or skipped) answer off the list and select the next one."""
        index = next((i for i, e in enumerate(self.items) if e.message_id == entry.message_id), None)
        if index is None:
            return
        del self.items[index]
        self.list.takeTopLevelItem(index)
        if self.items:
            self.list.setCurrentItem(self.list.topLevelItem(min(index, len(self.items) - 1)))
            self._update_count()
            self._selection_changed()
        elif self.total > 0:
            self.reload()  # more wait beyond what was listed
        else:
            self._show(([], 0))
