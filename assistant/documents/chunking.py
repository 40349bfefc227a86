"""Cut sections into overlapping chunks of a few hundred words, at paragraph and sentence boundaries."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Iterable

from assistant.documents.parsers import Section

TARGET_WORDS = 180  # MiniLM reads 256 word pieces; ~180 words of prose fit, so nothing is cut off unseen
OVERLAP_WORDS = 40
MIN_SECTION_WORDS = 8  # a title or bare heading: merged into the next section, once
MAX_UNIT_WORDS = 60  # a paragraph longer than this is split into sentences, a sentence into word runs

_PARAGRAPH = re.compile(r"\S(?:.|\n(?![ \t]*\n))*", re.UNICODE)
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|\n|$)")
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Chunk:
    """A piece of a file with where it came from; `start`/`end` are character offsets in its section."""

    index: int
    text: str
    page: int | None
    section: str | None
    sheet: str | None
    rows: str | None
    start: int
    end: int


@dataclass(frozen=True)
class _Unit:
    start: int
    end: int
    words: int


def chunk_sections(sections: Iterable[Section], target_words: int = TARGET_WORDS,
                   overlap_words: int = OVERLAP_WORDS) -> list[Chunk]:
    """Chunks numbered across the whole file; a chunk never spans two pages or two headed sections."""
    chunks: list[Chunk] = []
    for section in _merge_small(list(sections)):
        for start, end in _spans(section.text, target_words, overlap_words):
            text = section.text[start:end].strip()
            if text:
                chunks.append(Chunk(len(chunks), text, section.page, section.section, section.sheet,
                                    section.rows, start, end))
    return chunks


def _merge_small(sections: list[Section]) -> list[Section]:
    """A heading-only or few-word section joins the next one on the same page (a lone title is no answer)."""
    out: list[Section] = []
    carry: Section | None = None
    for section in sections:
        merged = False
        if carry is not None:
            if carry.page == section.page and carry.rows is None and section.rows is None:
                section = replace(section, text=carry.text.rstrip() + "\n\n" + section.text)
                merged = True
            else:
                out.append(carry)
            carry = None
        if not merged and len(_WORD.findall(section.text)) < MIN_SECTION_WORDS and section.rows is None:
            carry = section
        else:
            out.append(section)
    if carry is not None:
        out.append(carry)
    return out


def _spans(text: str, target: int, overlap: int) -> list[tuple[int, int]]:
    units = list(_units(text))
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(units):
        j, words = i, 0
        while j < len(units) and (words == 0 or words + units[j].words <= target):
            words += units[j].words
            j += 1
        spans.append((units[i].start, units[j - 1].end))
        if j >= len(units):
            break
        # Start the next chunk a few units back, so a fact on the boundary is whole in one of the two.
        back, k = 0, j
        while k - 1 > i and back + units[k - 1].words <= overlap:
            back += units[k - 1].words
            k -= 1
        i = k
    return spans


def _units(text: str) -> Iterable[_Unit]:
    """Paragraphs; long paragraphs as sentences; very long sentences as runs of words."""
    for para in _PARAGRAPH.finditer(text):
        words = len(_WORD.findall(para.group()))
        if words <= MAX_UNIT_WORDS:
            yield _Unit(para.start(), para.end(), words)
            continue
        for sentence in _SENTENCE.finditer(para.group()):
            if not sentence.group().strip():
                continue
            base = para.start() + sentence.start()
            found = list(_WORD.finditer(sentence.group()))
            for k in range(0, len(found), MAX_UNIT_WORDS):
                run = found[k:k + MAX_UNIT_WORDS]
                yield _Unit(base + run[0].start(), base + run[-1].end(), len(run))
