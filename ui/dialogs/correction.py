""""Correct this": the answer in an editor; what the user saves becomes the right answer."""

from __future__ import annotations

from typing import Callable

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QVBoxLayout


class CorrectionDialog(QDialog):
    """Prefilled with the answer; Save hands the corrected text to on_save."""

    def __init__(self, answer: str, on_save: Callable[[str], None], parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("correctionDialog")
        self.setWindowTitle("Correct this answer")
        box = QVBoxLayout(self)
        hint = QLabel("Edit the answer into the right one. Biseo keeps it on this computer and learns from it.")
        hint.setWordWrap(True)
        box.addWidget(hint)
        self.editor = QPlainTextEdit(answer)
        self.editor.setMinimumSize(520, 220)
        box.addWidget(self.editor)
        buttons = QDialogButtonBox(QDialogButtonBox.Save | QDialogButtonBox.Cancel)
        self.save_button = buttons.button(QDialogButtonBox.Save)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        box.addWidget(buttons)
        self.accepted.connect(lambda: on_save(self.editor.toPlainText()))
