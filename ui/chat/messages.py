"""One widget per message: the user's, the assistant's (streamed, then Markdown), and error bubbles."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (QFrame, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QSizePolicy,
                               QToolButton, QVBoxLayout, QWidget)

from ui.chat.citations import CitationChips
from ui.chat.code_block import CodeBlock
from ui.chat.markdown import segments
from ui.chat.rich_text import SafeBrowser
from ui.resources import icon


def action_button(icon_name: str, tip: str, text: str = "", checkable: bool = False) -> QToolButton:
    button = QToolButton()
    button.setObjectName("actionButton")
    button.setIcon(icon(icon_name))
    button.setToolTip(tip)
    button.setAccessibleName(tip)
    button.setCheckable(checkable)
    button.setAutoRaise(True)
    if text:
        button.setText(text)
        button.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
    return button


class MessageBody(QWidget):
    """Streams plain text; when finished it is re-rendered once as safe Markdown with code blocks."""

    link_clicked = Signal(QUrl)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(6)
        self.text = ""
        self.browsers: list[SafeBrowser] = []
        self.code_blocks: list[CodeBlock] = []
        self._stream = self._add_browser()

    def _add_browser(self) -> SafeBrowser:
        browser = SafeBrowser(self)
        browser.link_clicked.connect(self.link_clicked)
        self._layout.addWidget(browser)
        browser.show()  # now, not on the next event-loop pass
        self.browsers.append(browser)
        return browser

    def append(self, piece: str) -> None:
        self.text += piece
        self._stream.append_plain(piece)

    def set_plain(self, text: str) -> None:
        self.text = text
        self._stream.setPlainText(text)

    def render_markdown(self, text: str | None = None) -> None:
        """Replace the streamed text with its Markdown rendering (once per message, not per token)."""
        if text is not None:
            self.text = text
        for widget in self.browsers + self.code_blocks:
            widget.setParent(None)
            widget.deleteLater()
        self.browsers, self.code_blocks = [], []
        for segment in segments(self.text) or []:
            if segment.kind == "code":
                block = CodeBlock(segment.text, segment.language, self)
                self._layout.addWidget(block)
                block.show()
                self.code_blocks.append(block)
            else:
                self._add_browser().set_safe_html(segment.text)
        if not self.browsers and not self.code_blocks:
            self._add_browser()
        self._stream = self.browsers[-1] if self.browsers else self._add_browser()

    def plain_text(self) -> str:
        """What the user sees, as plain text (for tests and accessibility)."""
        parts = []
        for i in range(self._layout.count()):
            widget = self._layout.itemAt(i).widget()
            if isinstance(widget, SafeBrowser):
                parts.append(widget.toPlainText())
            elif isinstance(widget, CodeBlock):
                parts.append(widget.code)
        return "\n".join(parts)


class _Bubble(QFrame):
    def __init__(self, object_name: str, role: str, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName(object_name)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Maximum)
        self.box = QVBoxLayout(self)
        self.box.setContentsMargins(14, 10, 14, 8)
        self.box.setSpacing(6)
        label = QLabel(role)
        label.setObjectName("roleLabel")
        self.box.addWidget(label)
        self.actions = QHBoxLayout()
        self.actions.setSpacing(2)

    def _finish_actions(self) -> None:
        self.actions.addStretch(1)
        self.box.addLayout(self.actions)


class UserMessage(_Bubble):
    """The user's words, shown exactly as typed; Copy and Edit (edit-and-resend)."""

    edit_submitted = Signal(str, str)  # message_id, new text

    def __init__(self, text: str, message_id: str | None = None, parent=None) -> None:
        super().__init__("userMessage", "You", parent)
        self.message_id = message_id
        self.body = SafeBrowser(self)
        self.body.setPlainText(text)
        self.box.addWidget(self.body)
        self.editor = QPlainTextEdit(self)
        self.editor.hide()
        self.editor.setMaximumHeight(140)
        self.box.addWidget(self.editor)
        self.copy_button = action_button("copy", "Copy message")
        self.copy_button.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.text))
        self.edit_button = action_button("edit", "Edit and send again")
        self.edit_button.clicked.connect(self.start_edit)
        self.save_button = QPushButton("Send edited")
        self.save_button.setObjectName("primaryButton")
        self.cancel_button = QPushButton("Cancel")
        for button in (self.save_button, self.cancel_button):
            button.hide()
        self.save_button.clicked.connect(self._submit)
        self.cancel_button.clicked.connect(self._stop_edit)
        for widget in (self.copy_button, self.edit_button):
            self.actions.addWidget(widget)
        self._finish_actions()
        self.actions.insertWidget(self.actions.count() - 1, self.cancel_button)
        self.actions.insertWidget(self.actions.count() - 1, self.save_button)

    @property
    def text(self) -> str:
        return self.body.toPlainText()

    def set_editable(self, editable: bool) -> None:
        self.edit_button.setEnabled(editable and self.message_id is not None)

    def start_edit(self) -> None:
        self.editor.setPlainText(self.text)
        for widget in (self.editor, self.save_button, self.cancel_button):
            widget.show()
        self.body.hide()
        self.editor.setFocus()

    def _stop_edit(self) -> None:
        for widget in (self.editor, self.save_button, self.cancel_button):
            widget.hide()
        self.body.show()

    def _submit(self) -> None:
        new_text = self.editor.toPlainText().strip()
        self._stop_edit()
        if new_text and self.message_id:
            self.body.setPlainText(new_text)
            self.edit_submitted.emit(self.message_id, new_text)


