"""A read-only text view for untrusted text: never loads a resource, links only reported after a click."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, QUrl, Signal
from PySide6.QtGui import QTextCursor, QTextDocument
from PySide6.QtWidgets import QFrame, QSizePolicy, QTextBrowser

from ui.chat.markdown import DEFAULT_CSS, is_safe_url, to_html


class SafeDocument(QTextDocument):
    """A document that refuses every resource (images, stylesheets): nothing is fetched or read."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.refused: list[str] = []  # what the text asked for, for tests and diagnostics
        self.setDefaultStyleSheet(DEFAULT_CSS)

    def loadResource(self, kind: int, url: QUrl):  # noqa: N802 - Qt's name
        self.refused.append(url.toString())
        return None


class SafeBrowser(QTextBrowser):
    """Shows plain or sanitised text, grows to fit it (the transcript scrolls, not each message)."""

    link_clicked = Signal(QUrl)

    def __init__(self, parent=None, *, fit_height: bool = True) -> None:
        super().__init__(parent)
        self.setDocument(SafeDocument(self))
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.setReadOnly(True)
        self.setFrameShape(QFrame.NoFrame)
        self.setTextInteractionFlags(Qt.TextSelectableByMouse | Qt.TextSelectableByKeyboard
                                     | Qt.LinksAccessibleByMouse)
        self.anchorClicked.connect(self._on_anchor)
        self.viewport().setAutoFillBackground(False)
        self.setStyleSheet("QTextBrowser { background: transparent; }")
        self._fit = fit_height
        if fit_height:
            self.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
            self.setHorizontalScrollBarPolicy(Qt.ScrollBarAsNeeded)
            self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
            self.document().contentsChanged.connect(self._fit_height)
            self.document().setDocumentMargin(2)

    @property
    def refused(self) -> list[str]:
        return self.document().refused

    def loadResource(self, kind: int, url: QUrl):  # noqa: N802 - Qt's name
        self.document().refused.append(url.toString())
        return None

    def set_markdown(self, text: str) -> None:
        self.setHtml(to_html(text))

    def set_safe_html(self, html: str) -> None:
        """HTML produced by ui.chat.markdown (already sanitised)."""
        self.setHtml(html)

    def append_plain(self, text: str) -> None:
        """Add streamed text at the end (no re-render of what is already there)."""
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.End)
        cursor.insertText(text)

    def _on_anchor(self, url: QUrl) -> None:
        if is_safe_url(url.toString()):
            self.link_clicked.emit(url)

    # height follows the document, so the message never shows its own scroll bar
    def _fit_height(self) -> None:
        doc = self.document()
        doc.setTextWidth(self.viewport().width())
        height = int(doc.size().height()) + 4
        if self.horizontalScrollBar().isVisible():
            height += self.horizontalScrollBar().height()
        if height != self.height():
            self.setFixedHeight(max(height, 20))

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        if self._fit:
            self._fit_height()

    def sizeHint(self) -> QSize:  # noqa: N802
        hint = super().sizeHint()
        return QSize(hint.width(), self.height()) if self._fit else hint
