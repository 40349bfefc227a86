"""Word error rate: normalisation and the edit distance over words."""

from __future__ import annotations

import pytest

from assistant.voice.wer import normalise, word_error_rate


def test_identical_after_normalising_is_zero():
    assert word_error_rate("And so, my fellow Americans: ask not!", "and so my fellow americans ask not") == 0.0
    assert word_error_rate("Don't stop", "dont stop") == 0.0


def test_substitution_deletion_insertion():
    assert word_error_rate("the cat sat down", "the bat sat down") == pytest.approx(0.25)
    assert word_error_rate("the cat sat down", "the cat down") == pytest.approx(0.25)
    assert word_error_rate("the cat sat down", "the cat sat right down") == pytest.approx(0.25)
    assert word_error_rate("a b", "x y z w") == pytest.approx(2.0)  # insertions can push it above 1


def test_numbers_stay_as_written():
    assert normalise("It costs $1,000.50, or 3.5%.") == ["it", "costs", "1,000.50", "or", "3.5"]
    assert word_error_rate("3.5 percent", "three point five percent") > 0  # no number spelling


def test_empty_reference():
    assert word_error_rate("", "") == 0.0
    assert word_error_rate("...", "") == 0.0
    assert word_error_rate("", "hello") == 1.0
