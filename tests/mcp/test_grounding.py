"""Examples the local model writes for MCP tools, and tool calls that copy an example instead of the user."""

from __future__ import annotations

import json
import sys

import pytest
from mcp import types

from assistant.agent.grounding import copied_values
from assistant.app import Assistant
from assistant.events import ApprovalRequested, Final, ToolCallRequested
from assistant.extensions.manager import PluginManager
from assistant.mcp.examples import grounded, write_examples
from assistant.mcp.manager import McpManager, cache_path
from assistant.mcp.tools import make_spec
from assistant.paths import resolve_paths
from assistant.settings import Settings

TIME = {"command": sys.executable, "args": ["-m", "mcp_server_time", "--local-timezone", "UTC"]}
TIMEZONE_SCHEMA = {"type": "object", "required": ["timezone"],
                   "properties": {"timezone": {"type": "string", "description": "IANA timezone name"}}}
TOKYO = ("What time is it in Tokyo?", {"timezone": "Asia/Tokyo"})


def time_spec(examples=(), schema=TIMEZONE_SCHEMA):
    spec = make_spec(types.Tool(name="get_current_time", description="Get current time in a specific timezone",
                                input_schema=schema), "get_current_time", "time", connection=None,
                     marks=lambda: [], timeout_s=5)
    spec.examples = list(examples)
    return spec


# copied values
def test_a_value_from_an_example_the_user_never_said_is_caught():
    spec = time_spec([TOKYO])
    assert copied_values(spec, {"timezone": "Asia/Tokyo"}, "What time is it in Seoul?") == ["Asia/Tokyo"]


@pytest.mark.parametrize("said", ["What time is it in Tokyo?", "time in asia/tokyo please",
                                  "Tokyo time, then Seoul"])
def test_a_value_the_user_said_is_not_copied(said):
    assert copied_values(time_spec([TOKYO]), {"timezone": "Asia/Tokyo"}, said) == []


def test_values_not_taken_from_an_example_are_not_checked_here():
    # Invented values are the router's problem, not an example's: only copies are caught.
    assert copied_values(time_spec([TOKYO]), {"timezone": "Europe/Paris"}, "What time is it?") == []


def test_times_and_numbers_from_an_example_count_as_copies():
    spec = time_spec([("Convert 14:30 from Tokyo to Paris", {"time": "14:30", "source": "Asia/Tokyo",
                                                               "target": "Europe/Paris", "days": 3})])
    said = "What is 9:00 in Paris when it is 9:00 in Tokyo?"
    assert copied_values(spec, {"time": "14:30", "source": "Asia/Tokyo", "target": "Europe/Paris"}, said) == \
        ["14:30"]
    assert copied_values(spec, {"days": 3, "nested": {"list": ["x", "14:30"]}}, "in 3 days") == ["14:30"]


def test_curated_examples_and_odd_arguments_are_not_checked():
    spec = time_spec([TOKYO])
    spec.examples_generated = False  # a native tool's hand-written examples
    assert copied_values(spec, {"timezone": "Asia/Tokyo"}, "hello") == []
    assert copied_values(None, {"timezone": "Asia/Tokyo"}, "hello") == []
    assert copied_values(time_spec([TOKYO]), "Asia/Tokyo", "hello") == []
    assert copied_values(time_spec([("Is it on?", {"on": True, "n": None, "x": "a"})]),
                         {"on": True, "n": None, "x": "a"}, "hello") == []  # booleans, nulls, 1 character


# grounded examples
@pytest.mark.parametrize("request_, arguments", [
    ("What time is it in Seoul?", {"timezone": "Asia/Seoul"}),
    ("What time is it in New York?", {"timezone": "America/New_York"}),
    ("What is 2+3*4?", {"expression": "2+3*4"}),
    ("Weather for the next 3 days in Paris", {"days": 3, "city": "Paris", "metric": True}),
    ("Convert 2.5 km to miles", {"value": 2.5, "units": ["km", "miles"]}),
    ("Book it for 14:30", {"when": {"time": "14:30"}}),
])
def test_examples_whose_values_all_show_in_the_request_are_grounded(request_, arguments):
    assert grounded(request_, arguments)


