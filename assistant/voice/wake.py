"""Finding the wake phrase in a transcript, tolerant of how Whisper happens to spell it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)

# Rough English sound classes: Whisper writes an unusual name many ways ("Biseo", "Bisseo", "Bee so", "Bi-seo");
# comparing how the letters sound, not the letters, lets all of them match while other words do not.
_RULES = [("ph", "f"), ("ck", "k"), ("qu", "kw"), ("q", "k"), ("x", "ks"), ("z", "s"), ("ce", "se"),
          ("ci", "si"), ("cy", "si"), ("c", "k"), ("ee", "i"), ("ea", "i"), ("ie", "i"), ("y", "i"), ("oo", "u"),
          ("ou", "u"), ("ay", "ei"), ("ey", "ei"), ("w", "u"), ("v", "b"), ("gh", "")]


def sound_key(text: str) -> str:
    """Letters folded to rough sound classes, repeats collapsed (e.g. 'Bisseo' and 'Bee-seo' -> 'biseo')."""
    s = re.sub(r"[^a-z]", "", text.lower())
    for a, b in _RULES:
        s = s.replace(a, b)
    s = re.sub(r"(?<=.)h", "", s)  # a silent h after another letter ("Oh", "Bhi")
    return re.sub(r"(.)\1+", r"\1", s)


@dataclass(frozen=True)
class WakeMatch:
    """Where the wake phrase was heard, and what the user said after it (the command, maybe empty)."""

    heard: str
    command: str
    score: float


class WakePhrase:
    """Matches a configured phrase (default "hey biseo") anywhere in a transcript."""

    def __init__(self, phrase: str = "hey biseo", threshold: float = 0.75) -> None:
        words = _WORD.findall(phrase.lower())
        if not words:
            raise ValueError("the wake phrase needs at least one word")
        self.phrase = " ".join(words)
        self.key = sound_key(self.phrase)
        self.n_words = len(words)
        self.threshold = threshold

    def find(self, transcript: str) -> WakeMatch | None:
        """The best match of the phrase (ties go to the earliest), or None when it was not said."""
        spans = [(m.start(), m.end(), m.group()) for m in _WORD.finditer(transcript)]
        best: tuple[float, int, int] | None = None
        for i in range(len(spans)):
            # Whisper may merge ("Heybiseo") or split ("Bi seo") words, so try windows around the phrase's length.
            for width in range(max(1, self.n_words - 1), self.n_words + 2):
                if i + width > len(spans):
                    break
                key = sound_key("".join(w for _, _, w in spans[i:i + width]))
                score = SequenceMatcher(None, key, self.key).ratio()
                if score >= self.threshold and (best is None or score > best[0] + 1e-9):
                    best = (score, i, i + width)
        if best is None:
            return None
        score, i, j = best
        heard = transcript[spans[i][0]:spans[j - 1][1]]
        command = transcript[spans[j - 1][1]:].lstrip(" ,.!?;:-—").strip()
        return WakeMatch(heard=heard, command=command, score=score)
