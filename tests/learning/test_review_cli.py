"""`biseo review`: go through the least sure answers in the terminal, or list them."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest

from assistant.cli import main
from assistant.feedback.store import FeedbackStore
from assistant.history.store import HistoryStore
from assistant.paths import resolve_paths


@pytest.fixture
def answers():
    """Five measured answers and one unmeasured; returns {prompt: answer message id}."""
    paths = resolve_paths().ensure()
    store = HistoryStore(paths.history_db)
    cid = store.create_conversation()
    ids = {}
    for prompt, answer, mean in [("capital of France?", "Paris.", 0.1), ("my cat's name?", "Max.", 2.0),
                                 ("my sister's colour?", "Blue.", 1.5), ("what did I eat?", "A banana.", 1.0),
                                 ("my dog's name?", "Rex.", 0.5), ("hello", "Hi!", None)]:
        tid, _ = store.begin_turn(cid, prompt)
        meta = {"uncertainty": {"mean_entropy": mean, "max_entropy": 2 * mean, "tokens": 4}} if mean else None
        ids[prompt] = store.add_message(cid, tid, "assistant", answer, meta=meta)
        store.finish_turn(tid, "done")
    store.close()
    return ids


def feedback_rows():
    paths = resolve_paths()
    history = HistoryStore(paths.history_db)
    store = FeedbackStore(paths.data_dir / "feedback.db", history=history)
    try:
        return sorted((f.kind, f.prompt, f.rating, f.corrected) for f in store.list())
    finally:
        store.close()
        history.close()


def review(monkeypatch, typed: str, *argv: str) -> int:
    monkeypatch.setattr(sys, "stdin", io.StringIO(typed))
    return main(["review", *argv])


def test_good_bad_correct_skip_quit(answers, monkeypatch, capsys):
    # cat: good; sister: "x" is not a choice, then bad; eat: correct, an empty answer goes back, then skip;
    # dog: correct with two lines; France: quit.
    typed = "g\nx\nb\nc\n\ns\nc\nRex is my neighbour's dog.\nMine is Bello.\n\nq\n"
    assert review(monkeypatch, typed) == 0
    out = capsys.readouterr().out
    assert out.index("my cat's name?") < out.index("my sister's colour?") < out.index("what did I eat?")
    assert "Biseo answered: Max." in out and "unsure: 2.00 (mean token entropy)" in out
    assert "Type g, b, c, s or q." in out
    assert "hello" not in out  # unmeasured answers are not offered
    assert out.rstrip().endswith("Reviewed 3, skipped 1; 2 left.")
    assert feedback_rows() == [
        ("correction", "my dog's name?", 0, "Rex is my neighbour's dog.\nMine is Bello."),
        ("rating", "my cat's name?", 1, ""), ("rating", "my sister's colour?", -1, "")]

    # What was reviewed is not asked again; the input ending stops like q.
    assert review(monkeypatch, "s\n") == 0
    out = capsys.readouterr().out
    assert "what did I eat?" in out and "my cat's name?" not in out
    assert out.rstrip().endswith("Reviewed 0, skipped 1; 2 left.")


def test_list_and_json(answers, capsys):
    assert main(["review", "--list", "--limit", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "my cat's name? -> Max." in lines[1] and lines[1].lstrip().startswith("2.00")
    assert "my sister's colour? -> Blue." in lines[2]
    assert "3 more" in lines[-1]

    assert main(["review", "--list", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["prompt"], r["answer"], r["uncertainty"]) for r in rows] == [
        ("my cat's name?", "Max.", 2.0), ("my sister's colour?", "Blue.", 1.5), ("what did I eat?", "A banana.", 1.0),
        ("my dog's name?", "Rex.", 0.5), ("capital of France?", "Paris.", 0.1)]
    assert rows[0]["message_id"] == answers["my cat's name?"] and rows[0]["max_entropy"] == 4.0
    assert rows[0]["tokens"] == 4


def test_an_empty_queue_says_so(monkeypatch, capsys):
    assert review(monkeypatch, "") == 0
    out = capsys.readouterr().out
    assert "queue is empty" in out and "measured as you chat" in out
    assert main(["review", "--list"]) == 0
    assert "queue is empty" in capsys.readouterr().out
    assert main(["review", "--list", "--json"]) == 0
    assert capsys.readouterr().out == ""


def test_a_bad_limit_is_refused(capsys):
    with pytest.raises(SystemExit):
        main(["review", "--limit", "0"])
    assert "1 or more" in capsys.readouterr().err


def test_review_does_not_load_the_model(answers):
    code = ("import sys; from assistant.cli import main; main(['review', '--list']); "
            "print('llama_cpp' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ),
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "my cat's name?" in proc.stdout and proc.stdout.split()[-1] == "False"