@pytest.mark.parametrize("request_, arguments", [
    ("What time is it in Seoul?", {"timezone": "Asia/Tokyo"}),
    ("What time is it here?", {"timezone": "Asia/Seoul"}),
    ("What is two plus three?", {"expression": "2+3"}),
    ("Weather for the week", {"days": 7}),
    ("Book it", {"when": {"time": "14:30"}}),
    ("Say nothing", {"text": ""}),
])
def test_examples_with_values_from_nowhere_are_not_grounded(request_, arguments):
    assert not grounded(request_, arguments)


def example_reply(request_: str, arguments) -> dict:
    return {"arguments": arguments, "request": request_}


def test_write_examples_keeps_only_grounded_valid_new_ones(fake_backend):
    backend = fake_backend([
        example_reply("What time is it in Paris?", {"timezone": "Asia/Tokyo"}),  # values from nowhere
        example_reply("What time is it in Lima?", {"zone": "America/Lima"}),  # not the tool's arguments
        example_reply("What time is it in Seoul?", {"timezone": "Asia/Seoul"}),  # kept
        example_reply("What time is it in Rome?", {"timezone": "Europe/Rome"}),  # one is enough: never asked
    ])
    assert write_examples(backend, time_spec()) == [("What time is it in Seoul?", {"timezone": "Asia/Seoul"})]
    assert len(backend.calls) == 3 and len(backend.decisions) == 1
    call = backend.calls[0]
    assert call["purpose"] == "router"
    assert call["schema"]["properties"]["arguments"] == time_spec().schema  # grammar-bound to the tool
    assert "get_current_time" in call["messages"][-1]["content"]


def test_write_examples_stops_at_two_and_survives_garbage(fake_backend, monkeypatch):
    import assistant.mcp.examples as examples

    monkeypatch.setattr(examples, "WANTED", 2)
    backend = fake_backend([
        "not json {",
        example_reply("What time is it in Oslo?", {"timezone": "Europe/Oslo"}),
        example_reply("what time is it in oslo?", {"timezone": "Europe/Oslo"}),  # the same request again
        example_reply("Time in Buenos Aires now", {"timezone": "America/Argentina/Buenos_Aires"}),
        example_reply("What time is it in Rome?", {"timezone": "Europe/Rome"}),
    ])
    got = write_examples(backend, time_spec())
    assert got == [("What time is it in Oslo?", {"timezone": "Europe/Oslo"}),
                   ("Time in Buenos Aires now", {"timezone": "America/Argentina/Buenos_Aires"})]
    assert len(backend.calls) == 4 and len(backend.decisions) == 1  # Rome was never asked for


def test_a_reply_without_arguments_is_no_example(fake_backend):
    backend = fake_backend([{"request": "What time is it in Oslo?"}] * 4)
    assert write_examples(backend, time_spec()) == []


def test_a_tool_with_no_good_example_gets_none(fake_backend):
    backend = fake_backend([example_reply("Tell me the time", {"timezone": "Asia/Tokyo"})] * 4)
    assert write_examples(backend, time_spec()) == []


# the examples through the manager and the agent loop, with the real time server
LISTED: dict[str, dict] = {}


def listed(examples: dict | None = None) -> None:
    """This test's cache holds the time server's tools (as after `biseo mcp add`) and the given examples."""
    paths = resolve_paths().ensure()
    if "time" not in LISTED:
        settings = Settings(mcp={"write_examples": False, "servers": {"time": TIME}})
        mcp = McpManager(paths, lambda: settings, PluginManager())
        try:
            mcp.load()
        finally:
            mcp.close()
        LISTED["time"] = json.loads(cache_path(paths).read_text(encoding="utf-8"))["time"]
    entry = {**LISTED["time"], "examples": examples or {}}
    cache_path(paths).parent.mkdir(parents=True, exist_ok=True)
    cache_path(paths).write_text(json.dumps({"time": entry}), encoding="utf-8")


