"""Pure ranking helpers for hybrid search: keyword-query analysis and score fusion."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# Function words that carry no topic. BM25's IDF already discounts them, but in an OR query every matched
# "the"/"did"/"when" still adds score, which lets long chatty texts outrank short relevant ones (measured on
# LoCoMo: dropping them gains about 4 points of recall@10). Question words are here on purpose: "when did X"
# should be about X, not about texts that contain "when".
STOP_WORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being below
between both but by can could did do does doing don down during each either else ever few for from further
had has have having he her here hers herself him himself his how however i if in into is it its itself just
let like may me might more most much must my myself neither no nor not now of off on once only or other
ought our ours ourselves out over own per quite rather same shall she should since so some such than that
the their theirs them themselves then there these they this those though through thus to too under until up
upon us very was we were what whatever when whenever where whether which while who whom whose why will with
within without would yet you your yours yourself yourselves
""".split())

_WORD = re.compile(r"\w+\*?")


def query_terms(text: str) -> list[str]:
    """The distinct lower-cased words of a query that name its topic (stop words dropped).

    When every word is a stop word ("who is he?") they are all kept: a weak query beats an empty one.
    A trailing '*' (prefix search) is kept on its word.
    """
    words = list(dict.fromkeys(w.lower() for w in _WORD.findall(str(text).replace("_", " "))))
    topical = [w for w in words if w.rstrip("*") not in STOP_WORDS]
    return topical or words


def keyword_query(text: str) -> str:
    """The query text to give the keyword (BM25) index: its topical words, space-separated."""
    return " ".join(query_terms(text))


def feedback_terms(query: Sequence[str], texts: Sequence[str], count: int = 5) -> list[str]:
    """Words the best keyword hits share beyond the query (pseudo-relevance feedback), most common first.

    A question names one side of a fact ("Where did Mina camp?"); the best hits tend to name the rest
    ("tent", "forest", "lake"), and searching those too finds the other turns about it. Only topical
    words of 3+ letters that are not numbers and not already in the query count; BM25 weighs them
    later, so no IDF is needed here. Ties keep the order of first appearance (stable results).
    """
    asked = {w.rstrip("*") for w in query}
    seen: dict[str, int] = {}
    for text in texts:
        for word in dict.fromkeys(w.lower() for w in _WORD.findall(text)):
            if len(word) > 2 and not word.isdigit() and word not in STOP_WORDS and word not in asked:
                seen[word] = seen.get(word, 0) + 1
    return [w for w, _ in sorted(seen.items(), key=lambda kv: -kv[1])[:max(0, count)]]


def add_scores(base: Sequence[tuple[str, float]], extra: Sequence[tuple[str, float]],
               weight: float) -> list[tuple[str, float]]:
    """`base` scores plus `weight` times `extra` scores per id, best first (ties by id)."""
    total = {item_id: score for item_id, score in base}
    for item_id, score in extra:
        total[item_id] = total.get(item_id, 0.0) + weight * score
    return sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))


def search_text(text: str, context: str | None) -> str:
    """What is indexed for an item: a context (labels, or surrounding text) on its own line, then the text."""
    context = (context or "").strip()
    return f"{context}\n{text}" if context else text


@dataclass(frozen=True)
class Fused:
    """One candidate after fusion: `score` orders results; `parts` keeps each signal for display."""

    id: str
    score: float
    parts: dict[str, float] = field(default_factory=dict)


def fuse(lexical: Sequence[tuple[str, float]], dense: Sequence[tuple[str, float]],
         lexical_weight: float = 0.5) -> list[Fused]:
    """Blend keyword and meaning scores into one ranking, best first.

    Each list is scaled by its own best score (BM25 is unbounded and query-dependent; cosine is not), so
    1.0 means "as good as the best hit of that kind". An item the dense list did not return gets the
    lowest dense similarity that list did return (its true similarity is at most that); one the keyword
    list missed shares no weighted word with the query and gets 0. Ties break on the id so the order is
    stable. Rank fusion (RRF) was measured and lost to this: it throws away how far ahead a hit is.
    """
    if not 0.0 <= lexical_weight <= 1.0:
        raise ValueError("lexical_weight must be between 0 and 1")
    lex = {item_id: score for item_id, score in lexical if _finite(score)}
    den = {item_id: sim for item_id, sim in dense if _finite(sim)}
    lex_top = max(lex.values(), default=0.0)
    den_top = max(den.values(), default=0.0)
    den_floor = min(den.values(), default=0.0)
    fused: list[Fused] = []
    for item_id in {**lex, **den}:
        parts: dict[str, float] = {}
        lex_part = 0.0
        if item_id in lex:
            parts["bm25"] = lex[item_id]
            lex_part = lex[item_id] / lex_top if lex_top > 0 else 0.0
        den_part = 0.0
        if item_id in den:
            parts["dense"] = den[item_id]
        sim = den.get(item_id, den_floor)
        if den_top > 0:
            den_part = max(sim, 0.0) / den_top
        score = lexical_weight * lex_part + (1.0 - lexical_weight) * den_part
        parts["fused"] = score
        fused.append(Fused(item_id, score, parts))
    fused.sort(key=lambda f: (-f.score, f.id))
    return fused


def matches(metadata: Mapping[str, Any], where: Mapping[str, Any] | None) -> bool:
    """True when every `where` key equals the item's value (a bool never equals a number)."""
    if not where:
        return True
    for key, wanted in where.items():
        if key not in metadata:
            return False
        value = metadata[key]
        if isinstance(value, bool) != isinstance(wanted, bool) or value != wanted:
            return False
    return True


def _finite(value: float) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)
