"""Automatic facts: what users state about themselves is found; questions, hypotheticals, others' words are not."""

from __future__ import annotations

import pytest

from assistant.memory.extract import extract_facts, first_person


@pytest.mark.parametrize("message, text, subject", [
    ("my sister's birthday is May 3", "My sister's birthday is May 3", "sister's birthday"),
    ("My sister\u2019s birthday is actually June 3.", "My sister's birthday is June 3", "sister's birthday"),
    ("I prefer short answers", "I prefer short answers", "preference: answers"),
    ("I live in Busan", "I live in Busan", "home"),
    ("btw I just moved to Seoul!", "I live in Seoul", "home"),
    ("my dog is called Bori", "My dog is called Bori", "dog's name"),
    ("My dog's name is Bori.", "My dog's name is Bori", "dog's name"),
    ("I have a cat named Nabi", "My cat is called Nabi", "cat's name"),
    ("I'm allergic to peanuts", "I am allergic to peanuts", "allergy: peanuts"),
    ("call me Min", "Call me Min", "preferred name"),
    ("my name is Minji Kim", "My name is Minji Kim", "name"),
    ("Please remember that my favorite color is green.", "My favorite color is green", "favorite color"),
    ("Can you remember that I'm vegetarian", "I am vegetarian", "diet"),
    # The router may not pick `remember` for these; automatic memory still keeps them.
    ("Don't forget that my dog is called Bori", "My dog is called Bori", "dog's name"),
    ("Keep in mind that I prefer short answers", "I prefer short answers", "preference: answers"),
    ("I am 34 years old", "I am 34 years old", "age"),
    ("I work at Samsung", "I work at Samsung", "work"),
    ("I don't like cilantro", "I don't like cilantro", "taste: cilantro"),
    ("Note that my email is min@example.com.", "My email is min@example.com", "email"),
])
def test_first_person_statements_become_facts(message, text, subject):
    facts = extract_facts(message)
    assert [(f.text, f.subject) for f in facts] == [(text, subject)]


def test_several_facts_in_one_message():
    facts = extract_facts("Hi! I'm Min. I live in Busan and I work as a nurse. What's the weather like?")
    assert [f.text for f in facts] == ["I live in Busan", "I work as a nurse"]


@pytest.mark.parametrize("message", [
    "what is my sister's birthday?",
    "what's my sister's birthday",
    "when is my sister's birthday",
    "Do you know my name is Min",
    "If my sister's birthday is May 3, when should I buy a gift",
    "Imagine I live in Paris.",
    "What if I lived in Busan",
    "I think I live in Busan",
    "Maybe my favorite color is blue",
    "Write a story where my dog is called Rex.",
    'Translate "my name is Bond" into Korean.',
    "my friend says my sister's birthday is May 3",
    "The assistant said my birthday is May 3",
    "my code is broken",
    "My flight was delayed.",
    "I'm a bit tired",
    "I like it",
    "Tell me a joke about my dog",
    "",
])
def test_questions_hypotheticals_and_other_words_are_not_facts(message):
    assert extract_facts(message) == []


def test_a_bare_person_is_no_key_to_replace_by():
    # "my sister is Jane" and "my sister is a doctor" are both true at once.
    assert extract_facts("my sister is Jane")[0].subject == ""
    assert extract_facts("my sister is a doctor")[0].subject == ""


def test_changed_facts_share_their_subject():
    assert extract_facts("I prefer long answers")[0].subject == extract_facts("I prefer short answers")[0].subject
    assert extract_facts("I like cilantro")[0].subject == extract_facts("I hate cilantro")[0].subject
    assert extract_facts("I live in Seoul")[0].subject == extract_facts("I moved to Busan")[0].subject


@pytest.mark.parametrize("said, mine", [
    ("The user's sister's birthday is June 3", "my sister's birthday is June 3"),
    ("User lives in Busan", "I live in Busan"),
    ("the user prefers short answers", "I prefer short answers"),
    ("The user is allergic to peanuts", "I am allergic to peanuts"),
    ("my dog is Bori", "my dog is Bori"),
])
def test_facts_worded_about_the_user_read_as_the_users_own(said, mine):
    assert first_person(said) == mine
