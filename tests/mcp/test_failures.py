"""A misbehaving MCP server (crash, hang, garbage, malformed, no start, slow start, HTTP gone): each is reported
in the turn, the plugin list and `biseo plugins list`; the turn still ends; the server restarts on the next use."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from assistant.events import ApprovalRequested, Final, ToolResult

SERVER = Path(__file__).resolve().parent / "servers" / "misbehaving.py"
TOOLS = ["echo", "count", "crash", "hang", "garbage", "malformed"]


def server(*flags: str, read_only: list[str] = TOOLS, **options: Any) -> dict[str, Any]:
    """A stdio server entry as config.toml holds it: the misbehaving server, its tools marked read-only."""
    return {"command": sys.executable, "args": [str(SERVER), *flags], "read_only": list(read_only),
            "timeout_s": 3, "start_timeout_s": 10, **options}


@pytest.fixture
def make_app(fake_backend) -> Any:
    """An Assistant with the calculator plugin and the given MCP servers; the fake backend is `app._backend`."""
    from assistant.app import Assistant
    from assistant.settings import DocumentSettings, MemorySettings, Settings

    made = []

    def make(servers: dict[str, Any]) -> Any:
        settings = Settings(mcp={"write_examples": False, "servers": servers},
                            memory=MemorySettings(enabled=False, auto_extract=False),
                            documents=DocumentSettings(enabled=False))
        app = Assistant(settings, backend=fake_backend(), builtin_plugins=("plugins.calculator",))
        made.append(app)
        return app

    yield make
    for app in made:
        app.close()


def turn(app: Any, *calls: dict[str, Any], answer: str = "Done.",
         on_approval: Callable[[ApprovalRequested], None] | None = None) -> list[Any]:
    """One turn in which the model asks for `calls` in order, then answers; approvals go to `on_approval`."""
    app._backend.decisions = [*calls, {"tool": "none"}]
    app._backend.answers = [answer]
    events = []
    for event in app.chat("Please do it."):
        events.append(event)
        if isinstance(event, ApprovalRequested):
            assert on_approval is not None, f"unexpected approval request: {event}"
            on_approval(event)
    assert isinstance(events[-1], Final), events[-1]
    assert events[-1].text == answer  # the turn ends with the model's answer, whatever the tool did
    return events


def results(events: list[Any]) -> list[ToolResult]:
    return [e for e in events if isinstance(e, ToolResult)]


def count_call(app: Any) -> tuple[int, int]:
    """Call `count` in a turn: (calls this server process served, its pid)."""
    [result] = results(turn(app, {"tool": "count", "arguments": {}}))
    assert result.ok, result.output
    found = re.search(r'"calls": (\d+), "pid": (\d+)', result.output)
    assert found, result.output
    return int(found[1]), int(found[2])


def row(app: Any, name: str = "bad") -> dict[str, Any]:
    """The server's row as `biseo plugins list --json` and `biseo mcp list` show it."""
    from assistant.mcp.cli import server_rows

    [entry] = server_rows(app.mcp, [name])
    return entry


def test_a_crash_mid_call_is_reported_and_the_next_call_restarts_the_server(make_app):
    app = make_app({"bad": server()})
    calls, first_pid = count_call(app)
    assert calls == 1 and app.mcp.connections["bad"].starts == 1

    started = time.monotonic()
    [result] = results(turn(app, {"tool": "crash", "arguments": {}}, answer="The tool crashed."))
    assert time.monotonic() - started < 10
    assert not result.ok and not result.denied
    assert "the MCP server 'bad' stopped (it crashed or quit) during a call to crash" in result.output
    assert "boom: simulated crash" in result.output  # its last words on stderr
    state = app.mcp.infos["bad"].state
    assert state.startswith("failed: stopped (it crashed or quit) during a call to crash")
    assert state.endswith("it restarts on the next use")
    assert row(app)["state"] == state and row(app)["status"] == "loaded"

    calls, pid = count_call(app)
    assert (calls, app.mcp.connections["bad"].starts) == (1, 2) and pid != first_pid
    assert app.mcp.infos["bad"].state == "running"


