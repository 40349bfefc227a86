"""A small before/after bar chart of an adapter's evaluation, drawn with QPainter (no chart library)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

BEFORE = QColor("#9aa5b1")  # the base model: neutral grey
BETTER = QColor("#2e7d32")
WORSE = QColor("#c62828")
SAME = QColor("#5b7fa6")


@dataclass
class Metric:
    """One measure compared before and after the adapter (None: not measured)."""

    label: str
    before: float | None
    after: float | None
    lower_is_better: bool = False
    percent: bool = False
    before_detail: str = ""  # e.g. "3 of 5", shown after the number
    after_detail: str = ""

    def text(self, value: float | None) -> str:
        if value is None:
            return "n/a"
        return f"{value:.0%}" if self.percent else f"{value:.2f}"

    @property
    def change(self) -> str:
        """'better', 'worse' or 'same' (or '' when a side is missing), in the metric's own direction."""
        if self.before is None or self.after is None:
            return ""
        if abs(self.after - self.before) <= 1e-3 * max(abs(self.before), 1e-9):
            return "same"
        improved = self.after < self.before if self.lower_is_better else self.after > self.before
        return "better" if improved else "worse"


def _fraction(correct: Any, total: Any) -> str:
    return f"{correct} of {total}" if isinstance(total, int) and total else ""


def metrics_from(evaluation: dict[str, Any] | None) -> list[Metric]:
    """The chart's three measures from a version's meta["evaluation"] (empty when it was not evaluated)."""
    evaluation = evaluation or {}
    before, after = evaluation.get("before") or {}, evaluation.get("after") or {}
    if not before and not after:
        return []

    def pair(key: str) -> tuple[Any, Any]:
        return before.get(key), after.get(key)

    ppl = pair("perplexity")
    if ppl == (None, None):  # document-only data has text perplexity instead of reply perplexity
        ppl = pair("text_perplexity")
    return [
        Metric("Held-out perplexity (lower is better)", *ppl, lower_is_better=True),
        Metric("Personal questions answered right", *pair("personal_accuracy"), percent=True,
               before_detail=_fraction(before.get("personal_correct"), before.get("personal_total")),
               after_detail=_fraction(after.get("personal_correct"), after.get("personal_total"))),
        Metric("General sanity questions answered right", *pair("sanity_accuracy"), percent=True,
               before_detail=_fraction(before.get("sanity_correct"), before.get("sanity_total")),
               after_detail=_fraction(after.get("sanity_correct"), after.get("sanity_total"))),
    ]


class BeforeAfterChart(QWidget):
    """Per measure: a grey 'before' bar and a coloured 'after' bar (green better, red worse), with numbers."""

    ROW = 52  # pixels per measure: its label and two bars

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("adapterChart")
        self.metrics: list[Metric] = []
        self.empty_text = "Not evaluated."
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.setMinimumWidth(340)
        self.setFixedHeight(self._height())

    def set_metrics(self, metrics: list[Metric], empty_text: str = "Not evaluated.") -> None:
        self.metrics = list(metrics)
        self.empty_text = empty_text
        self.setFixedHeight(self._height())
        self.update()

    def _height(self) -> int:
        return 24 + self.ROW * max(len(self.metrics), 1) + (20 if self.metrics else 0)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(380, self._height())

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt's name
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        p.fillRect(self.rect(), QColor("#ffffff"))
        p.setPen(QPen(QColor("#d0d7de")))
        p.drawRect(self.rect().adjusted(0, 0, -1, -1))
        font = QFont(self.font())
        metrics = QFontMetrics(font)
        if not self.metrics:
            p.setPen(QColor("#666666"))
            p.drawText(self.rect(), Qt.AlignCenter | Qt.TextWordWrap, self.empty_text)
            p.end()
            return
        pad = 10
        name_w = max(metrics.horizontalAdvance("Before"), metrics.horizontalAdvance("After")) + 8
        number_w = metrics.horizontalAdvance("100% (10 of 10)") + 10
        bar_x = pad + name_w
        bar_w = max(40, self.width() - bar_x - number_w - pad)
        y = pad
        bold = QFont(font)
        bold.setBold(True)
        for m in self.metrics:
            p.setFont(bold)
            p.setPen(QColor("#222222"))
            p.drawText(QRectF(pad, y, self.width() - 2 * pad, 16), Qt.AlignLeft | Qt.AlignVCenter, m.label)
            p.setFont(font)
            top = max(v for v in (m.before, m.after, 1.0 if m.percent else 0.0) if v is not None) or 1.0
            colour = {"better": BETTER, "worse": WORSE}.get(m.change, SAME)
            sides = (("Before", m.before, BEFORE, m.before_detail), ("After", m.after, colour, m.after_detail))
            for i, (name, value, fill, detail) in enumerate(sides):
                row_y = y + 18 + i * 15
                p.setPen(QColor("#444444"))
                p.drawText(QRectF(pad, row_y, name_w, 13), Qt.AlignLeft | Qt.AlignVCenter, name)
                p.fillRect(QRectF(bar_x, row_y + 1, bar_w, 11), QColor("#f0f2f4"))
                if value is not None:
                    length = bar_w * max(0.0, min(value / top, 1.0))
                    p.fillRect(QRectF(bar_x, row_y + 1, max(length, 1.0), 11), fill)
                label = m.text(value) + (f" ({detail})" if detail and value is not None else "")
                p.setPen(QColor("#222222"))
                p.drawText(QRectF(bar_x + bar_w + 6, row_y, number_w, 13), Qt.AlignLeft | Qt.AlignVCenter, label)
            y += self.ROW
        # a legend for the colours of the 'after' bars
        p.setPen(QColor("#555555"))
        x = pad
        for text, colour in (("before", BEFORE), ("after: better", BETTER), ("worse", WORSE), ("no change", SAME)):
            p.fillRect(QRectF(x, y + 3, 10, 10), colour)
            p.drawText(QRectF(x + 14, y, 200, 16), Qt.AlignLeft | Qt.AlignVCenter, text)
            x += 14 + metrics.horizontalAdvance(text) + 14
        p.end()
