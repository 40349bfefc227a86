"""Citation chips under an answer ("[1] report.pdf p.3") and the passage dialog they open."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton,
                               QVBoxLayout, QWidget)


def chip_label(citation: dict[str, Any]) -> str:
    """"[1] file p.3" (the section when there is no page)."""
    name = citation.get("file") or Path(str(citation.get("source") or "")).name or "source"
    where = ""
    if citation.get("page"):
        where = f" p.{citation['page']}"
    elif citation.get("section"):
        section = str(citation["section"])
        where = f" · {section[:30]}{'…' if len(section) > 30 else ''}"
    return f"[{citation.get('n', '?')}] {name}{where}"


class CitationChips(QWidget):
    """A row of clickable chips, one per cited passage."""

    clicked = Signal(dict)

    def __init__(self, citations: list[dict[str, Any]], parent=None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        label = QLabel("Sources:")
        label.setObjectName("roleLabel")
        layout.addWidget(label)
        self.chips: list[QPushButton] = []
        for citation in citations:
            chip = QPushButton(chip_label(citation))
            chip.setObjectName("citationChip")
            chip.setCursor(Qt.PointingHandCursor)
            chip.setToolTip(str(citation.get("source") or citation.get("file") or ""))
            chip.clicked.connect(lambda _=False, c=citation: self.clicked.emit(c))
            layout.addWidget(chip)
            self.chips.append(chip)
        layout.addStretch(1)


class PassageDialog(QDialog):
    """The cited passage as plain text, with a button that opens the file at the cited page."""

    def __init__(self, citation: dict[str, Any], open_path: Callable[[str, int | None], bool],
                 parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("passageDialog")
        self.setWindowTitle(chip_label(citation))
        self.citation = citation
        self._open_path = open_path
        layout = QVBoxLayout(self)
        source = QLabel(str(citation.get("source") or citation.get("file") or ""))
        source.setTextFormat(Qt.PlainText)
        source.setWordWrap(True)
        source.setObjectName("roleLabel")
        layout.addWidget(source)
        self.passage = QPlainTextEdit(str(citation.get("snippet") or "(no passage stored)"))
        self.passage.setReadOnly(True)
        self.passage.setMinimumSize(440, 160)
        layout.addWidget(self.passage)
        buttons = QDialogButtonBox()
        self.open_button = QPushButton("Open file" + (f" at page {citation['page']}" if citation.get("page") else ""))
        self.open_button.setEnabled(bool(citation.get("source")))
        self.open_button.clicked.connect(self._open)
        buttons.addButton(self.open_button, QDialogButtonBox.ActionRole)
        close = buttons.addButton(QDialogButtonBox.Close)
        close.clicked.connect(self.accept)
        layout.addWidget(buttons)

    def _open(self) -> None:
        page = self.citation.get("page")
        self._open_path(str(self.citation.get("source")), int(page) if page else None)
