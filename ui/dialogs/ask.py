"""Small non-blocking questions (a name, a yes/no): the event loop keeps running while they are open."""

from __future__ import annotations

from typing import Callable

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QLineEdit, QPushButton, QVBoxLayout


class TextQuestion(QDialog):
    """One line of text, OK/Cancel."""

    def __init__(self, title: str, label: str, text: str, on_ok: Callable[[str], None], parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("textQuestion")
        self.setWindowTitle(title)
        box = QVBoxLayout(self)
        box.addWidget(QLabel(label))
        self.edit = QLineEdit(text)
        self.edit.selectAll()
        self.edit.setMinimumWidth(320)
        box.addWidget(self.edit)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        box.addWidget(buttons)
        self.accepted.connect(lambda: on_ok(self.edit.text()))


class Confirm(QDialog):
    """A yes/no question whose safe answer (Cancel) is the default."""

    def __init__(self, title: str, text: str, yes_text: str, on_yes: Callable[[], None], parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("confirmDialog")
        self.setWindowTitle(title)
        box = QVBoxLayout(self)
        label = QLabel(text)
        label.setWordWrap(True)
        box.addWidget(label)
        buttons = QDialogButtonBox()
        self.yes_button = QPushButton(yes_text)
        self.yes_button.setObjectName("dangerButton")
        self.yes_button.setAutoDefault(False)
        self.cancel_button = buttons.addButton(QDialogButtonBox.Cancel)
        self.cancel_button.setDefault(True)
        buttons.addButton(self.yes_button, QDialogButtonBox.AcceptRole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        box.addWidget(buttons)
        self.accepted.connect(on_yes)


def ask_text(parent, title: str, label: str, text: str, on_ok: Callable[[str], None]) -> TextQuestion:
    dialog = TextQuestion(title, label, text, on_ok, parent)
    dialog.open()
    return dialog


def confirm(parent, title: str, text: str, yes_text: str, on_yes: Callable[[], None]) -> Confirm:
    dialog = Confirm(title, text, yes_text, on_yes, parent)
    dialog.open()
    return dialog
