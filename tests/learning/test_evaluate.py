"""The verdict of an A/B and the adapter strength chosen from it."""

from assistant.learning.evaluate import Scores, agreement, choose_strength, verdict


def scores(ppl, personal, sanity, total=20):
    return Scores(perplexity=ppl, text_perplexity=None, personal_correct=personal, personal_total=8,
                  sanity_correct=sanity, sanity_total=total, answers=[])


def test_any_measure_getting_worse_makes_the_adapter_worse():
    base = scores(35.0, 1, 16)
    assert verdict(base, scores(1.6, 7, 16))[0] == "better"
    label, reasons = verdict(base, scores(1.6, 7, 13))
    assert label == "worse" and reasons == ["general sanity set 80% -> 65%"]
    assert verdict(base, scores(1.6, 7, 15))[0] == "better"  # one question of twenty is within the tolerance
    assert verdict(base, scores(36.0, 1, 16))[0] == "worse"
    assert verdict(base, scores(35.0, 1, 16))[0] == "same"


def test_the_strongest_strength_that_is_not_worse_wins():
    base = scores(35.0, 1, 16)
    tried = [(1.0, scores(1.6, 7, 13)), (0.75, scores(1.4, 7, 15)), (0.5, scores(1.3, 7, 17)),
             (0.25, scores(2.2, 5, 17))]
    strength, after, label, _, table = choose_strength(base, tried)
    assert (strength, label, after.sanity_correct) == (0.5, "better", 17)
    assert [row["verdict"] for row in table] == ["worse", "better", "better", "better"]
    # All worse: the least bad one is kept, and said to be worse.
    strength, _, label, _, _ = choose_strength(base, [(1.0, scores(1.6, 7, 10)), (0.5, scores(1.5, 7, 12))])
    assert (strength, label) == (0.5, "worse")


def test_agreement_counts_positions_and_first_tokens():
    result = agreement([[1, 2, 3], [4, 5]], [[1, 2, 9], [7, 5]])
    assert result == {"top1_agreement": 0.6, "positions": 5, "first_token_agreement": 0.5, "prompts": 2}
