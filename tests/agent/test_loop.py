"""The turn loop with a scripted backend: tool calls, approvals, bad calls, limits, cancel and faults."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.agent.loop import Agent, LoopConfig
from assistant.api import ToolContext, ToolError, tool
from assistant.cancel import CancelToken
from assistant.events import ApprovalRequested, ErrorEvent, Final, Token, ToolCallRequested, ToolResult, TurnStarted
from assistant.extensions.manager import PluginManager
from assistant.history.store import HistoryStore
from assistant.tools.executor import ToolExecutor

DELETED: list[str] = []


@tool(examples=[("what is 2+2", {"a": 2, "b": 2})])
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool(side_effects=True)
def delete_note(name: str) -> str:
    """Delete a note by name."""
    DELETED.append(name)
    return f"deleted {name}"


@tool
def broken(x: str) -> str:
    """A tool that always fails."""
    raise ToolError("the service is down")


@tool(timeout_s=0.5)
def slow(x: str, *, ctx: ToolContext) -> str:
    """A tool that never finishes on time."""
    ctx.cancel.wait(5)
    return "late"


class _Plugin:
    @staticmethod
    def register_tools(register):
        for f in (add, delete_note, broken, slow):
            register(f)


def make_agent(tmp_path: Path, backend, **config) -> Agent:
    from assistant.api import hookimpl

    class Module:
        @hookimpl
        def register_tools(self, register):
            for f in (add, delete_note, broken, slow):
                register(f)

    pm = PluginManager()
    pm.load_module("test", Module())
    store = HistoryStore(tmp_path / "history.sqlite3")
    return Agent(backend=lambda: backend, store=store, registry=pm.registry,
                 executor=ToolExecutor(pm.registry, timeout_s=5), config=LoopConfig(persona="You help.", **config),
                 tool_context=lambda name, cid, cancel: ToolContext(name, cid, cancel))


def run(agent: Agent, text: str, cid: str | None = None, approve: bool | None = None, cancel=None):
    cid = cid or agent.store.create_conversation()
    events = []
    for event in agent.run(cid, text, cancel=cancel):
        if isinstance(event, ApprovalRequested) and approve is not None:
            event.approve() if approve else event.deny("no thanks")
        events.append(event)
    return cid, events


def of(events, kind):
    return [e for e in events if isinstance(e, kind)]


def test_tool_call_result_reaches_the_answer_and_history(tmp_path, fake_backend):
    backend = fake_backend([{"tool": "add", "arguments": {"a": 2, "b": 3}}, {"tool": "none"}], ["It is 5."])
    agent = make_agent(tmp_path, backend)
    cid, events = run(agent, "what is 2+3")
    assert isinstance(events[0], TurnStarted)
    assert of(events, ToolCallRequested)[0].arguments == {"a": 2, "b": 3}
    result = of(events, ToolResult)[0]
    assert result.ok and result.output == "5"
    assert "".join(e.text for e in of(events, Token)) == "It is 5."
    assert isinstance(events[-1], Final) and events[-1].text == "It is 5."
    # The answer prompt carries the tool result after the user's words, as data.
    answer_prompt = [c for c in backend.calls if c["purpose"] == "chat"][0]["messages"]
    assert 'add(a=2, b=3) returned:\n<untrusted source="tool add">\n5\n</untrusted>' in answer_prompt[-1]["content"]
    roles = [m.role for m in agent.store.messages(cid)]
    assert roles == ["user", "tool_call", "tool_result", "assistant"]


def test_side_effect_runs_only_after_yes(tmp_path, fake_backend):
    DELETED.clear()
    decision = {"tool": "delete_note", "arguments": {"name": "groceries"}}
    agent = make_agent(tmp_path, fake_backend([decision, {"tool": "none"}], ["Deleted."]))
    _, events = run(agent, "delete my groceries note", approve=True)
    approval = of(events, ApprovalRequested)[0]
    assert approval.arguments == {"name": "groceries"}
    assert DELETED == ["groceries"] and of(events, ToolResult)[0].ok


def test_denial_reaches_the_model_as_a_denial(tmp_path, fake_backend):
    DELETED.clear()
    backend = fake_backend([{"tool": "delete_note", "arguments": {"name": "x"}}], ["I did not delete it."])
    agent = make_agent(tmp_path, backend)
    _, events = run(agent, "delete note x", approve=False)
    result = of(events, ToolResult)[0]
    assert DELETED == [] and not result.ok and result.denied
    assert "denied" in result.output
    answer_prompt = [c for c in backend.calls if c["purpose"] == "chat"][0]["messages"]
    assert "denied" in answer_prompt[-1]["content"]


def test_unanswered_approval_counts_as_no(tmp_path, fake_backend):
    DELETED.clear()
    agent = make_agent(tmp_path, fake_backend([{"tool": "delete_note", "arguments": {"name": "x"}}], ["ok"]))
    _, events = run(agent, "delete note x", approve=None)
    assert DELETED == [] and of(events, ToolResult)[0].denied


@pytest.mark.parametrize("decision, expected", [
    ('{"tool": "add", "arguments": {"a": 1', "not valid JSON"),
    ('[1, 2]', "must be a JSON object"),
    ({"tool": "nope", "arguments": {}}, "no tool named 'nope'"),
    ({"tool": "add", "arguments": {"a": "one", "b": 2}}, "invalid arguments for add"),
    ({"tool": "broken", "arguments": {"x": "y"}}, "the service is down"),
    ({"tool": "slow", "arguments": {"x": "y"}}, "did not finish within 0.5 s"),
])
def test_bad_calls_become_error_results_not_crashes(tmp_path, fake_backend, decision, expected):
    agent = make_agent(tmp_path, fake_backend([decision, {"tool": "none"}], ["Sorry, that failed."]))
    cid, events = run(agent, "do it")
    result = of(events, ToolResult)[0]
    assert not result.ok and expected in result.output
    assert isinstance(events[-1], Final)
    # The next turn in the same conversation works and sees a clean history.
    _, events2 = run(agent, "hello", cid=cid)
    assert isinstance(events2[-1], Final)


def test_disabled_tool_is_refused_and_not_offered(tmp_path, fake_backend):
    backend = fake_backend([{"tool": "add", "arguments": {"a": 1, "b": 1}}], ["ok"])
    agent = make_agent(tmp_path, backend, disabled_tools=["add"])
    agent.executor.disabled = {"add"}
    _, events = run(agent, "1+1")
    assert "disabled" in of(events, ToolResult)[0].output
    schema = backend.calls[0]["schema"]
    assert "add" not in [o["properties"]["tool"]["const"] for o in schema["oneOf"]]


def test_repeated_failures_are_bounded(tmp_path, fake_backend):
    failing = [{"tool": "broken", "arguments": {"x": str(i)}} for i in range(10)]
    agent = make_agent(tmp_path, fake_backend(failing, ["gave up"]), max_retries=2, max_steps=10)
    _, events = run(agent, "try hard")
    assert len(of(events, ToolResult)) == 3 and events[-1].text == "gave up"


def test_max_steps_then_answer(tmp_path, fake_backend):
    calls = [{"tool": "add", "arguments": {"a": i, "b": 1}} for i in range(10)]
    agent = make_agent(tmp_path, fake_backend(calls, ["done"]), max_steps=3)
    _, events = run(agent, "count")
    assert len(of(events, ToolResult)) == 3 and isinstance(events[-1], Final)


def test_repeated_identical_call_ends_tool_use(tmp_path, fake_backend):
    same = {"tool": "add", "arguments": {"a": 1, "b": 1}}
    agent = make_agent(tmp_path, fake_backend([same, same, same], ["2"]))
    _, events = run(agent, "1+1")
    assert len(of(events, ToolResult)) == 1 and events[-1].text == "2"


def test_backend_fault_ends_turn_with_message_and_keeps_history(tmp_path, fake_backend):
    agent = make_agent(tmp_path, fake_backend([{"tool": "none"}], fail_on="chat"))
    cid, events = run(agent, "hello there")
    assert isinstance(events[-1], ErrorEvent) and "crashed" in events[-1].message
    messages = agent.store.messages(cid)
    assert messages[0].content == "hello there" and messages[0].turn_status == "error"
    # The failed turn is not replayed to the model next time.
    agent._backend = lambda: fake_backend([{"tool": "none"}], ["hi"])
    backend2 = agent._backend()
    agent._backend = lambda: backend2
    run(agent, "again", cid=cid)
    answer_prompt = [c for c in backend2.calls if c["purpose"] == "chat"][0]["messages"]
    assert all("hello there" not in m["content"] for m in answer_prompt)


def test_cancel_stops_streaming_and_marks_turn(tmp_path, fake_backend):
    cancel = CancelToken()
    agent = make_agent(tmp_path, fake_backend([{"tool": "none"}], ["one two three four five"]))
    cid = agent.store.create_conversation()
    got = []
    for event in agent.run(cid, "count", cancel=cancel):
        got.append(event)
        if isinstance(event, Token):
            cancel.cancel()
    final = got[-1]
    assert isinstance(final, Final) and final.cancelled and final.text == "one"
    assert agent.store.messages(cid)[-1].turn_status == "cancelled"


def test_message_larger_than_context_is_refused_clearly(tmp_path, fake_backend):
    agent = make_agent(tmp_path, fake_backend(context_length=600), max_tokens=100)
    cid, events = run(agent, "word " * 5000)
    assert isinstance(events[-1], ErrorEvent) and "too long" in events[-1].message
    assert agent.store.messages(cid)[0].content.startswith("word word")  # the text is kept
    _, events2 = run(agent, "short question", cid=cid)
    assert isinstance(events2[-1], Final)


def test_old_turns_are_dropped_to_fit_the_context(tmp_path, fake_backend):
    backend = fake_backend(context_length=400)
    agent = make_agent(tmp_path, backend, max_tokens=100)
    cid = agent.store.create_conversation()
    for i in range(30):
        backend.answers.append(f"answer {i} " + "blah " * 20)
        run(agent, f"question {i}", cid=cid)
    last_prompt = [c for c in backend.calls if c["purpose"] == "chat"][-1]["messages"]
    assert last_prompt[0]["role"] == "system" and "question 29" in last_prompt[-1]["content"]
    assert all("question 0\n" not in m["content"] and m["content"] != "question 0" for m in last_prompt)


@pytest.mark.parametrize("text", ["bad \udc80 surrogate", "nul\x00byte", "\x00\x00  "])
def test_hostile_text_is_cleaned_or_refused(tmp_path, fake_backend, text):
    agent = make_agent(tmp_path, fake_backend())
    cid, events = run(agent, text)
    if text.strip("\x00 "):
        assert isinstance(events[-1], Final)
        stored = agent.store.messages(cid)[0].content
        assert "\x00" not in stored and "\udc80" not in stored
        stored.encode("utf-8")
    else:
        assert isinstance(events[-1], ErrorEvent) and "empty" in events[-1].message


def test_every_event_serialises_to_json(tmp_path, fake_backend):
    import json

    agent = make_agent(tmp_path, fake_backend([{"tool": "delete_note", "arguments": {"name": "x"}}], ["no"]))
    _, events = run(agent, "delete note x", approve=False)
    kinds = {json.loads(json.dumps(e.to_dict()))["type"] for e in events}
    assert {"turn_started", "tool_call", "approval_needed", "tool_result", "token", "final"} <= kinds


def test_context_citations_reach_final_and_hinted_tools_narrow_the_first_choice(tmp_path, fake_backend):
    from assistant.context import ContextBlock

    backend = fake_backend([{"tool": "add", "arguments": {"a": 2, "b": 3}}, {"tool": "none"}], ["5 [1]"])
    agent = make_agent(tmp_path, backend)
    cite = {"n": 1, "source": "/docs/sums.csv", "file": "sums.csv", "section": "rows 2-3"}
    agent.context_providers.append(lambda text, cid: ContextBlock("[1] sums.csv: 2, 3", [cite], tools=["add"],
                                                                           router_note="sums.csv (columns: a, b)"))
    _, events = run(agent, "what is the total in sums.csv?")
    schemas = [c["schema"] for c in backend.calls if c["purpose"] == "router"]
    router_prompt = [c["messages"] for c in backend.calls if c["purpose"] == "router"][0]
    assert "(sums.csv (columns: a, b))" in router_prompt[-1]["content"]  # the router sees the columns
    # First step: only the hinted tool, no "none"; later steps: every tool again, and "none".
    assert [o["properties"]["tool"]["const"] for o in schemas[0]["oneOf"]] == ["add"]
    assert "none" in [o["properties"]["tool"]["const"] for o in schemas[1]["oneOf"]]
    final = events[-1]
    assert isinstance(final, Final) and final.citations == [cite]


def test_a_failing_context_provider_or_after_turn_hook_loses_nothing(tmp_path, fake_backend):
    backend = fake_backend([{"tool": "none"}], ["Hello!"])
    agent = make_agent(tmp_path, backend)
    seen = []

    def bad_provider(text, cid):
        raise RuntimeError("index exploded")

    def bad_hook(turn):
        seen.append(turn.answer)
        raise RuntimeError("extractor exploded")

    agent.context_providers.append(bad_provider)
    agent.after_turn.append(bad_hook)
    cid, events = run(agent, "hi")
    assert isinstance(events[-1], Final) and events[-1].text == "Hello!"
    assert seen == ["Hello!"]
    assert [m.role for m in agent.store.messages(cid)] == ["user", "assistant"]
