"""Choosing training examples: part the model was least sure of, part a plain random sample."""

from __future__ import annotations

import random
from typing import Callable, Sequence, TypeVar

T = TypeVar("T")


def pick(items: Sequence[T], n: int, *, uncertainty: Callable[[T], float | None], uncertain_share: float = 0.5,
         seed: int = 0) -> list[T]:
    """Up to `n` items: round(n * uncertain_share) most uncertain ones, the rest drawn at random.

    Taking only the most uncertain examples biases a training set toward the decision boundary (odd,
    ambiguous or noisy cases) and away from what the user usually asks, so the model can drift on
    ordinary questions; the random part keeps the set representative. Items whose uncertainty is None
    count as the least uncertain. The draw is seeded (the same call picks the same items) and the
    result keeps the items' original order.
    """
    if n < 0:
        raise ValueError(f"Cannot pick {n} items: the count must be 0 or more.")
    if not 0.0 <= uncertain_share <= 1.0:
        raise ValueError(f"The uncertain share must be between 0 and 1, not {uncertain_share}.")
    if n >= len(items):
        return list(items)

    def key(i: int) -> tuple[bool, float, int]:
        value = uncertainty(items[i])
        unmeasured = value is None or value != value  # NaN counts as not measured
        # Most uncertain first; unmeasured last; equal values keep their original order.
        return (unmeasured, 0.0 if unmeasured else -float(value), i)

    ranked = sorted(range(len(items)), key=key)
    top = ranked[:round(n * uncertain_share)]
    rest = sorted(ranked[len(top):])  # sampled from a fixed order, so the seed alone decides the draw
    chosen = set(top) | set(random.Random(seed).sample(rest, n - len(top)))
    return [items[i] for i in sorted(chosen)]
