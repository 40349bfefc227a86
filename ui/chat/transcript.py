"""The conversation as a column of message widgets in a scroll area (one widget per message)."""

from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtWidgets import QLabel, QScrollArea, QVBoxLayout, QWidget

from ui.chat.messages import AssistantMessage, ErrorMessage, UserMessage
from ui.chat.tool_card import ToolCard

EMPTY_TEXT = "Ask anything. Your chats stay on this computer."


class Transcript(QScrollArea):
    """Holds the widgets; follows the end while the user is at the bottom (never re-renders the rest)."""

    link_clicked = Signal(QUrl)
    citation_clicked = Signal(dict)
    rated = Signal(str, int)
    correct_requested = Signal(str, str)
    regenerate_requested = Signal()
    edit_submitted = Signal(str, str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("transcript")
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        inner = QWidget()
        inner.setObjectName("transcriptInner")
        self.column = QVBoxLayout(inner)
        self.column.setContentsMargins(28, 18, 28, 18)
        self.column.setSpacing(12)
        self.empty = QLabel(EMPTY_TEXT)
        self.empty.setObjectName("emptyState")
        self.empty.setAlignment(Qt.AlignCenter)
        self.empty.setWordWrap(True)
        self.column.addStretch(1)
        self.column.addWidget(self.empty)
        self.column.addStretch(2)
        self.setWidget(inner)
        self.items: list[QWidget] = []
        self._follow = True
        bar = self.verticalScrollBar()
        bar.valueChanged.connect(lambda v: setattr(self, "_follow", v >= bar.maximum() - 24))
        bar.rangeChanged.connect(lambda _lo, hi: bar.setValue(hi) if self._follow else None)

    # adding
    def _add(self, widget: QWidget) -> QWidget:
        self.empty.hide()
        self.column.setStretch(0, 0)  # messages start at the top; the stretch above centres only the empty state
        self.column.insertWidget(self.column.count() - 2, widget)  # before the empty label and trailing stretch
        self.items.append(widget)
        widget.show()  # at once: a layout would only show it on the next event-loop pass
        return widget

    def add_user(self, text: str, message_id: str | None = None) -> UserMessage:
        widget = UserMessage(text, message_id)
        widget.edit_submitted.connect(self.edit_submitted)
        return self._add(widget)

    def add_assistant(self) -> AssistantMessage:
        widget = AssistantMessage()
        widget.link_clicked.connect(self.link_clicked)
        widget.citation_clicked.connect(self.citation_clicked)
        widget.rated.connect(self.rated)
        widget.correct_requested.connect(self.correct_requested)
        widget.regenerate_requested.connect(self.regenerate_requested)
        return self._add(widget)

    def add_tool_card(self, call_id: str, name: str, arguments: dict[str, Any], expanded: bool = True) -> ToolCard:
        return self._add(ToolCard(call_id, name, arguments, expanded=expanded))

    def add_error(self, message: str, details: str = "") -> ErrorMessage:
        return self._add(ErrorMessage(message, details))

    # removing
    def clear(self) -> None:
        for widget in self.items:
            widget.setParent(None)
            widget.deleteLater()
        self.items = []
        self.empty.show()
        self.column.setStretch(0, 1)
        self._follow = True

    def remove_from(self, widget: QWidget) -> None:
        """Remove this widget and everything after it."""
        if widget not in self.items:
            return
        index = self.items.index(widget)
        for item in self.items[index:]:
            item.setParent(None)
            item.deleteLater()
        self.items = self.items[:index]
        if not self.items:
            self.empty.show()
            self.column.setStretch(0, 1)

    # queries
    def of_type(self, kind: type) -> list:
        return [w for w in self.items if isinstance(w, kind)]

    def last_assistant(self) -> AssistantMessage | None:
        found = self.of_type(AssistantMessage)
        return found[-1] if found else None

    def update_actions(self, idle: bool) -> None:
        """Regenerate on the last answer only; editing only while no turn runs."""
        last = self.last_assistant()
        for message in self.of_type(AssistantMessage):
            message.set_regenerate_visible(idle and message is last)
        for message in self.of_type(UserMessage):
            message.set_editable(idle)

    def scroll_to_end(self) -> None:
        self._follow = True
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())

    # history
    def load(self, messages: list, feedback_for: Callable[[str], dict] = lambda _mid: {}) -> None:
        """Show stored messages: user and assistant bubbles, tool cards (collapsed), failed turns."""
        self.clear()
        cards: dict[str, ToolCard] = {}
        turns_with_answer = {m.turn_id for m in messages if m.role == "assistant"}
        failed_shown: set[str] = set()
        for message in messages:
            if message.role == "user":
                self.add_user(message.content, message.id)
            elif message.role == "tool_call":
                card = self.add_tool_card(message.tool_call_id or "", message.tool_name or "?",
                                          message.tool_args or {}, expanded=False)
                cards[message.tool_call_id or ""] = card
            elif message.role == "tool_result":
                card = cards.get(message.tool_call_id or "")
                if card is not None:
                    meta = message.meta or {}
                    card.set_result(bool(message.ok), message.content, float(meta.get("duration_s") or 0),
                                    bool(meta.get("denied")))
            elif message.role == "assistant":
                widget = self.add_assistant()
                note = "Stopped." if message.turn_status == "cancelled" else ""
                widget.finish(message.content, message.id, (message.meta or {}).get("citations") or [],
                              note=note)
                state = feedback_for(message.id) or {}
                widget.set_rating(int(state.get("rating") or 0))
                if state.get("correction"):
                    widget.note.setText("You corrected this answer.")
                    widget.note.show()
            if (message.turn_status == "error" and message.turn_id not in turns_with_answer
                    and message.turn_id not in failed_shown and message.role == "user"):
                failed_shown.add(message.turn_id)
                self.add_error("This message got no answer (the turn did not finish).")
        self.update_actions(True)
        self.scroll_to_end()
