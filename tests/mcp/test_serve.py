"""`biseo mcp serve` through the official MCP client: tools listed with honest hints, approvals asked per call."""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters, types

REPO = Path(__file__).resolve().parents[2]
# What `biseo mcp serve` does, for as long as the CLI does not have the subcommand yet.
LAUNCH = ("import sys; from assistant.app import Assistant; from assistant.mcp.serve import serve_stdio; "
          "sys.exit(serve_stdio(Assistant()))")
CHANGING = {"files", "forget", "extract_archive"}  # built-in tools that may change things

NOISY_PLUGIN = '''
import os
from assistant.api import hookimpl, tool

@tool
def shout(text: str) -> str:
    """Print the text to standard output and return it."""
    print("a stray print from a plugin:", text, flush=True)
    os.write(1, b"stray bytes on fd 1\\n")
    return text

@hookimpl
def register_tools(register):
    register(shout)
'''


def _server_args() -> list[str]:
    """`biseo mcp serve` once the CLI has it; until then the same two calls it makes."""
    from assistant.cli import build_parser

    try:
        with contextlib.redirect_stderr(io.StringIO()):
            build_parser().parse_args(["mcp", "serve"])
    except SystemExit:
        return ["-c", LAUNCH]
    return ["-m", "assistant.cli", "mcp", "serve"]


@pytest.fixture
def docs(_private_home: Path) -> Path:
    folder = _private_home / "Documents"
    folder.mkdir()
    return folder


def server(docs: Path, **env: str) -> StdioServerParameters:
    """The server as an MCP client starts it: a subprocess on this test's private home, files inside `docs`."""
    return StdioServerParameters(command=sys.executable, args=_server_args(), cwd=str(REPO), env={
        **os.environ, "BISEO_TOOLS__FILE_ROOTS": json.dumps([str(docs)]), **env})


def text(result: types.CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, types.TextContent))


