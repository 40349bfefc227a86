"""The wake phrase is found however Whisper spells it, and not in ordinary speech."""

from __future__ import annotations

import pytest

from assistant.voice.wake import WakePhrase


@pytest.mark.parametrize("heard, command", [
    (" Hey Biseo, what is 12 times 7?", "what is 12 times 7?"),
    ("Hey, Bisseo. What time is it?", "What time is it?"),
    ("hey bee so what time is it", "what time is it"),
    ("Heybiseo tell me a joke", "tell me a joke"),
    ("Um, okay. Hey Biseo, set a timer.", "set a timer."),
    (" Hey Biseo", ""),
])
def test_the_wake_phrase_is_found_and_the_command_after_it_kept(heard, command):
    match = WakePhrase("hey biseo").find(heard)
    assert match is not None and match.command == command


@pytest.mark.parametrize("heard", [
    "The weather was lovely yesterday and we walked to the park.",
    "Hey Mike, so what time is it?",
    "Hey my dear, what is it?",
    "Maybe so, what time it is",
    "They visit Seoul every year.",
    "",
])
def test_ordinary_speech_does_not_wake_it(heard):
    assert WakePhrase("hey biseo").find(heard) is None


def test_the_phrase_is_configurable():
    wake = WakePhrase("computer")
    assert wake.find("Computer, lights on").command == "lights on"
    assert wake.find("Hey Biseo, lights on") is None


def test_an_empty_phrase_is_refused():
    with pytest.raises(ValueError):
        WakePhrase("  ,, ")
