"""Spoken approvals: only a clear yes approves; the question shows the real arguments."""

from __future__ import annotations

import pytest

from assistant.voice.approval import approval_question, heard_yes


@pytest.mark.parametrize("said", ["Yes.", "yes please", "Yeah, go ahead.", "Sure, do it.", "Okay."])
def test_a_clear_yes_approves(said):
    assert heard_yes(said)


@pytest.mark.parametrize("said", ["No.", "No, don't.", "Yes, no, wait.", "", "What?", "Not now.", "Do not."])
def test_anything_else_is_a_no(said):
    assert not heard_yes(said)


def test_the_question_names_the_tool_and_its_exact_arguments():
    q = approval_question("files", {"action": "write", "path": "todo.txt", "content": "buy milk"})
    assert "files" in q and "todo.txt" in q and "buy milk" in q and "yes or no" in q


def test_long_arguments_are_shortened_when_spoken():
    q = approval_question("files", {"content": "x" * 1000})
    assert len(q) < 250