def test_a_server_that_died_while_idle_is_started_again_by_the_next_call(make_app):
    import os
    import signal

    app = make_app({"bad": server()})
    _, first_pid = count_call(app)
    os.kill(first_pid, signal.SIGKILL)
    time.sleep(0.5)
    calls, pid = count_call(app)  # no failed call first: the dead session is noticed and replaced
    assert (calls, app.mcp.connections["bad"].starts) == (1, 2) and pid != first_pid


def test_a_hung_call_is_stopped_at_its_timeout_and_the_next_call_works(make_app):
    app = make_app({"bad": server()})
    started = time.monotonic()
    [result] = results(turn(app, {"tool": "hang", "arguments": {}}))
    took = time.monotonic() - started
    assert 3 <= took < 12, took
    assert not result.ok
    assert "the MCP server 'bad' did not answer a call to hang within 3 s, so it was stopped" in result.output
    assert "did not answer a call to hang within 3 s" in app.mcp.infos["bad"].state

    calls, _ = count_call(app)
    assert calls == 1 and app.mcp.connections["bad"].starts == 2


def test_garbage_on_stdout_is_reported_with_what_was_written_and_the_next_call_works(make_app):
    app = make_app({"bad": server()})
    [result] = results(turn(app, {"tool": "garbage", "arguments": {}}))
    assert not result.ok
    assert "the MCP server 'bad' did not answer a call to garbage within 3 s" in result.output
    assert "it wrote a line that is not JSON: 'this is not json at all'" in result.output
    assert "a JSON line that is not a valid MCP (JSON-RPC) message" in result.output
    assert "not JSON" in row(app)["state"]

    calls, _ = count_call(app)
    assert calls == 1 and app.mcp.connections["bad"].starts == 2
    assert row(app)["state"] == "running"  # the new process wrote nothing stray


def test_a_malformed_result_is_rejected_and_reported_and_the_next_call_works(make_app):
    app = make_app({"bad": server()})
    started = time.monotonic()
    [result] = results(turn(app, {"tool": "malformed", "arguments": {}}))
    assert time.monotonic() - started < 10  # rejected at once, not at the timeout
    assert not result.ok
    assert ("the MCP server 'bad' answered a call to malformed with a malformed result "
            "(content: Input should be a valid list)") in result.output
    assert "malformed result" in app.mcp.infos["bad"].state

    calls, _ = count_call(app)
    assert calls == 1 and app.mcp.connections["bad"].starts == 2


def test_a_banner_on_stdout_before_the_handshake_is_tolerated_and_shown(make_app):
    app = make_app({"bad": server("--garbage-start")})
    [result] = results(turn(app, {"tool": "echo", "arguments": {"text": "still here"}}))
    assert result.ok and result.output == "still here"
    assert row(app)["state"] == ("running; it also wrote a line that is not JSON: "
                                 "'Welcome to misbehaving 1.0! (this banner is not JSON-RPC)'")


def test_a_server_that_fails_to_start_is_listed_with_its_reason_and_other_tools_still_work(make_app, capsys):
    from assistant import cli
    from assistant.mcp import config
    from assistant.paths import resolve_paths

    config.add_server(resolve_paths(), "bad", command=sys.executable, args=[str(SERVER), "--fail-start"])
    assert cli.main(["plugins", "list"]) == 0
    shown = capsys.readouterr().out
    assert "bad  [error]  from MCP server (stdio: " in shown
    assert ("error: could not list its tools: could not start: it quit before answering "
            "(its last words: misbehaving: cannot start: the database /nonexistent/db is missing)") in shown

    app = make_app({"bad": server("--fail-start")})  # Assistant() still starts
    info = app.mcp.infos["bad"]
    assert info.status == "error" and info.tools == []
    assert "the database /nonexistent/db is missing" in info.error
    assert info.state.startswith("failed: could not start: it quit before answering")

    [result] = results(turn(app, {"tool": "calculator", "arguments": {"expression": "2+2"}}))
    assert result.ok and "4" in result.output


