"""Streamed replies cut into sentences to speak, and markdown made speakable."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.voice.speech_text import CODE_PHRASE, SentenceSplitter, speakable


def whole(text: str, **kw) -> list[str]:
    s = SentenceSplitter(**kw)
    return s.feed(text) + s.flush()


def by_char(text: str, **kw) -> list[str]:
    s = SentenceSplitter(**kw)
    out = [sentence for ch in text for sentence in s.feed(ch)]
    return out + s.flush()


def in_pieces(text: str, cuts: list[int], **kw) -> list[str]:
    s = SentenceSplitter(**kw)
    out: list[str] = []
    bounds = [0, *sorted(set(c % (len(text) + 1) for c in cuts)), len(text)]
    for a, b in zip(bounds, bounds[1:]):
        out += s.feed(text[a:b])
    return out + s.flush()


@pytest.mark.parametrize("text, expected", [
    ("Pi is about 3.14 and the bill is $1,234.56 today. That is all.",
     ["Pi is about 3.14 and the bill is $1,234.56 today.", "That is all."]),
    ("Bring fruit, e.g. apples, i.e. something sweet. Dr. Smith and Mrs. Jones agree.",
     ["Bring fruit, e.g. apples, i.e. something sweet.", "Dr. Smith and Mrs. Jones agree."]),
    ("It is Mr. Brown vs. Mr. Green at 5 p.m. today. Come along.",
     ["It is Mr. Brown vs. Mr. Green at 5 p.m. today.", "Come along."]),
    ("I packed shirts, socks, etc. Then I left the house.",
     ["I packed shirts, socks, etc.", "Then I left the house."]),
    ("We met in the U.S. last year. It was fun.", ["We met in the U.S. last year.", "It was fun."]),
    ("J. R. R. Tolkien wrote The Hobbit. John F. Kennedy was a president.",
     ["J. R. R. Tolkien wrote The Hobbit.", "John F. Kennedy was a president."]),
    ("Open todo.txt in your editor. Then mail bob@example.com about it.",
     ["Open todo.txt in your editor.", "Then mail bob@example.com about it."]),
    ("Wait... what was that noise? I heard a loud bang outside... Then silence fell.",
     ["Wait... what was that noise?", "I heard a loud bang outside...", "Then silence fell."]),
    ("Really?! I did not know that at all.", ["Really?!", "I did not know that at all."]),
    ('He said "stop right there." Then he left the room.',
     ['He said "stop right there."', "Then he left the room."]),
    ("The answer is 84.", ["The answer is 84."]),
    ("他说你好。我们走吧！", ["他说你好。", "我们走吧！"]),
])
def test_sentences_end_where_a_reader_would_pause(text, expected):
    assert whole(text) == expected
    assert by_char(text) == expected


def test_a_numbered_list_is_read_item_by_item_without_the_numbers_as_sentences():
    text = "Here is the plan:\n1. Buy milk at the shop\n2. Walk the dog twice\n10. Call Mom tonight.\nDone."
    assert whole(text) == ["Here is the plan:", "1. Buy milk at the shop", "2. Walk the dog twice",
                           "10. Call Mom tonight.", "Done."]


def test_a_newline_ends_a_sentence_even_without_punctuation():
    assert whole("First line without a stop\nSecond line without one either") == [
        "First line without a stop", "Second line without one either"]


def test_the_first_sentence_is_ready_as_soon_as_the_character_after_its_stop_arrives():
    s = SentenceSplitter()
    assert s.feed("Sure") == []
    assert s.feed("!") == []  # the next piece could still be "!" or part of the same sentence
    assert s.feed(" ") == ["Sure!"]
    assert s.feed("The answer is 3") == []
    assert s.feed(".") == []
    assert s.feed("14") == []  # a decimal, not the end of the sentence
    assert s.feed(" exactly. ") == ["The answer is 3.14 exactly."]
    assert s.flush() == []


def test_a_stop_followed_by_a_digit_in_the_next_token_is_not_an_end():
    s = SentenceSplitter()
    out = s.feed("It costs $1,234") + s.feed(".") + s.feed("56 in total") + s.feed(". ")
    assert out == ["It costs $1,234.56 in total."]


def test_short_fragments_after_the_first_sentence_wait_for_the_next_one():
    assert whole("Hello there. Yes. No. That is the whole story.") == [
        "Hello there.", "Yes. No. That is the whole story."]
    assert whole("A long first sentence is here. Okay.") == ["A long first sentence is here.", "Okay."]


def test_a_very_long_sentence_is_cut_at_a_comma_so_speech_can_start():
    text = ", ".join(["this part goes on"] * 40) + "."
    out = whole(text)
    assert len(out) > 1
    assert all(len(s) < 260 for s in out)
    assert " ".join(out) == text
    assert out[0].endswith(",")


def test_a_very_long_sentence_without_commas_is_cut_at_a_space():
    text = " ".join(["word"] * 300) + "."
    out = whole(text)
    assert len(out) > 1 and " ".join(out) == text


def test_code_blocks_are_never_spoken_even_when_fences_arrive_in_pieces():
    reply = ("Here is the script:\n```python\nprint('Hello. World!')\nx = 3.14\n```\n"
             "Run it with care. Then look at the output.\nAnd a second one:\n````\nrm -rf build. \n````\nDone now.")
    expected = ["Here is the script:", CODE_PHRASE, "Run it with care.", "Then look at the output.",
                "And a second one:", CODE_PHRASE, "Done now."]
    assert whole(reply) == expected
    assert by_char(reply) == expected
    s = SentenceSplitter()
    out = s.feed("Look:\n`") + s.feed("`") + s.feed("`py\nsecret. code") + s.feed(" here.\n`") + s.feed("``\nOk.")
    assert out + s.flush() == ["Look:", CODE_PHRASE, "Ok."]


def test_an_unclosed_code_block_stays_silent_to_the_end():
    assert whole("Try this:\n```\nimport os. Nothing to say here.\n") == ["Try this:", CODE_PHRASE]


def test_inline_code_is_read_as_words():
    assert whole("Call `os.path.join()` with two names. It joins them.") == [
        "Call os.path.join() with two names.", "It joins them."]


def test_markdown_marks_are_not_read_aloud():
    reply = ("## The answer\n**Twelve** times _seven_ is __84__.\n> A quoted remark here.\n"
             "- first item in the list\n* second item in the list\n---\n"
             "| Name | Age |\n|------|----:|\n| Bob | 42 |\nSee [the docs](https://example.com/docs) for more.")
    assert whole(reply, min_words=0) == [
        "The answer", "Twelve times seven is 84.", "A quoted remark here.", "first item in the list",
        "second item in the list", "Name, Age", "Bob, 42", "See the docs for more."]


def test_bare_addresses_are_read_as_their_host_name():
    assert whole("Visit https://www.python.org/downloads/release/ today. Or http://localhost:8080/x.") == [
        "Visit python.org today.", "Or localhost."]


def test_snake_case_names_keep_their_underscores_inside_code():
    assert speakable("Define `__init__` and my_var_name here.") == "Define __init__ and my_var_name here."


def test_speakable_turns_a_markdown_reply_into_plain_sentences():
    md = ("# Steps\n1. Open the file\n2. Save it\n\n```bash\nls -la\n```\n"
          "Details at <https://docs.example.org/a/b>. **Done!**")
    assert speakable(md) == ("Steps. 1. Open the file. 2. Save it. (code shown on screen) "
                             "Details at docs.example.org. Done!")
    assert speakable("") == ""
    assert speakable("```\nonly code\n```") == CODE_PHRASE


def test_numbers_are_kept_as_written():
    assert speakable("It is 3.5% of 1,200 or 42.") == "It is 3.5% of 1,200 or 42."


def test_flush_returns_the_unfinished_last_sentence():
    s = SentenceSplitter()
    assert s.feed("No full stop at the end") == []
    assert s.flush() == ["No full stop at the end"]
    assert s.flush() == []


PIECES = ["Hello there.", " It is 3.14 today.", " Dr. Smith said hi!", " See e.g. this one.", "\n",
          "\n\n", "1. Buy milk\n", "- item\n", " Wait... what?", " Costs $1,234.56 now.", " etc. And",
          "```py\nx = 1. y\n```\n", "``", "`", " Visit https://x.org/a.b now.", " Yes.", " no.", "**bold** ",
          "todo.txt ", "你好。", " U.S. people", " The end", "| a | b |\n", " a, b, c;", "  ", "?", "!", "."]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=25), st.lists(st.integers(0, 10_000), max_size=30))
def test_streaming_in_any_pieces_gives_the_same_sentences_as_all_at_once(parts, cuts):
    text = "".join(parts)
    expected = whole(text)
    assert in_pieces(text, cuts) == expected
    assert by_char(text) == expected


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([p for p in PIECES if p.strip("`")]), max_size=15),
       st.lists(st.integers(0, 10_000), max_size=20))
def test_code_is_never_spoken_whatever_the_pieces(parts, cuts):
    # (lone backticks are left out: they could open a fence of their own, and then "SECRET" closes it)
    text = "".join(parts) + "\n```\nSECRET_CODE. print('SECRET')\n```\n" + "".join(reversed(parts))
    out = in_pieces(text, cuts)
    assert not any("SECRET" in sentence for sentence in out)
    assert all(sentence.strip() for sentence in out)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([p for p in PIECES if p.strip("`")]), max_size=20))
def test_sentences_from_the_splitter_are_already_speakable(parts):
    # Passing a sentence through speakable() again changes nothing (inline code aside: `__init__` keeps
    # its underscores the first time, and outside backticks they read as bold).
    for sentence in whole("".join(parts)):
        assert speakable(sentence) == sentence
