"""`biseo memory ...` in process, with the fast index: output, --json, id prefixes and one-line errors."""

from __future__ import annotations

import json

import pytest

from assistant.cli import main
from tests.memory.fakes import FakeIndex


@pytest.fixture(autouse=True)
def fast_index(monkeypatch):
    index = FakeIndex()
    index.close = lambda: None  # the same "folder" is opened again by the next command
    monkeypatch.setattr("assistant.memory.service.default_index", lambda *args: index)
    return index


def biseo(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["memory", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_add_list_search_edit_forget(capsys, fast_index):
    code, out, _ = biseo(capsys, "add", "my", "sister's", "birthday", "is", "May", "3")
    assert code == 0 and out.startswith("remembered: ") and "my sister's birthday is May 3" in out
    assert "typed by you in the CLI" in out
    code, out, _ = biseo(capsys, "list", "--json")
    rows = json.loads(out)
    assert [r["text"] for r in rows] == ["my sister's birthday is May 3"]
    mid = rows[0]["id"]
    assert rows[0]["source"]["kind"] == "cli" and rows[0]["created_at"] > 0
    code, out, _ = biseo(capsys, "search", "sister", "birthday")
    assert code == 0 and mid[:8] in out
    code, out, _ = biseo(capsys, "edit", mid[:6], "my sister's birthday is June 3")
    assert code == 0 and out.startswith("edited: ") and "June 3" in out
    code, out, _ = biseo(capsys, "history", mid[:6])
    assert "May 3" in out and "June 3" in out
    code, out, _ = biseo(capsys, "forget", mid[:6])
    assert code == 0 and out.startswith(f"forgotten {mid[:8]}: my sister's birthday is June 3")
    assert mid not in fast_index.items
    assert biseo(capsys, "list")[1].startswith("nothing remembered yet")
    assert "[forgotten]" in biseo(capsys, "list", "--all")[1]


def test_adding_a_changed_fact_says_what_it_replaces(capsys):
    biseo(capsys, "add", "I live in Busan")
    code, out, _ = biseo(capsys, "add", "I moved to Seoul")
    assert code == 0 and out.startswith("updated: ") and "replaces" in out and "I live in Busan" in out
    code, out, _ = biseo(capsys, "add", "--json", "I moved to Seoul")
    assert json.loads(out)["action"] == "unchanged"


@pytest.mark.parametrize("args, message", [
    (("edit", "zz", "text"), "not a memory id"),
    (("forget", "abcdef12"), "no memory has an id starting with 'abcdef12'"),
    (("add", " "), "cannot be empty"),
])
def test_errors_are_one_line(capsys, args, message):
    code, out, err = biseo(capsys, *args)
    assert code == 1 and err.startswith("biseo: ") and message in err and len(err.strip().splitlines()) == 1
