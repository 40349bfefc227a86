"""A code block: monospace, read-only, with a Copy button."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPlainTextEdit, QToolButton, QVBoxLayout

from ui.resources import icon


def mono_font():
    font = QFontDatabase.systemFont(QFontDatabase.FixedFont)
    font.setPointSizeF(max(font.pointSizeF(), 9.5))
    return font


class CodeBlock(QFrame):
    """Code from a message, shown as plain text (never interpreted) with a Copy button."""

    def __init__(self, code: str, language: str = "", parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("codeBlock")
        self.code = code
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 6)
        layout.setSpacing(2)
        top = QHBoxLayout()
        lang = QLabel(language or "code")
        lang.setObjectName("codeLanguage")
        top.addWidget(lang)
        top.addStretch(1)
        self.copy_button = QToolButton()
        self.copy_button.setObjectName("actionButton")
        self.copy_button.setIcon(icon("copy"))
        self.copy_button.setText("Copy")
        self.copy_button.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        self.copy_button.setToolTip("Copy this code")
        self.copy_button.clicked.connect(self.copy)
        top.addWidget(self.copy_button)
        layout.addLayout(top)
        self.view = QPlainTextEdit(code)
        self.view.setReadOnly(True)
        self.view.setFont(mono_font())
        self.view.setLineWrapMode(QPlainTextEdit.NoWrap)
        self.view.setFrameShape(QFrame.NoFrame)
        self.view.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        lines = max(1, code.count("\n") + 1)
        metrics = self.view.fontMetrics()
        self.view.setFixedHeight(min(lines, 30) * metrics.lineSpacing() + 16)
        layout.addWidget(self.view)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.code)
        self.copy_button.setText("Copied")
