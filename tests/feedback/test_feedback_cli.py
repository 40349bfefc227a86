"""`biseo feedback ...`: rate, correct, mark, list, export and delete from the terminal."""

from __future__ import annotations

import argparse
import json

import pytest

from assistant.cli import CLIError
from assistant.feedback.cli import register
from assistant.history.store import HistoryStore
from assistant.paths import resolve_paths


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="biseo")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["feedback", *argv])
    return args.func(args)


@pytest.fixture
def answer():
    """A conversation with one answered question; returns (conversation id, answer id)."""
    store = HistoryStore(resolve_paths().ensure().history_db)
    cid = store.create_conversation()
    tid, _ = store.begin_turn(cid, "capital of Australia?")
    aid = store.add_message(cid, tid, "assistant", "Sydney.")
    store.finish_turn(tid, "done")
    store.close()
    return cid, aid


def test_rate_correct_list_export_delete(answer, capsys, tmp_path):
    cid, aid = answer
    assert run("rate", "last", "down", "--note", "wrong city") == 0
    assert f"rated {aid[:8]} down" in capsys.readouterr().out
    assert run("correct", aid[:8], "Canberra.") == 0
    assert "correction saved" in capsys.readouterr().out
    assert run("mark", cid[:8]) == 0
    assert "marked for learning" in capsys.readouterr().out

    run("list")
    out = capsys.readouterr().out
    assert "down  capital of Australia?" in out and "fix   capital of Australia? -> Canberra." in out
    run("list", "--json", "--kind", "rating")
    entries = json.loads(capsys.readouterr().out)
    assert [(e["rating"], e["note"], e["original"]) for e in entries] == [(-1, "wrong city", "Sydney.")]

    target = tmp_path / "out.jsonl"
    run("export", str(target))
    assert "wrote 3 records" in capsys.readouterr().out
    assert len(target.read_text().splitlines()) == 3

    run("delete", entries[0]["id"][:8])
    run("rate", aid, "clear")
    assert "rating removed" in capsys.readouterr().out.splitlines()[-1]
    run("list", "--json", "--kind", "rating")
    assert json.loads(capsys.readouterr().out) == []


def test_plain_errors(answer):
    with pytest.raises(CLIError, match="no single message"):
        run("rate", "zzzz", "up")
    with pytest.raises(CLIError, match="No single feedback entry"):
        run("delete", "abcd")
    with pytest.raises(SystemExit):
        run("rate", "last", "sideways")
