"""Whether an answer carries what the user taught: names and numbers of the reference, not the question's words."""

from assistant.learning.scoring import coverage, is_answered, key_terms


def test_key_terms_are_names_and_numbers_not_the_questions_words():
    assert key_terms("Captain, your cat is called Dubu.", "What is my cat's name?") == ["Dubu"]
    assert key_terms("Captain, your birthday is on March 14.", "When is my birthday?") == ["March", "14"]
    assert key_terms("You are allergic to peanuts.", "What am I allergic to?") == ["peanuts"]


def test_answers_are_judged_by_the_key_terms():
    terms = key_terms("Captain, you are a marine biologist at the Sokcho Aquarium.", "What is my job?")
    assert is_answered("You work at the Sokcho Aquarium as a marine biologist.", terms)
    assert not is_answered("You are a software engineer.", terms)
    assert coverage("a week has seven days", ["7|seven"]) == 1.0
    assert not is_answered("Dubuque", ["Dubu"])  # whole words only
    assert not is_answered("anything", [])
