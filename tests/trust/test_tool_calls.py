"""Malformed tool calls from the model: each becomes an error result the model reads, the turn still answers,
the next request is answered, and nothing the user had changes (files included)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.trust.test_inputs_kit import harness, seed  # noqa: F401 - the fixture

pytestmark = pytest.mark.trust("tool-calls")


def _root(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "keep.txt").write_text("precious notes\n", encoding="utf-8")
    return root


BAD_DECISIONS = {
    "invalid json": ('{"tool": "calculator", "arguments": {"expression": 2+2}}', "not valid JSON"),
    "cut off": ('{"tool": "files", "arguments": {"action": "delete", "path": "ke', "cut off"),
    "empty": ("", "not valid JSON"),
    "not an object": ('["calculator", "2+2"]', "must be a JSON object"),
    "tool not a string": ('{"tool": 7, "arguments": {}}', "must be a JSON object"),
    "unknown tool": ({"tool": "rm_rf", "arguments": {"path": "/"}}, "no tool named 'rm_rf'"),
    "wrong type": ({"tool": "calculator", "arguments": {"expression": 42}}, "invalid arguments for calculator"),
    "wrong enum": ({"tool": "files", "arguments": {"action": "shred", "path": "keep.txt"}},
                   "invalid arguments for files"),
    "arguments a list": ({"tool": "calculator", "arguments": ["2+2"]}, "invalid arguments"),
    "arguments bad string": ({"tool": "calculator", "arguments": "{expression: 2+2"}, "not valid JSON"),
    "missing argument": ({"tool": "calculator", "arguments": {}}, "invalid arguments for calculator"),
    "extra argument": ({"tool": "files", "arguments": {"action": "delete", "path": "keep.txt", "force": True}},
                       "invalid arguments for files"),
    "null arguments": ({"tool": "calculator", "arguments": None}, "invalid arguments"),
    "NUL in the tool name": ({"tool": "calcu\x00lator", "arguments": {}}, "no tool named"),
    "surrogate in an argument": ({"tool": "files", "arguments": {"action": "read", "path": "k\ud800.txt"}},
                                 "error:"),
    "huge tool name": ({"tool": "x" * 20_000, "arguments": {}}, "no tool named"),
}


@pytest.mark.parametrize("name", list(BAD_DECISIONS))
def test_a_malformed_call_is_an_error_the_model_reads(harness, tmp_path, name):
    decision, reason = BAD_DECISIONS[name]
    root = _root(tmp_path)
    h = harness(roots=[root])
    cid = seed(h)
    before = h.snapshot()
    h.backend.decisions[:0] = [decision, {"tool": "none"}]
    h.backend.answers.insert(0, "Sorry, that did not work.")
    turn = h.turn("please do the thing", cid)

    assert turn.error is None and turn.final.text == "Sorry, that did not work."
    [result] = turn.results
    assert not result.ok and result.output.startswith("error:") and reason in result.output
    assert len(result.output) < 5000, len(result.output)  # an error the model can read, not a flood
    result.output.encode("utf-8")
    assert "\x00" not in result.output
    # The model saw the failure in its prompt (as data), so it can tell the user.
    chat = [c for c in h.backend.calls if c["purpose"] == "chat"][-1]["messages"][-1]["content"]
    assert reason in chat
    h.assert_nothing_lost(before)
    h.assert_answers_next(cid)


def test_arguments_given_as_a_json_string_are_accepted(harness, tmp_path):
    h = harness(roots=[_root(tmp_path)])
    h.backend.decisions[:0] = [{"tool": "calculator", "arguments": '{"expression": "6*7"}'}]
    turn = h.turn("what is six times seven")
    [result] = turn.results
    assert result.ok and "42" in result.output
    h.assert_answers_next(turn.final.conversation_id)


@pytest.mark.parametrize("disabled", [["files"], ["files", "calculator"]], ids=["one", "several"])
def test_a_disabled_tool_is_neither_offered_nor_run(harness, tmp_path, disabled):
    root = _root(tmp_path)
    h = harness(roots=[root], tools={"disabled": disabled})
    cid = seed(h)
    before = h.snapshot()
    # The model is not offered the tool...
    h.backend.decisions[:0] = [{"tool": "files", "arguments": {"action": "delete", "path": "keep.txt"}}]
    turn = h.turn("delete keep.txt", cid)
    router = [c for c in h.backend.calls if c["purpose"] == "router"][-1]
    assert "files" not in str(router["schema"])
    # ...and a call it names anyway is refused before anything runs or asks.
    [result] = turn.results
    assert not result.ok and "disabled" in result.output
    assert (root / "keep.txt").read_text(encoding="utf-8") == "precious notes\n"
    h.assert_nothing_lost(before)
    h.assert_answers_next(cid)


def test_repeated_failing_calls_stop_after_max_retries_and_the_turn_answers(harness, tmp_path):
    h = harness(roots=[_root(tmp_path)], tools={"max_retries": 2, "max_steps": 10})
    cid = seed(h)
    before = h.snapshot()
    # Six different failing calls are scripted; the loop must give up after max_retries + 1 of them.
    h.backend.decisions[:0] = [{"tool": "calculator", "arguments": {"expression": f"1/0+{i}"}} for i in range(6)]
    h.backend.answers.insert(0, "I could not compute that.")
    turn = h.turn("divide one by zero", cid)
    assert [r.ok for r in turn.results] == [False, False, False]
    assert turn.error is None and turn.final.text == "I could not compute that."
    assert len(h.backend.decisions) == 3  # the rest were never asked for
    h.assert_nothing_lost(before)
    h.assert_answers_next(cid)


def test_an_identical_call_repeated_ends_the_loop(harness, tmp_path):
    h = harness(roots=[_root(tmp_path)], tools={"max_steps": 10})
    call = {"tool": "calculator", "arguments": {"expression": "2+2"}}
    h.backend.decisions[:0] = [call, call, call, call]
    turn = h.turn("what is 2+2")
    assert len(turn.results) == 1 and turn.results[0].ok
    assert turn.final.text == "ok"
    h.assert_answers_next(turn.final.conversation_id)


def test_a_side_effecting_malformed_call_never_asks_or_acts(harness, tmp_path):
    """A delete whose JSON was cut off is not 'repaired' into a delete: no approval asked, the file stays."""
    root = _root(tmp_path)
    h = harness(roots=[root])
    h.backend.decisions[:0] = ['{"tool": "files", "arguments": {"action": "delete", "path": "keep.txt"']
    turn = h.turn("delete keep.txt")
    assert not any(type(e).__name__ == "ApprovalRequested" for e in turn.events)
    assert (root / "keep.txt").exists()
    h.assert_answers_next(turn.final.conversation_id)


def test_a_router_crash_is_an_error_and_the_message_is_kept(harness, tmp_path, fake_backend):
    backend = fake_backend([], [], fail_on="router")
    h = harness(roots=[_root(tmp_path)], backend=backend)
    cid = seed_without_router(h)
    before = h.snapshot()
    turn = h.turn("what is 2+2", cid)
    assert turn.error is not None and turn.error.kind == "model" and "crashed" in turn.error.message
    assert [m.content for m in h.app.store.messages(cid) if m.role == "user"][-1] == "what is 2+2"
    h.assert_nothing_lost(before)
    backend.fail_on = None
    h.assert_answers_next(cid)


def seed_without_router(h) -> str:
    cid = h.app.new_conversation()
    h.app.memory.add("My favourite colour is teal.", "cli")
    return cid
