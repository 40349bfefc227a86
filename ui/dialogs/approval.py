"""Asks the user before a tool with side effects runs; shows the exact arguments the app will use."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout

from ui.chat.code_block import mono_font
from ui.chat.tool_card import pretty_json


class ApprovalDialog(QDialog):
    """"Allow once" or "Deny"; Deny is the default, Esc and closing the window deny."""

    decided = Signal(bool)

    def __init__(self, request, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("approvalDialog")
        self.request = request
        self.answered = False
        self.setWindowTitle(f"Allow {request.name}?")
        self.setModal(True)
        box = QVBoxLayout(self)
        box.setSpacing(8)
        title = QLabel(f"Biseo wants to run the tool “{request.name}”.")
        title.setTextFormat(Qt.PlainText)
        title.setStyleSheet("font-weight: 600; font-size: 11pt;")
        box.addWidget(title)
        description = QLabel(request.description or "")
        description.setTextFormat(Qt.PlainText)
        description.setWordWrap(True)
        box.addWidget(description)
        self.permissions = QLabel(permissions_text(request))
        self.permissions.setTextFormat(Qt.PlainText)
        self.permissions.setWordWrap(True)
        self.permissions.setObjectName("roleLabel")
        box.addWidget(self.permissions)
        label = QLabel("With exactly these arguments:")
        label.setObjectName("sectionLabel")
        box.addWidget(label)
        self.arguments_view = QPlainTextEdit(pretty_json(request.arguments))
        self.arguments_view.setReadOnly(True)
        self.arguments_view.setFont(mono_font())
        self.arguments_view.setMinimumSize(460, 140)
        box.addWidget(self.arguments_view)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.deny_button = QPushButton("Deny")
        self.allow_button = QPushButton("Allow once")
        self.allow_button.setObjectName("primaryButton")
        self.allow_button.setAutoDefault(False)
        self.deny_button.setAutoDefault(True)
        self.deny_button.setDefault(True)
        buttons.addWidget(self.deny_button)
        buttons.addWidget(self.allow_button)
        box.addLayout(buttons)
        self.deny_button.clicked.connect(self.reject)
        self.allow_button.clicked.connect(self.accept)
        self.deny_button.setFocus()

    def accept(self) -> None:
        self._answer(True)
        super().accept()

    def reject(self) -> None:  # Esc, the Deny button and closing the window all land here
        self._answer(False)
        super().reject()

    def _answer(self, ok: bool) -> None:
        if self.answered:
            return
        self.answered = True
        if ok:
            self.request.approve()
        else:
            self.request.deny("the user said no")
        self.decided.emit(ok)


def permissions_text(request) -> str:
    """What the tool may touch, in words."""
    parts = ["changes things outside the chat" if getattr(request, "side_effects", True) else "read-only"]
    parts.append("uses the network" if getattr(request, "network", False) else "no network")
    files = getattr(request, "files", None)
    if files and files != "none":
        parts.append(f"files: {files}")
    return "Permissions: " + ", ".join(parts) + "."
