"""Streamed reply text cut into speakable sentences: markdown and code never reach the voice."""

from __future__ import annotations

import functools
import re

CODE_PHRASE = "(code shown on screen)"  # said once for each code block instead of the code

_TERMINATORS = ".!?…。！？"
_CJK_TERMINATORS = "。！？"
_CLOSERS = "\"'”’)]}»」』*_"  # may follow a terminator and still belong to the sentence
_SOFT_BREAKS = ",;:，；：、"  # where a sentence that runs too long may be cut
_CJK_SOFT = "，；：、"
_HARD_LIMIT_FACTOR = 2  # with no comma at all, cut at a space after twice max_chars

# Abbreviations after which a period never ends a sentence (a name or an example follows).
_NEVER_END = {
    "e.g", "i.e", "cf", "vs", "viz", "mr", "mrs", "ms", "mx", "dr", "prof", "st", "mt", "sen", "rep", "gen",
    "gov", "capt", "col", "lt", "sgt", "rev", "hon", "pres", "fr", "messrs",
}
# Abbreviations that may end a sentence: it ends there only when the next word starts upper-case.
_MAYBE_END = {
    "etc", "a.m", "p.m", "u.s", "u.k", "u.s.a", "e.u", "inc", "ltd", "co", "corp", "jr", "sr", "al", "approx",
    "no", "nos", "fig", "figs", "eq", "vol", "pp", "ch", "sec", "dept", "est", "min", "max", "ave", "blvd",
}
_OPENERS = "([{\"'“‘*_«「『"


class SentenceSplitter:
    """Cuts text arriving in small pieces into sentences, as soon as each one is certainly complete."""

    def __init__(self, min_words: int = 3, max_chars: int = 200) -> None:
        self.min_words = min_words
        self.max_chars = max_chars
        self._buf = ""
        self._line_start = True  # the buffer begins at the start of a line
        self._in_code = False
        self._held = ""  # a short fragment waiting to be said together with the next sentence
        self._emitted = 0

    def feed(self, text_piece: str) -> list[str]:
        """Add a piece of the reply; returns the sentences that are now complete and ready to speak."""
        self._buf += text_piece.replace("\r\n", "\n")
        return self._merge(self._drain(final=False), final=False)

    def flush(self) -> list[str]:
        """The reply is over: returns whatever is left, as sentences."""
        out = self._merge(self._drain(final=True), final=True)
        self._buf, self._line_start, self._in_code = "", True, False
        return out

    # --- merging short fragments ----------------------------------------------------------------

    def _merge(self, parts: list[str], final: bool) -> list[str]:
        out: list[str] = []
        for text in parts:
            if self._held:
                text, self._held = _join(self._held, text), ""
            # The first sentence goes out at once (time to first sound); later short ones wait for company.
            if self._emitted and _too_short(text, self.min_words):
                self._held = text
                continue
            out.append(text)
            self._emitted += 1
        if final and self._held:
            out.append(self._held)
            self._emitted += 1
            self._held = ""
        return out

    # --- scanning -------------------------------------------------------------------------------

    def _drain(self, final: bool) -> list[str]:
        out: list[str] = []
        while True:
            if self._in_code:
                if not self._skip_code(final):
                    break
                continue
            found = self._take(final)
            if found is None:
                break
            out += found
        return out

    def _skip_code(self, final: bool) -> bool:
        """Drop code up to the closing fence; True once the fence is passed."""
        m = re.search(r"`{3,}", self._buf)
        if m is None:
            # Keep a trailing "`" or "``": the next piece may complete the closing fence.
            tail = len(self._buf) - len(self._buf.rstrip("`"))
            self._buf = "" if final else self._buf[len(self._buf) - tail:]
            return False
        if m.end() == len(self._buf) and not final:
            self._buf = self._buf[m.start():]  # the fence may go on in the next piece
            return False
        self._buf = self._buf[m.end():]
        self._in_code, self._line_start = False, False
        return True

    def _take(self, final: bool) -> list[str] | None:
        """The next segment's speakable text ([] when it was blank); None when more text is needed."""
        buf = self._buf.lstrip(" \t\r")
        self._buf = buf
        n = len(buf)
        if n == 0:
            return None
        if buf[0] == "\n":
            self._buf, self._line_start = buf[1:], True
            return []
        k = 0
        while k < n:
            ch = buf[k]
            if ch == "\n":
                return self._cut(k, k + 1, newline=True)
            if ch == "`":
                r = k
                while r < n and buf[r] == "`":
                    r += 1
                if r == n and not final:
                    return None  # "`" may grow into a code fence
                if r - k >= 3:
                    said = self._cut(k, r, newline=False)
                    self._in_code = True
                    return said + [CODE_PHRASE]
                k = r
                continue
            if ch in _TERMINATORS:
                j = k
                while j < n and buf[j] in _TERMINATORS:
                    j += 1
                run = buf[k:j]
                while j < n and buf[j] in _CLOSERS:
                    j += 1
                if j == n:
                    return self._cut(n, n, newline=False) if final else None
                if any(c in _CJK_TERMINATORS for c in run):
                    return self._cut(j, j, newline=False)
                if buf[j].isspace():
                    ends = self._ends_here(buf, k, run, j, final)
                    if ends is None:
                        return None
                    if ends:
                        return self._cut(j, j, newline=False)
                k = j
                continue
            if k >= self.max_chars and ch in _SOFT_BREAKS:
                if k + 1 == n and not final:
                    return None
                if k + 1 == n or buf[k + 1].isspace() or ch in _CJK_SOFT:
                    return self._cut(k + 1, k + 1, newline=False)
            if k >= self.max_chars * _HARD_LIMIT_FACTOR and ch in " \t":
                return self._cut(k, k, newline=False)
            k += 1
        return self._cut(n, n, newline=False) if final else None

    def _ends_here(self, buf: str, k: int, run: str, j: int, final: bool) -> bool | None:
        """Whether the terminator run buf[k:j] (followed by whitespace) ends a sentence; None: can't tell yet."""
        if "!" in run or "?" in run:
            return True
        if run == ".":
            w = k
            while w > 0 and not buf[w - 1].isspace():
                w -= 1
            word = buf[w:k].lstrip(_OPENERS)
            low = word.lower()
            if word.isdigit() and len(word) <= 3 and self._line_start and not buf[:w].strip(" \t>"):
                return False  # "1. Buy milk": a list number
            if low in _NEVER_END or (len(word) == 1 and word.isalpha() and word.isupper()):
                return False  # "Dr. Smith", "e.g. this", "J. R. R. Tolkien"
            if not (low in _MAYBE_END or (len(word) == 1 and word.isalpha())):
                return True
        # An ellipsis or an abbreviation that can end a sentence: it does when a new sentence starts.
        p = j
        while p < len(buf) and buf[p].isspace():
            if buf[p] == "\n":
                return True
            p += 1
        if p == len(buf):
            return True if final else None
        return buf[p].isupper()

    def _cut(self, end: int, consume: int, newline: bool) -> list[str]:
        raw = self._buf[:end]
        self._buf = self._buf[consume:]
        self._line_start = newline
        text = _clean(raw)
        return [text] if text else []


