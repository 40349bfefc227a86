"""Did an answer say what the user taught? Key terms of the reference answer, looked for in the new one."""

from __future__ import annotations

import re

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’.-]*[A-Za-z0-9]|[A-Za-z0-9]")
STOP_WORDS = frozenset("""
a an the and or but if of at by for with about into to from in on off out over under up down is are was were
be been being am do does did have has had having i me my mine you your yours he she it its we our they them
their this that these those what which who whom whose when where why how there here not no yes so than too very
can could will would should may might must shall just also only as then now all any both each few more most
other some such own same s t don isn aren wasn weren hasn haven hadn doesn didn won wouldn shan shouldn mustn
called named name tell remember know please thanks thank okay ok sure
""".split())


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


def key_terms(reference: str, question: str = "") -> list[str]:
    """Terms an answer must contain to carry the reference's content.

    Names and numbers (capitalized words inside a sentence, anything with a digit) when there are any;
    otherwise the content words. Words of the question do not count: repeating them proves nothing.
    """
    asked = {w.lower() for w in _words(question)}
    proper: list[str] = []
    content: list[str] = []
    for sentence in re.split(r"(?<=[.!?])\s+", reference.strip()):
        for i, word in enumerate(_words(sentence)):
            word = word.rstrip(".")
            low = word.lower()
            if low in asked or low in STOP_WORDS or len(word) < 2 and not word.isdigit():
                continue
            if any(c.isdigit() for c in word) or (i > 0 and word[0].isupper()):
                proper.append(word)
            elif i > 0:
                content.append(low)
    terms = proper or content
    return list(dict.fromkeys(terms))


def coverage(answer: str, terms: list[str]) -> float:
    """Share of `terms` found in `answer` (case-insensitive, whole words; 'a|b' accepts either)."""
    if not terms:
        return 0.0
    low = answer.lower()
    found = 0
    for term in terms:
        if any(re.search(r"(?<![a-z0-9])" + re.escape(alt.lower()) + r"(?![a-z0-9])", low)
               for alt in term.split("|")):
            found += 1
    return found / len(terms)


def is_answered(answer: str, terms: list[str], need: float = 0.5) -> bool:
    """True when at least `need` of the key terms are in the answer."""
    return bool(terms) and coverage(answer, terms) >= need