class Answers:
    """An elicitation callback that answers from a script and records what the user was shown."""

    def __init__(self, *actions: str) -> None:
        self.actions = list(actions)
        self.messages: list[str] = []

    async def __call__(self, context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        self.messages.append(params.message)
        action = self.actions.pop(0)
        return types.ElicitResult(action=action, content={} if action == "accept" else None)


WRITE = {"action": "write", "path": "shopping.txt", "content": "milk"}


def test_tools_are_listed_read_only_ones_run_and_changes_are_refused_without_a_way_to_ask(docs):
    (docs.parent / "plugins").mkdir(exist_ok=True)
    (docs.parent / "plugins" / "noisy.py").write_text(NOISY_PLUGIN)
    params = server(docs, BISEO_PLUGINS__USER_FOLDER_ENABLED="true", BISEO_PLUGINS__ISOLATION="in_process")

    async def scenario() -> None:
        async with Client(params, read_timeout_seconds=60) as client:  # no elicitation callback
            tools = {t.name: t for t in (await client.list_tools()).tools}
            assert {"calculator", "files", "recall", "remember", "forget", "shout"} <= set(tools)
            assert tools["calculator"].input_schema["properties"]["expression"]["type"] == "string"
            assert tools["calculator"].annotations.read_only_hint is True
            assert tools["recall"].annotations.read_only_hint is True
            for name in CHANGING & set(tools):  # never claimed side-effect free
                assert tools[name].annotations.read_only_hint is False, name
                assert tools[name].annotations.destructive_hint is True, name
            assert tools["web_search"].annotations.open_world_hint is True

            result = await client.call_tool("calculator", {"expression": "2+3*4"})
            assert not result.is_error and text(result).endswith("14")

            result = await client.call_tool("files", WRITE)
            assert result.is_error
            assert "needs your approval" in text(result) and "nothing was run" in text(result)
            assert not (docs / "shopping.txt").exists()
            result = await client.call_tool("files", {"action": "list", "path": "."})  # reading needs no yes
            assert not result.is_error

            result = await client.call_tool("calculator", {"expression": 7})
            assert result.is_error and "invalid arguments" in text(result)
            result = await client.call_tool("format_disk", {})
            assert result.is_error and "no tool named" in text(result)

            # A plugin printing to stdout must not break the protocol: the calls after it still work.
            result = await client.call_tool("shout", {"text": "hello"})
            assert not result.is_error and text(result) == "hello"
            result = await client.call_tool("calculator", {"expression": "6*7"})
            assert text(result).endswith("42")

    anyio.run(scenario)


@pytest.mark.parametrize("mode", ["auto", "legacy"])  # 2026-07-28 "input required" rounds; 2025-11-25 requests
def test_a_change_runs_only_after_the_user_accepts_that_exact_call(docs, mode):
    answers = Answers("decline", "cancel", "accept")

    async def scenario() -> None:
        async with Client(server(docs), mode=mode, elicitation_callback=answers, read_timeout_seconds=60) as client:
            for _ in ("decline", "cancel"):
                result = await client.call_tool("files", WRITE)
                assert result.is_error and "declined" in text(result) and "nothing was run" in text(result)
                assert not (docs / "shopping.txt").exists()
            result = await client.call_tool("files", WRITE)
            assert not result.is_error, text(result)
            assert (docs / "shopping.txt").read_text() == "milk"
            result = await client.call_tool("calculator", {"expression": "1+1"})  # read-only: nothing asked
            assert not result.is_error

    anyio.run(scenario)
    assert len(answers.messages) == 3 and not answers.actions
    shown = answers.messages[0]
    assert "files" in shown and json.dumps(WRITE, indent=2) in shown


def test_an_answer_counts_only_for_the_question_asked_and_only_once(docs):
    accept = types.ElicitResult(action="accept", content={})

    async def scenario() -> None:
        async with Client(server(docs), elicitation_callback=Answers(), read_timeout_seconds=60) as client:
            session = client.session
            # An "accept" nobody was asked for is no approval: the server asks.
            first = await session.call_tool("files", WRITE, input_responses={"approve-x": accept},
                                            allow_input_required=True)
            assert isinstance(first, types.InputRequiredResult)
            [key] = first.input_requests
            # The answer to that question does not cover other arguments.
            other = {**WRITE, "content": "rm -rf"}
            again = await session.call_tool("files", other, input_responses={key: accept},
                                            allow_input_required=True)
            assert isinstance(again, types.InputRequiredResult)
            assert not (docs / "shopping.txt").exists()
            done = await session.call_tool("files", WRITE, input_responses={key: accept},
                                           allow_input_required=True)
            assert isinstance(done, types.CallToolResult) and not done.is_error
            (docs / "shopping.txt").unlink()
            replay = await session.call_tool("files", WRITE, input_responses={key: accept},
                                             allow_input_required=True)
            assert isinstance(replay, types.InputRequiredResult)  # used once: asked again
            assert not (docs / "shopping.txt").exists()

    anyio.run(scenario)


def test_memory_is_recalled_through_mcp(docs):
    async def scenario() -> None:
        async with Client(server(docs), read_timeout_seconds=120) as client:
            result = await client.call_tool("remember", {"fact": "my sister's birthday is May 3"})
            assert not result.is_error, text(result)
            result = await client.call_tool("recall", {"query": "when is my sister's birthday"})
            assert not result.is_error and "May 3" in text(result)

    anyio.run(scenario)


def test_tools_from_mcp_servers_are_not_served_back(docs):
    from assistant.app import Assistant
    from assistant.mcp.serve import build_server
    from assistant.tools.spec import build_tool_spec

    def time_now() -> str:
        """The time, from an MCP server."""
        return "12:00"

    assistant = Assistant()
    try:
        spec = build_tool_spec(time_now)
        spec.isolation = "mcp"
        assistant.registry.add(spec, "mcp:time")

        async def scenario() -> None:
            async with Client(build_server(assistant)) as client:
                names = {t.name for t in (await client.list_tools()).tools}
                assert "calculator" in names and "time_now" not in names
                result = await client.call_tool("time_now", {})
                assert result.is_error and "no tool named" in text(result)

        anyio.run(scenario)
    finally:
        assistant.close()
