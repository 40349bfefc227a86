"""Decide whether retrieved passages are about the message, and whether the message is about the documents.

Hybrid search always returns its best k, even for "hi there"; rank fusion scores say nothing absolute.
So each hit is judged on its own by signals that do mean something on their own:
- dense: cosine similarity of the message and the indexed chunk (its file name and heading, then its
  text) under the embedding model (all-MiniLM-L6-v2); the hybrid index reports it as `scores["dense"]`.
  Measured through the real index on the test documents (tests/documents/test_real_index.py): 15
  questions about a chunk scored 0.38-0.83 with it; 14 unrelated messages (arithmetic, time, chit-chat, a
  haiku, facts the documents do not hold) scored at most 0.26 with any chunk. DENSE_MIN = 0.32 is the
  middle of that gap.
- keywords: the share of the message's distinctive words (not stop words, not "document"/"file" talk)
  that occur in the chunk. Names, codes and numbers ("INV-0042", "Ferrand") are found here when the
  embedding is vague about them; KEYWORDS_MIN = 0.6 with at least one rare-looking term (a digit, a
  capital inside the sentence, or 7+ letters) keeps common words from matching everything.
- identifiers: a word mixing letters and digits ("INV-0042") found in the chunk is enough on its own.
A hit counts when any of these clears its bar. One more cut: a hit that counts by its dense score alone
but scores more than RELATIVE_MARGIN below the best hit is dropped. The file name is part of each chunk's
indexed text, so "the rent in my lease" lifts every page of lease.pdf over the bar (measured 0.42 and 0.39
next to 0.73 for the page that holds the rent); the margin keeps such passages out of the answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

DENSE_MIN = 0.32
KEYWORDS_MIN = 0.6
RELATIVE_MARGIN = 0.2

_ABOUT_DOCUMENTS = re.compile(
    r"\b(in|from|according to|based on|search|check|look (in|through)|do|does|did|what do|what does)\s+"
    r"(all\s+)?(of\s+)?my\s+(documents?|docs?|files?|notes?|pdfs?|spreadsheets?|papers|records|folders?)\b"
    r"|\bmy\s+(documents?|docs?|files?|notes?|pdfs?|spreadsheets?)\s+(say|says|said|mention|mentions|contain)"
    r"|\b(indexed|added|uploaded)\s+(documents?|files?)\b",
    re.IGNORECASE)

_STOP = set("""
a an the and or but if then else of to in on at by for with from into onto about as is are was were be been being
do does did done have has had having i me my mine we our you your he she it its they them their this that these
those what which who whom whose when where why how whats much many any some all each every no not nor so than too
very can could should would will shall may might must there here up down out over under again more most other such
own same just also only please tell show give find say says said according based documents document docs doc files
file notes note pdf pdfs spreadsheet spreadsheets folder folders records papers written write wrote mention mentions
contain contains look search check know let get got one two
""".split())
# Letters and digits together ("INV-0042", "PELICAN-7731", "B12"): one such match identifies the passage.
_IDENTIFIER = re.compile(r"^(?=.*[a-z])(?=.*[0-9])[a-z0-9\-_.]{3,}$")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-_.']*[A-Za-z0-9]|[A-Za-z0-9]")


def about_documents(text: str) -> bool:
    """True when the user clearly asks about their own files ("in my documents", "my notes say")."""
    return bool(_ABOUT_DOCUMENTS.search(text))


def key_terms(text: str) -> list[str]:
    """The message's distinctive words, lower-cased, in order, without stop words and document talk."""
    out: list[str] = []
    for word in _WORD.findall(text):
        low = word.lower().strip("'.")
        if low.endswith("'s"):
            low = low[:-2]
        if low and low not in _STOP and low not in out:
            out.append(low)
    return out


def _rare(word: str, original: str) -> bool:
    if any(ch.isdigit() for ch in word) or len(word) >= 7:
        return True
    # A capitalised word that does not start the message is probably a name.
    return bool(re.search(r"(?<![.?!]\s)(?<!^)\b" + re.escape(word.capitalize()) + r"\b", original))


@dataclass(frozen=True)
class Judgement:
    relevant: bool
    by_dense_only: bool
    dense: float
    keywords: float
    reason: str


def _words(text: str) -> set[str]:
    words = {w.lower().strip("'.") for w in _WORD.findall(text)}
    return words | {w[:-1] for w in words if w.endswith("s")}


def keyword_coverage(message: str, chunk: str) -> tuple[float, bool]:
    """(share of key terms found in the chunk, whether a found term looks rare)."""
    terms = key_terms(message)
    if not terms:
        return 0.0, False
    words = _words(chunk)
    found = [t for t in terms if t in words or (t.endswith("s") and t[:-1] in words)]
    return len(found) / len(terms), any(_rare(t, message) for t in found)


def judge_all(message: str, chunks: list[str], dense: list[float | None]) -> list[Judgement]:
    """judge() each hit, then drop dense-only hits far below the best one (see the module docstring)."""
    verdicts = [judge(message, chunk, d) for chunk, d in zip(chunks, dense)]
    best = max((v.dense for v in verdicts), default=0.0)
    return [replace(v, relevant=False, reason=f"dense {v.dense:.2f} is far below the best {best:.2f}")
            if v.relevant and v.by_dense_only and v.dense < best - RELATIVE_MARGIN else v for v in verdicts]


def judge(message: str, chunk: str, dense: float | None) -> Judgement:
    """Is this chunk about the message? (see the module docstring for the bars and why)."""
    coverage, rare = keyword_coverage(message, chunk)
    d = -1.0 if dense is None else float(dense)
    words = coverage >= KEYWORDS_MIN and rare
    code = next((t for t in key_terms(message) if _IDENTIFIER.match(t) and t in _words(chunk)), None)
    if d >= DENSE_MIN:
        return Judgement(True, not (words or code), d, coverage, f"dense {d:.2f} >= {DENSE_MIN}")
    if words:
        return Judgement(True, False, d, coverage, f"keywords {coverage:.2f} >= {KEYWORDS_MIN}")
    if code:
        return Judgement(True, False, d, coverage, f"identifier {code!r} found")
    return Judgement(False, False, d, coverage, "below every bar")


# Questions answered by computing over rows, not by reading a passage.
_AGGREGATE = re.compile(r"\b(how many|number of|count|total|sum|add up|average|mean|max(imum)?|min(imum)?|"
                        r"highest|lowest|largest|smallest|biggest|most|least)\b", re.IGNORECASE)


def needs_table_computation(text: str, tables: list) -> bool:
    """True for a counting/summing question that names a known spreadsheet or one of its columns."""
    return bool(_AGGREGATE.search(text)) and bool(tables_named_in(text, tables))


def tables_named_in(text: str, tables: list) -> list:
    """The spreadsheets a message names, by file name or by one of their columns."""
    words = set(key_terms(text))
    low = text.lower()
    named = []
    for table in tables:
        stem = Path(table.path).stem.lower()
        if (stem and (stem in words or Path(table.path).name.lower() in low)) or any(
                col and col.lower() in words for col in table.columns):
            named.append(table)
    return named
