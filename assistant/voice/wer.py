"""Word error rate between a reference transcript and what the recognizer heard."""

from __future__ import annotations

import re

# Apostrophes join ("don't" and "dont" are one word); a point or comma between digits is part of the number.
_APOSTROPHE = re.compile(r"['\u2019]")
_WORD = re.compile(r"\d+(?:[.,]\d+)+|[^\W_]+")


def normalise(text: str) -> list[str]:
    """Lower-case words without punctuation; numbers stay as written ("3.5", "1,000")."""
    return _WORD.findall(_APOSTROPHE.sub("", text.lower()))


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words, after normalising both.

    An empty reference gives 0.0 when the hypothesis is empty too, else 1.0 (every word is wrong).
    """
    ref, hyp = normalise(reference), normalise(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    # Levenshtein distance over words, one row at a time.
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, start=1):
        current = [i] + [0] * len(hyp)
        for j, hyp_word in enumerate(hyp, start=1):
            current[j] = min(previous[j] + 1,  # deletion
                             current[j - 1] + 1,  # insertion
                             previous[j - 1] + (ref_word != hyp_word))  # substitution or match
        previous = current
    return previous[-1] / len(ref)