def test_a_server_too_slow_to_start_is_reported_at_load_and_in_the_turn(make_app, tmp_path):
    slow = server("--slow-start", "30", start_timeout_s=2)
    started = time.monotonic()
    app = make_app({"slow": slow})
    assert time.monotonic() - started < 12  # the start gives up; Biseo does not wait 30 s
    assert app.mcp.infos["slow"].status == "error"
    assert app.mcp.infos["slow"].error == "could not list its tools: did not start within 2 s"

    # Listed quickly once (so its tools are known), then slow to restart after a crash.
    app = make_app({"bad": server("--slow-start", "30", "--slow-restart", str(tmp_path / "started"),
                                  start_timeout_s=2)})
    assert app.mcp.infos["bad"].status == "loaded"
    assert not results(turn(app, {"tool": "crash", "arguments": {}}))[0].ok
    [result] = results(turn(app, {"tool": "echo", "arguments": {"text": "hi"}}, answer="It did not start."))
    assert not result.ok
    assert result.output == "error: the MCP server 'bad' did not start within 2 s"
    assert row(app)["state"] == "failed: did not start within 2 s; it restarts on the next use"


def test_a_failing_mcp_tool_does_not_stop_a_native_tool_in_the_same_turn(make_app):
    app = make_app({"bad": server()})
    events = turn(app, {"tool": "crash", "arguments": {}},
                  {"tool": "calculator", "arguments": {"expression": "6*7"}}, answer="6*7 is 42.")
    crash, calc = results(events)
    assert (crash.name, crash.ok) == ("crash", False) and "crashed or quit" in crash.output
    assert (calc.name, calc.ok) == ("calculator", True) and "42" in calc.output


def test_an_unmarked_tool_asks_first_and_a_denied_call_never_reaches_the_server(make_app):
    app = make_app({"bad": server(read_only=["count"])})
    asked: list[ApprovalRequested] = []

    def deny(event: ApprovalRequested) -> None:
        asked.append(event)
        event.deny("not now")

    [result] = results(turn(app, {"tool": "echo", "arguments": {"text": "send it"}}, on_approval=deny))
    [request] = asked
    assert (request.name, request.arguments, request.side_effects) == ("echo", {"text": "send it"}, True)
    assert not result.ok and result.denied and "not now" in result.output
    calls, _ = count_call(app)  # count is marked read-only: no question
    assert calls == 1  # echo was never called


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def http_server() -> Any:
    """The misbehaving server on streamable HTTP (127.0.0.1, a free port): (process, its /mcp URL)."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, str(SERVER), "--http", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, "the HTTP server did not start"
            time.sleep(0.1)
    yield proc, f"http://127.0.0.1:{port}/mcp"
    proc.kill()
    proc.wait(10)


def test_an_http_server_works_and_once_gone_the_call_is_reported_and_the_turn_ends(make_app, http_server):
    proc, url = http_server
    app = make_app({"web": {"url": url, "read_only": TOOLS, "timeout_s": 3, "start_timeout_s": 5}})
    assert app.mcp.infos["web"].source == f"MCP server (HTTP: {url})"
    assert app.mcp.infos["web"].status == "loaded"
    [result] = results(turn(app, {"tool": "echo", "arguments": {"text": "over HTTP"}}))
    assert result.ok and result.output == "over HTTP"

    proc.kill()
    proc.wait(10)
    started = time.monotonic()
    [result] = results(turn(app, {"tool": "echo", "arguments": {"text": "anyone?"}}, answer="It is down."))
    assert time.monotonic() - started < 15
    assert not result.ok and "the MCP server 'web'" in result.output
    assert "ConnectError: All connection attempts failed" in result.output  # the connection was refused
    assert row(app, "web")["state"].startswith("failed: ")
    assert json.dumps(row(app, "web"))  # what `biseo plugins list --json` prints