def test_examples_are_written_once_and_kept(fake_backend):
    listed()
    paths = resolve_paths().ensure()
    settings = Settings(mcp={"servers": {"time": TIME}})
    mcp = McpManager(paths, lambda: settings, PluginManager())
    try:
        mcp.load()
        assert mcp.needs_examples()
        backend = fake_backend([example_reply("What time is it in Seoul?", {"timezone": "Asia/Seoul"})]
                               + [example_reply("Convert the time", {"time": "16:30"})] * 4)
        assert mcp.write_examples(backend) == 1
        assert mcp.plugins.registry.get("get_current_time").examples == [
            ("What time is it in Seoul?", {"timezone": "Asia/Seoul"})]
        assert mcp.plugins.registry.get("convert_time").examples == []
        assert not mcp.needs_examples()  # convert_time was tried: not every turn again
        asked = len(backend.calls)
        assert mcp.write_examples(backend) == 0 and len(backend.calls) == asked
        cached = json.loads(cache_path(paths).read_text(encoding="utf-8"))["time"]["examples"]
        assert cached == {"get_current_time": [["What time is it in Seoul?", {"timezone": "Asia/Seoul"}]],
                          "convert_time": []}
        assert mcp.infos["time"].state == "not started; starts on first use"  # writing them ran nothing
    finally:
        mcp.close()
    # The next start offers them from the cache.
    again = McpManager(paths, lambda: settings, PluginManager())
    try:
        again.load()
        assert again.plugins.registry.get("get_current_time").examples[0][0] == "What time is it in Seoul?"
    finally:
        again.close()


def app_with_examples(fake_backend, decisions, answers) -> Assistant:
    listed({"get_current_time": [list(TOKYO)], "convert_time": []})
    settings = Settings(mcp={"write_examples": False, "servers": {"time": {**TIME}}})
    return Assistant(settings, backend=fake_backend(decisions, answers), builtin_plugins=())


def router_calls(app: Assistant) -> list[dict]:
    return [c for c in app.backend().calls if c["purpose"] == "router"]


def offered(call: dict) -> set[str]:
    return {option["properties"]["tool"]["const"] for option in call["schema"]["oneOf"]}


def test_a_decision_that_copies_an_example_is_made_again_without_that_tool(fake_backend):
    copied = {"tool": "get_current_time", "arguments": {"timezone": "Asia/Tokyo"}}
    app = app_with_examples(fake_backend, [copied, {"tool": "none"}], ["It is sunny, I think."])
    try:
        events = list(app.chat("What is the weather in Seoul?"))
        assert not [e for e in events if isinstance(e, (ToolCallRequested, ApprovalRequested))]
        assert isinstance(events[-1], Final) and events[-1].text == "It is sunny, I think."
        calls = router_calls(app)
        assert len(calls) == 2
        assert "get_current_time" in offered(calls[0])
        assert "get_current_time" not in offered(calls[1]) and "none" in offered(calls[1])
    finally:
        app.close()


def test_a_decision_grounded_in_the_request_is_used_directly(fake_backend):
    decision = {"tool": "get_current_time", "arguments": {"timezone": "Asia/Tokyo"}}
    app = app_with_examples(fake_backend, [decision, {"tool": "none"}], ["I did not look."])
    try:
        events = []
        for event in app.chat("What time is it in Tokyo?"):
            if isinstance(event, ApprovalRequested):
                event.deny("not now")
            events.append(event)
        asked = [e for e in events if isinstance(e, ApprovalRequested)]
        assert [(e.name, e.arguments) for e in asked] == [("get_current_time", {"timezone": "Asia/Tokyo"})]
        assert "get_current_time" in offered(router_calls(app)[0])
        # The example itself is in the tool-choice prompt (MCP tools first).
        system = router_calls(app)[0]["messages"][0]["content"]
        assert "What time is it in Tokyo?" in system
    finally:
        app.close()
