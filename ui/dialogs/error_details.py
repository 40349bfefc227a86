"""A plain-words error with its technical details one click away."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout


class ErrorDetailsDialog(QDialog):
    """Message on top; details hidden until asked for; "Copy details" for a bug report."""

    def __init__(self, title: str, message: str, details: str, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.details_text = details
        box = QVBoxLayout(self)
        self.message = QLabel(message)
        self.message.setTextFormat(Qt.PlainText)
        self.message.setWordWrap(True)
        self.message.setMinimumWidth(420)
        box.addWidget(self.message)
        self.details = QPlainTextEdit(details)
        self.details.setReadOnly(True)
        self.details.setMinimumHeight(180)
        self.details.hide()
        box.addWidget(self.details)
        row = QHBoxLayout()
        self.details_button = QPushButton("Show details")
        self.details_button.setCheckable(True)
        self.details_button.toggled.connect(self._toggle)
        self.copy_button = QPushButton("Copy details")
        self.copy_button.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.details_text))
        self.close_button = QPushButton("Close")
        self.close_button.setDefault(True)
        self.close_button.clicked.connect(self.accept)
        row.addWidget(self.details_button)
        row.addWidget(self.copy_button)
        row.addStretch(1)
        row.addWidget(self.close_button)
        box.addLayout(row)

    def _toggle(self, on: bool) -> None:
        self.details.setVisible(on)
        self.details_button.setText("Hide details" if on else "Show details")
        self.adjustSize()
