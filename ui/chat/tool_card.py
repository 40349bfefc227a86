"""A tool call as a collapsible card: tool, arguments, result and time."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPlainTextEdit, QToolButton, QVBoxLayout, QWidget

from ui.chat.code_block import mono_font
from ui.resources import icon

MAX_RESULT_CHARS = 20_000  # a huge tool output is cut in the card (the model got its own limit)


def pretty_json(arguments: Any) -> str:
    try:
        return json.dumps(arguments, indent=2, ensure_ascii=False, sort_keys=False)
    except (TypeError, ValueError):
        return str(arguments)


def _mono_view(text: str, max_lines: int = 10) -> QPlainTextEdit:
    view = QPlainTextEdit(text)
    view.setReadOnly(True)
    view.setFont(mono_font())
    lines = min(max(1, text.count("\n") + 1), max_lines)
    view.setFixedHeight(lines * view.fontMetrics().lineSpacing() + 14)
    return view


class ToolCard(QFrame):
    """Created when the model asks for a tool; updated when approval is pending and when the result comes."""

    def __init__(self, call_id: str, name: str, arguments: dict[str, Any], parent=None,
                 expanded: bool = True) -> None:
        super().__init__(parent)
        self.setObjectName("toolCard")
        self.call_id, self.name, self.arguments = call_id, name, arguments
        self.ok: bool | None = None
        box = QVBoxLayout(self)
        box.setContentsMargins(10, 6, 10, 8)
        box.setSpacing(4)
        head = QHBoxLayout()
        self.toggle = QToolButton()
        self.toggle.setObjectName("actionButton")
        self.toggle.setCheckable(True)
        self.toggle.setToolTip("Show or hide the details")
        self.toggle.toggled.connect(self.set_expanded)
        head.addWidget(self.toggle)
        tool_icon = QLabel()
        tool_icon.setPixmap(icon("tool").pixmap(16, 16))
        head.addWidget(tool_icon)
        self.title = QLabel(name)
        self.title.setObjectName("toolCardTitle")
        self.title.setTextFormat(Qt.PlainText)
        head.addWidget(self.title)
        self.summary = QLabel(_summary(arguments))
        self.summary.setObjectName("toolCardStatus")
        self.summary.setTextFormat(Qt.PlainText)
        head.addWidget(self.summary, 1)
        self.status = QLabel("running…")
        self.status.setObjectName("toolCardStatus")
        head.addWidget(self.status)
        box.addLayout(head)
        self.details = QWidget()
        details = QVBoxLayout(self.details)
        details.setContentsMargins(22, 0, 0, 0)
        details.setSpacing(3)
        label = QLabel("Arguments")
        label.setObjectName("sectionLabel")
        details.addWidget(label)
        self.arguments_view = _mono_view(pretty_json(arguments), 8)
        details.addWidget(self.arguments_view)
        self.result_label = QLabel("Result")
        self.result_label.setObjectName("sectionLabel")
        self.result_view = _mono_view("", 8)
        self.result_label.hide()
        self.result_view.hide()
        details.addWidget(self.result_label)
        details.addWidget(self.result_view)
        box.addWidget(self.details)
        self.toggle.setChecked(expanded)
        self.set_expanded(expanded)

    @property
    def expanded(self) -> bool:
        return self.details.isVisibleTo(self)

    def set_expanded(self, expanded: bool) -> None:
        self.details.setVisible(expanded)
        self.toggle.setIcon(icon("chevron-down" if expanded else "chevron-right"))
        if self.toggle.isChecked() != expanded:
            self.toggle.setChecked(expanded)

    def set_waiting(self) -> None:
        self.status.setText("waiting for your OK…")

    def set_result(self, ok: bool, output: str, duration_s: float = 0.0, denied: bool = False) -> None:
        self.ok = ok
        text = output if len(output) <= MAX_RESULT_CHARS else output[:MAX_RESULT_CHARS] + "\n… (cut)"
        self.result_view.setPlainText(text)
        lines = min(max(1, text.count("\n") + 1), 8)
        self.result_view.setFixedHeight(lines * self.result_view.fontMetrics().lineSpacing() + 14)
        self.result_label.show()
        self.result_view.show()
        state = "denied" if denied else ("done" if ok else "failed")
        self.status.setText(f"{state} · {duration_s:.2f} s" if duration_s else state)

    @property
    def result_text(self) -> str:
        return self.result_view.toPlainText()


def _summary(arguments: dict[str, Any]) -> str:
    parts = [f"{k}={v!r}" if not isinstance(v, str) else f"{k}={v}" for k, v in (arguments or {}).items()]
    text = ", ".join(parts)
    return text if len(text) <= 60 else text[:57] + "…"