_CJK = re.compile(r"[\u3000-\u30ff\u3400-\u9fff\uac00-\ud7af\uff00-\uffef]")


def _too_short(text: str, min_words: int) -> bool:
    if _CJK.search(text):
        return len(text) < min_words * 2  # no spaces between CJK words: count characters
    return len(re.findall(r"[^\W_]+", text)) < min_words


def _join(first: str, second: str) -> str:
    # A heading or list item has no full stop; add one so the voice pauses between them.
    if _CJK.match(first[-1]) and _CJK.match(second[0]):
        return first + second  # no spaces between CJK sentences
    return f"{first}{'.' if first[-1].isalnum() else ''} {second}"


# --- markdown to speakable text -----------------------------------------------------------------

_INLINE_CODE = re.compile(r"(`+)(.+?)\1")
_LINK = re.compile(r"!?\[([^\]]*)\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
_AUTOLINK = re.compile(r"<((?:https?|ftp)://[^>\s]+)>", re.I)
_URL = re.compile(r"\b(?:https?|ftp)://[^\s<>()\[\]]+?(?=[.,;:!?\"')\]]*(?:\s|$))", re.I)
_HTML_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_STAR_EMPHASIS = re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])")
_UNDERSCORE_EMPHASIS = re.compile(r"(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])")
_TABLE_RULE = re.compile(r":?-{2,}:?")


def _host(url: str) -> str:
    m = re.match(r"(?:[a-z]+://)?(?:[^@/\s]*@)?([^/:?#\s]+)", url, re.I)
    host = m.group(1).lower() if m else ""
    host = host[4:] if host.startswith("www.") else host
    return host or "a link"


def _clean_inline(text: str) -> str:
    text = _LINK.sub(lambda m: m.group(1).strip() or _host(m.group(2)), text)
    text = _AUTOLINK.sub(lambda m: _host(m.group(1)), text)
    text = _URL.sub(lambda m: _host(m.group(0)), text)
    pieces = []
    # Inline code keeps its words, but emphasis marks are stripped only outside it (`__init__` stays).
    for i, part in enumerate(_INLINE_CODE.split(text)):
        kind = i % 3  # split() yields: text, backticks, code, text, ...
        if kind == 1:
            continue
        if kind == 0:
            part = _HTML_TAG.sub(" ", part)
            part = part.replace("**", "").replace("__", "").replace("~~", "")
            part = _STAR_EMPHASIS.sub(r"\1", part)
            part = _UNDERSCORE_EMPHASIS.sub(r"\1", part)
        pieces.append(part.replace("`", ""))
    return "".join(pieces)


def _clean_line_start(text: str) -> str:
    text = text.strip()
    if re.fullmatch(r"(?:[-*_]\s*){3,}", text):
        return ""  # a horizontal rule
    text = re.sub(r"^(?:>\s?)+", "", text)  # block quote
    text = re.sub(r"^#{1,6}\s+", "", text)
    text = re.sub(r"\s+#+$", "", text)
    text = re.sub(r"^[-*+•]\s+(?:\[[ xX]\]\s+)?", "", text)  # bullet, task box
    if text.startswith("|"):
        cells = [c.strip() for c in text.strip("|").split("|")]
        text = ", ".join(c for c in cells if c and not _TABLE_RULE.fullmatch(c))
    return text


def _clean(raw: str) -> str:
    # Line marks are stripped even mid-line: a sentence that starts with "- ", "# " or "| " is markup
    # there too, and treating all sentences alike lets speakable() run twice with the same result.
    text = _clean_inline(_clean_line_start(raw))
    while True:  # a mark removed can uncover another ("``- item", "? - item"): strip until none is left
        stripped = _clean_line_start(re.sub(r"\s+", " ", text).strip().lstrip(_TERMINATORS + _SOFT_BREAKS + " "))
        if stripped == text:
            break
        text = stripped
    return text if re.search(r"[^\W_]", text) else ""


def speakable(text: str) -> str:
    """Markdown made fit to read aloud: no code, marks, tables or addresses; links become their text."""
    splitter = SentenceSplitter(min_words=0)
    parts = splitter.feed(text) + splitter.flush()
    return functools.reduce(_join, parts) if parts else ""
