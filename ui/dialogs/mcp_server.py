"""Add an MCP server: a name, a program to start (stdio) or a URL (streamable HTTP), and its environment."""

from __future__ import annotations

import shlex
from typing import Any, Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)


def parse_env(text: str) -> dict[str, str]:
    """KEY=VALUE lines (blank lines and # comments skipped); ValueError names the first line that is not one."""
    env: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip() or any(ch.isspace() for ch in key.strip()):
            raise ValueError(f"environment line {number} ({line!r}) is not KEY=VALUE")
        env[key.strip()] = value.strip()
    return env


class McpServerDialog(QDialog):
    """OK hands the fields to `save` (which writes config.toml); its error is shown here and the dialog stays."""

    def __init__(self, save: Callable[..., Any], parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("mcpServerDialog")
        self.setWindowTitle("Add MCP server")
        self.save = save
        self.saved: Any = None  # what `save` returned (the server's settings), once OK worked
        box = QVBoxLayout(self)
        intro = QLabel("An MCP server gives Biseo more tools. Its tools run in the server's own process and ask "
                       "you before each use until you mark one read-only.")
        intro.setWordWrap(True)
        box.addWidget(intro)
        form = QFormLayout()
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("e.g. time (lower-case letters, digits, - or _)")
        form.addRow("Name:", self.name_edit)
        box.addLayout(form)

        self.stdio_radio = QRadioButton("Start a program (stdio)")
        self.http_radio = QRadioButton("Connect to a URL (streamable HTTP)")
        group = QButtonGroup(self)
        group.addButton(self.stdio_radio)
        group.addButton(self.http_radio)
        self.stdio_radio.setChecked(True)
        box.addWidget(self.stdio_radio)
        self.command_edit = QLineEdit()
        self.command_edit.setPlaceholderText("command line, e.g. uvx mcp-server-time --local-timezone UTC")
        box.addWidget(indented(self.command_edit))
        box.addWidget(self.http_radio)
        self.url_edit = QLineEdit()
        self.url_edit.setPlaceholderText("e.g. http://127.0.0.1:8000/mcp")
        box.addWidget(indented(self.url_edit))
        self.stdio_radio.toggled.connect(self._kind_changed)
        self._kind_changed()

        env_label = QLabel("Environment (optional), one KEY=VALUE a line:")
        box.addWidget(env_label)
        self.env_edit = QPlainTextEdit()
        self.env_edit.setPlaceholderText("API_KEY=…")
        self.env_edit.setFixedHeight(64)
        box.addWidget(self.env_edit)

        self.error_label = QLabel()
        self.error_label.setObjectName("dialogError")
        self.error_label.setWordWrap(True)
        self.error_label.setTextFormat(Qt.PlainText)
        self.error_label.setStyleSheet("#dialogError { color: #b3261e; }")
        self.error_label.hide()
        box.addWidget(self.error_label)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.ok_button = buttons.button(QDialogButtonBox.Ok)
        self.ok_button.setText("Add")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        box.addWidget(buttons)
        self.setMinimumWidth(520)

    @property
    def name(self) -> str:
        return self.name_edit.text().strip()

    def _kind_changed(self) -> None:
        stdio = self.stdio_radio.isChecked()
        self.command_edit.setEnabled(stdio)
        self.url_edit.setEnabled(not stdio)

    def show_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.setVisible(bool(text))

    def fields(self) -> dict[str, Any]:
        """The keyword arguments for `save`; ValueError when the command line or the environment does not parse."""
        command, args, url = "", [], ""
        if self.stdio_radio.isChecked():
            try:
                words = shlex.split(self.command_edit.text())
            except ValueError as exc:  # e.g. an unclosed quote
                raise ValueError(f"the command line does not parse: {exc}") from None
            command, args = (words[0], words[1:]) if words else ("", [])
        else:
            url = self.url_edit.text().strip()
        return {"command": command, "args": args, "url": url, "env": parse_env(self.env_edit.toPlainText())}

    def accept(self) -> None:
        """Save, then close; a problem is said in the dialog, which stays open to fix it."""
        try:
            self.saved = self.save(self.name, **self.fields())
        except (ValueError, OSError) as exc:  # McpConfigError is a ValueError; OSError: config.toml not writable
            message = str(exc).strip() or type(exc).__name__
            self.show_error(message[:1].upper() + message[1:])
            return
        self.show_error("")
        super().accept()


def indented(widget: QWidget) -> QWidget:
    """The field under its radio button, indented so it reads as belonging to it."""
    holder = QWidget()
    row = QHBoxLayout(holder)
    row.setContentsMargins(24, 0, 0, 0)
    row.addWidget(widget)
    return holder
