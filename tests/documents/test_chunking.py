"""Chunks are a few hundred words, overlap, follow paragraphs, keep their location and point back into the text."""

from __future__ import annotations

from assistant.documents.chunking import OVERLAP_WORDS, TARGET_WORDS, chunk_sections
from assistant.documents.parsers import Section


def _para(n: int, words: int = 50) -> str:
    return " ".join(f"p{n}w{i}" for i in range(words - 1)) + f" end{n}."


def test_short_sections_are_one_chunk_each_with_their_location():
    chunks = chunk_sections([Section("Rent is 1,850 euros a month.", page=2),
                             Section("Notice is ninety days in writing.", page=3)])
    assert [(c.index, c.page, c.text) for c in chunks] == [
        (0, 2, "Rent is 1,850 euros a month."), (1, 3, "Notice is ninety days in writing.")]


def test_long_text_is_cut_at_paragraphs_with_overlap_and_offsets_that_point_back():
    text = "\n\n".join(_para(n, 30) for n in range(20))  # 600 words in 20 paragraphs
    section = Section(text, section="Chapter 1")
    chunks = chunk_sections([section])
    assert len(chunks) >= 3
    for c in chunks:
        assert len(c.text.split()) <= TARGET_WORDS
        assert section.text[c.start:c.end].strip() == c.text  # positions are real character offsets
        assert c.text.startswith("p") and c.text.endswith(".")  # whole paragraphs, never cut mid-word
        assert c.section == "Chapter 1"
    for a, b in zip(chunks, chunks[1:]):
        assert b.start < a.end  # consecutive chunks overlap
        shared = set(a.text.split()) & set(b.text.split())
        assert 0 < len(shared) <= OVERLAP_WORDS
    every_word = set(text.split())
    assert every_word == set(" ".join(c.text for c in chunks).split())  # nothing is lost


def test_one_huge_paragraph_is_split_at_sentences():
    text = " ".join(f"Sentence {i} is here." for i in range(300))
    chunks = chunk_sections([Section(text)])
    assert len(chunks) > 1
    assert all(c.text.endswith(".") and c.text.startswith("Sentence") for c in chunks)


def test_a_run_without_punctuation_is_split_by_words():
    text = " ".join(f"w{i}" for i in range(1000))
    chunks = chunk_sections([Section(text)])
    assert all(len(c.text.split()) <= TARGET_WORDS for c in chunks)
    assert chunks[-1].text.endswith("w999")


def test_a_lone_heading_joins_the_next_section_on_the_same_page():
    chunks = chunk_sections([Section("Falcon plan", section="Falcon plan"),
                             Section("The budget is 240,000 dollars for two quarters of work.", section="Budget"),
                             Section("Title", page=1), Section("Body text on page two only.", page=2)])
    assert chunks[0].text.startswith("Falcon plan") and "240,000" in chunks[0].text
    assert chunks[0].section == "Budget"
    assert [c.page for c in chunks[1:]] == [1, 2]  # never merged across pages


def test_chunk_indexes_run_across_the_file():
    chunks = chunk_sections([Section(_para(1, 200)), Section(_para(2, 200))])
    assert [c.index for c in chunks] == list(range(len(chunks)))
