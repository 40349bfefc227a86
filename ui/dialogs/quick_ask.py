"""Quick ask (from the tray): one question, in the current or a new conversation, answer shown right there."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QDialog, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout

from assistant.events import ApprovalRequested, ErrorEvent, Final, Token, ToolCallRequested
from ui.chat.rich_text import SafeBrowser
from ui.dialogs.approval import ApprovalDialog
from ui.workers import TurnWorker


class QuickAskDialog(QDialog):
    """A small always-on-top box: type, Enter, read the streamed answer."""

    answered = Signal(str)  # conversation id

    def __init__(self, services, current_conversation=lambda: None, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("quickAsk")
        self.setWindowTitle("Quick ask — Biseo")
        self.setWindowFlag(Qt.WindowStaysOnTopHint, True)
        self.services = services
        self.current_conversation = current_conversation
        self.worker: TurnWorker | None = None
        self.approval: ApprovalDialog | None = None
        self.cid: str | None = None
        box = QVBoxLayout(self)
        row = QHBoxLayout()
        self.input = QLineEdit()
        self.input.setPlaceholderText("Ask Biseo…")
        self.input.setMinimumWidth(420)
        self.input.returnPressed.connect(self.ask)
        row.addWidget(self.input, 1)
        self.ask_button = QPushButton("Ask")
        self.ask_button.setObjectName("primaryButton")
        self.ask_button.clicked.connect(self.ask)
        row.addWidget(self.ask_button)
        box.addLayout(row)
        self.new_conversation = QCheckBox("In a new conversation")
        self.new_conversation.setChecked(current_conversation() is None)
        box.addWidget(self.new_conversation)
        self.status = QLabel("")
        self.status.setObjectName("roleLabel")
        box.addWidget(self.status)
        self.answer = SafeBrowser(fit_height=False)
        self.answer.setMinimumHeight(160)
        self.answer.link_clicked.connect(services.open_url)
        box.addWidget(self.answer, 1)

    def ask(self) -> None:
        text = self.input.text().strip()
        assistant = self.services.assistant
        if not text or self.worker is not None:
            return
        if assistant is None:
            self.status.setText("Biseo is still starting; try again in a moment.")
            return
        cid = None if self.new_conversation.isChecked() else self.current_conversation()
        self.cid = cid or assistant.new_conversation()
        self.answer.clear()
        self.status.setText("Thinking…")
        self.ask_button.setEnabled(False)
        cid = self.cid
        self.worker = TurnWorker(lambda cancel: assistant.chat(text, cid, cancel=cancel), parent=self)
        self.worker.event.connect(self._on_event)
        self.worker.crashed.connect(lambda message, _details: self.status.setText(message))
        self.worker.finished.connect(self._finished)
        self.worker.start(self.services.pool)

    def _on_event(self, event) -> None:
        if isinstance(event, Token):
            self.answer.append_plain(event.text)
        elif isinstance(event, ToolCallRequested):
            self.status.setText(f"Using {event.name}…")
        elif isinstance(event, ApprovalRequested):
            self.approval = ApprovalDialog(event, self)
            self.approval.open()
        elif isinstance(event, Final):
            self.answer.set_markdown(event.text)
            self.status.setText("")
        elif isinstance(event, ErrorEvent):
            self.status.setText(event.message)

    def _finished(self) -> None:
        self.worker = None
        self.ask_button.setEnabled(True)
        if self.cid:
            self.answered.emit(self.cid)

    def reject(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        super().reject()
