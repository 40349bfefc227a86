"""Choosing training examples: the most uncertain share plus a reproducible random rest, in the original order."""

from __future__ import annotations

import pytest

from assistant.learning.selection import pick

# (name, uncertainty): "e" and "g" were never measured.
ITEMS = [("a", 0.1), ("b", 2.0), ("c", 0.5), ("d", 3.0), ("e", None), ("f", 1.0), ("g", None), ("h", 0.2),
         ("i", 0.7), ("j", 1.5)]


def chosen(n, share=0.5, seed=0, items=ITEMS):
    return [name for name, _ in pick(items, n, uncertainty=lambda item: item[1], uncertain_share=share,
                                     seed=seed)]


def test_asking_for_as_many_or_more_gives_everything_in_order():
    assert chosen(10) == chosen(25) == [name for name, _ in ITEMS]
    assert chosen(0) == []


def test_all_uncertain_takes_the_most_uncertain_in_original_order():
    assert chosen(3, share=1.0) == ["b", "d", "j"]


def test_half_is_the_most_uncertain_and_the_rest_is_random_from_the_remainder():
    names = chosen(4)
    assert len(names) == len(set(names)) == 4
    assert {"d", "b"} <= set(names)  # round(4 * 0.5) = 2 most uncertain
    assert names == [n for n, _ in ITEMS if n in names]  # original order kept


def test_the_random_part_is_reproducible_and_depends_on_the_seed():
    assert chosen(5, share=0.2, seed=7) == chosen(5, share=0.2, seed=7)
    draws = {tuple(chosen(5, share=0.2, seed=seed)) for seed in range(20)}
    assert len(draws) > 1
    assert all("d" in draw for draw in draws)  # round(5 * 0.2) = 1: the most uncertain is always in


def test_unmeasured_items_rank_last_but_the_random_part_can_draw_them():
    assert chosen(9, share=1.0) == [n for n, _ in ITEMS if n not in ("g",)]  # "e" before "g": ties keep order
    seen = {n for seed in range(50) for n in chosen(3, share=0.0, seed=seed)}
    assert {"e", "g"} <= seen  # the random part is uniform over everything, measured or not


def test_bad_arguments_are_refused_in_plain_words():
    with pytest.raises(ValueError, match="between 0 and 1"):
        chosen(3, share=1.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        chosen(3, share=-0.1)
    with pytest.raises(ValueError, match="0 or more"):
        chosen(-1)
