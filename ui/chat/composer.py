"""Where the user types: Enter sends, Shift+Enter adds a line; the Send button becomes Stop while answering."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QPlainTextEdit, QToolButton, QVBoxLayout, QWidget

from ui.resources import icon


class _Input(QPlainTextEdit):
    submit = Signal()

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if event.key() in (Qt.Key_Return, Qt.Key_Enter) and not event.modifiers() & Qt.ShiftModifier:
            self.submit.emit()
            return
        super().keyPressEvent(event)


class Composer(QWidget):
    """The input box and the Send/Stop button; extra widgets (the voice bar) sit beside them."""

    send = Signal(str)
    stop = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("composer")
        outer = QVBoxLayout(self)
        outer.setContentsMargins(16, 10, 16, 12)
        self.row = QHBoxLayout()
        self.row.setSpacing(8)
        self.input = _Input()
        self.input.setObjectName("composerBox")
        self.input.setPlaceholderText("Ask anything… (Enter to send, Shift+Enter for a new line)")
        self.input.setTabChangesFocus(True)
        self.input.submit.connect(self._submit)
        self.input.textChanged.connect(self._grow)
        self.row.addWidget(self.input, 1)
        self.button = QToolButton()
        self.button.setObjectName("sendButton")
        self.button.clicked.connect(self._clicked)
        self.row.addWidget(self.button, 0, Qt.AlignBottom)
        outer.addLayout(self.row)
        self.running = False
        self.ready = False
        self._update()
        self._grow()

    def set_running(self, running: bool) -> None:
        self.running = running
        self._update()

    def set_ready(self, ready: bool) -> None:
        self.ready = ready
        self._update()

    def _update(self) -> None:
        self.button.setProperty("running", self.running)
        self.button.setIcon(icon("stop" if self.running else "send"))
        self.button.setToolTip("Stop the answer (Esc)" if self.running else "Send (Enter)")
        self.button.setAccessibleName("Stop" if self.running else "Send")
        self.button.setEnabled(self.running or self.ready)
        self.button.style().unpolish(self.button)
        self.button.style().polish(self.button)

    def _grow(self) -> None:
        """One line when empty, growing with the text up to six lines (then it scrolls)."""
        lines = max(1, int(self.input.document().size().height()))
        self.input.setVerticalScrollBarPolicy(Qt.ScrollBarAsNeeded if lines > 6 else Qt.ScrollBarAlwaysOff)
        margins = self.input.contentsMargins()
        frame = 2 * int(self.input.document().documentMargin()) + margins.top() + margins.bottom()
        self.input.setFixedHeight(min(lines, 6) * self.input.fontMetrics().lineSpacing() + frame + 16)

    def _clicked(self) -> None:
        if self.running:
            self.stop.emit()
        else:
            self._submit()

    def _submit(self) -> None:
        text = self.input.toPlainText().strip()
        if not text or self.running or not self.ready:
            return
        self.input.clear()
        self.send.emit(text)