class AssistantMessage(_Bubble):
    """The answer: streamed, then Markdown; citations; copy, thumbs, "Correct this", regenerate."""

    rated = Signal(str, int)  # message_id, +1 / -1 / 0 (cleared)
    correct_requested = Signal(str, str)  # message_id, current text
    regenerate_requested = Signal()
    citation_clicked = Signal(dict)
    link_clicked = Signal(QUrl)

    def __init__(self, parent=None) -> None:
        super().__init__("assistantMessage", "Biseo", parent)
        self.message_id: str | None = None
        self.citations: list[dict[str, Any]] = []
        self.rating = 0
        self.thinking = QLabel("Thinking…")
        self.thinking.setObjectName("thinking")
        self.box.addWidget(self.thinking)
        self.body = MessageBody(self)
        self.body.link_clicked.connect(self.link_clicked)
        self.body.hide()
        self.box.addWidget(self.body)
        self.note = QLabel()
        self.note.setObjectName("messageNote")
        self.note.hide()
        self.box.addWidget(self.note)
        self.chips: CitationChips | None = None
        self.copy_button = action_button("copy", "Copy answer")
        self.copy_button.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.body.text))
        self.up_button = action_button("thumb-up", "Good answer", checkable=True)
        self.down_button = action_button("thumb-down", "Bad answer", checkable=True)
        self.up_button.clicked.connect(lambda: self._rate(1))
        self.down_button.clicked.connect(lambda: self._rate(-1))
        self.correct_button = action_button("correct", "Correct this answer", "Correct this")
        self.correct_button.clicked.connect(lambda: self.correct_requested.emit(self.message_id or "", self.body.text))
        self.regenerate_button = action_button("regenerate", "Answer again", "Regenerate")
        self.regenerate_button.clicked.connect(self.regenerate_requested)
        self.regenerate_button.hide()
        for widget in (self.copy_button, self.up_button, self.down_button, self.correct_button,
                       self.regenerate_button):
            self.actions.addWidget(widget)
        self._finish_actions()
        self._set_actions_visible(False)

    def _set_actions_visible(self, visible: bool) -> None:
        for widget in (self.copy_button, self.up_button, self.down_button, self.correct_button):
            widget.setVisible(visible)

    def set_status(self, text: str) -> None:
        self.thinking.setText(text)

    def append(self, piece: str) -> None:
        if self.thinking.isVisible() or not self.body.isVisible():
            self.thinking.hide()
            self.body.show()
        self.body.append(piece)

    @property
    def text(self) -> str:
        return self.body.text

    def finish(self, text: str, message_id: str | None, citations: list[dict[str, Any]] | None = None,
               cancelled: bool = False, note: str = "") -> None:
        """The turn ended: render Markdown once, show citations and the feedback buttons."""
        self.thinking.hide()
        self.body.show()
        self.message_id = message_id
        self.body.render_markdown(text if text else self.body.text)
        if cancelled or note:
            self.note.setText(note or "Stopped.")
            self.note.show()
        if citations:
            self.citations = list(citations)
            self.chips = CitationChips(self.citations, self)
            self.chips.clicked.connect(self.citation_clicked)
            self.box.insertWidget(self.box.indexOf(self.note) + 1, self.chips)
            self.chips.show()
        self._set_actions_visible(bool(message_id))
        if not self.body.text:
            self.correct_button.setVisible(False)

    def set_rating(self, rating: int) -> None:
        """Show the stored state: a filled thumb for the chosen one."""
        self.rating = rating
        self.up_button.setChecked(rating > 0)
        self.down_button.setChecked(rating < 0)
        self.up_button.setIcon(icon("thumb-up-filled" if rating > 0 else "thumb-up"))
        self.down_button.setIcon(icon("thumb-down-filled" if rating < 0 else "thumb-down"))

    def _rate(self, value: int) -> None:
        new = 0 if self.rating == value else value  # clicking the chosen thumb again clears it
        self.set_rating(new)
        if self.message_id:
            self.rated.emit(self.message_id, new)

    def set_regenerate_visible(self, visible: bool) -> None:
        self.regenerate_button.setVisible(visible and bool(self.message_id))


class ErrorMessage(_Bubble):
    """A turn that failed, in plain words, with the details on demand."""

    def __init__(self, message: str, details: str = "", parent=None) -> None:
        super().__init__("errorMessage", "Something went wrong", parent)
        self.message = message
        text = QLabel(message)
        text.setObjectName("errorText")
        text.setTextFormat(Qt.PlainText)
        text.setWordWrap(True)
        text.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.box.addWidget(text)
        self.details = QPlainTextEdit(details or message)
        self.details.setReadOnly(True)
        self.details.setMaximumHeight(120)
        self.details.hide()
        self.box.addWidget(self.details)
        self.details_button = QPushButton("Details")
        self.details_button.setCheckable(True)
        self.details_button.toggled.connect(self.details.setVisible)
        self.actions.addWidget(self.details_button)
        self._finish_actions()


def flash(button: QToolButton, text: str, ms: int = 1200) -> None:
    """Briefly change a button's tooltip-free label (e.g. "Copied")."""
    old = button.text()
    button.setText(text)
    QTimer.singleShot(ms, lambda: button.setText(old))
