"""Readable text from HTML: no scripts or styles, block elements on their own lines, split at headings."""

from __future__ import annotations

import re
from html.parser import HTMLParser

_SKIP = {"script", "style", "noscript", "template", "svg", "head", "iframe", "object"}
_BLOCK = {"p", "div", "br", "li", "ul", "ol", "tr", "table", "section", "article", "header", "footer",
          "blockquote", "pre", "dd", "dt", "dl", "hr", "nav", "aside", "main", "form", "figure", "figcaption"}
_HEADINGS = {f"h{i}": i for i in range(1, 7)}
_CELL = {"td", "th"}


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[tuple[str | None, list[str]]] = [(None, [])]
        self.trail: list[tuple[int, str]] = []
        self.skip_depth = 0
        self.heading: tuple[int, list[str]] | None = None
        self.title: list[str] = []
        self.in_title = False

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag == "title":
            self.in_title = True
        if tag in _SKIP:
            self.skip_depth += 1
        elif tag in _HEADINGS:
            self.heading = (_HEADINGS[tag], [])
        elif tag in _BLOCK:
            self._emit("\n")
        elif tag in _CELL:
            self._emit(" | ")

    def handle_startendtag(self, tag: str, attrs) -> None:
        if tag in ("br", "hr"):
            self._emit("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        if tag in _SKIP:
            self.skip_depth = max(0, self.skip_depth - 1)
        elif tag in _HEADINGS and self.heading is not None:
            level, parts = self.heading
            self.heading = None
            text = " ".join("".join(parts).split())
            if text:
                self.trail = [(lv, t) for lv, t in self.trail if lv < level] + [(level, text)]
                self.sections.append((" > ".join(t for _, t in self.trail), [text, "\n\n"]))
        elif tag in _BLOCK:
            self._emit("\n")

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title.append(data)
        if self.skip_depth:
            return
        if self.heading is not None:
            self.heading[1].append(data)
        else:
            self._emit(data)

    def _emit(self, text: str) -> None:
        self.sections[-1][1].append(text)


def html_sections(html: str) -> list[tuple[str | None, str]]:
    """(heading path or page title, text) pairs in document order; empty sections are dropped."""
    reader = _Reader()
    reader.feed(html)
    reader.close()
    title = " ".join("".join(reader.title).split()) or None
    out = []
    for heading, parts in reader.sections:
        text = "".join(parts)
        text = re.sub(r"[ \t\r\f\v]+", " ", text)
        text = re.sub(r" *\n *", "\n", text)
        text = re.sub(r"\n{3,}", "\n\n", text).strip()
        if text:
            out.append((heading or title, text))
    return out
