"""MCP servers from PyPI used by the real bundled model (Qwen2.5-Coder-0.5B), through `biseo ask --json`, offline."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def biseo(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assistant.cli", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=timeout)


def events_of(proc: subprocess.CompletedProcess) -> list[dict]:
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


@pytest.fixture
def time_server():
    """mcp-server-time added the way a user adds it, its lookup marked read-only; the built-in clock off."""
    added = biseo("mcp", "add", "time", "--", sys.executable, "-m", "mcp_server_time", "--local-timezone", "UTC")
    assert added.returncode == 0, added.stderr
    assert "get_current_time" in added.stdout and "asks before each use" in added.stdout
    marked = biseo("mcp", "read-only", "time", "get_current_time")
    assert marked.returncode == 0, marked.stderr
    # The built-in clock answers time questions too; switched off, the MCP server is the only clock.
    from assistant.paths import resolve_paths
    from assistant.settings import set_config_value

    set_config_value(resolve_paths(), "plugins.disabled", ["clock"])


def test_ask_what_time_it_is_in_seoul_answers_from_the_mcp_time_server(qwen_gguf, time_server):
    proc = biseo("ask", "--json", "What time is it in Seoul?")
    assert proc.returncode == 0, proc.stderr
    events = events_of(proc)
    calls = [e for e in events if e["type"] == "tool_call"]
    results = [e for e in events if e["type"] == "tool_result"]
    assert calls and calls[0]["name"] == "get_current_time", calls
    assert results[0]["ok"], results[0]
    result = json.loads(results[0]["output"])
    # Seoul's offset: the model may name Seoul or another UTC+9 zone; the time it reports is the server's.
    assert result["datetime"].endswith("+09:00"), result
    hour_minute = re.search(r"T(\d\d):(\d\d)", result["datetime"])
    final = events[-1]
    assert final["type"] == "final"
    said = final["text"]
    hour, minute = int(hour_minute.group(1)), hour_minute.group(2)
    assert f"{hour}:{minute}" in said or f"{hour_minute.group(1)}:{minute}" in said or \
        f"{hour % 12 or 12}:{minute}" in said, said
    # The first turn wrote examples for the new tools (once), kept with the cached tool list.
    assert any(e["type"] == "status" and "MCP tools" in e["text"] for e in events)
    again = events_of(biseo("ask", "--json", "What time is it in Seoul?"))
    assert not any(e["type"] == "status" and "MCP tools" in e["text"] for e in again)


def test_an_unmarked_mcp_tool_asks_first_and_a_refusal_reaches_the_model(qwen_gguf, time_server):
    biseo("mcp", "read-only", "time", "get_current_time", "--off")
    proc = biseo("ask", "--json", "What time is it in Seoul?")  # no terminal, no --yes: the answer is no
    events = events_of(proc)
    asked = [e for e in events if e["type"] == "approval_needed"]
    assert asked and asked[0]["name"] == "get_current_time" and "timezone" in asked[0]["arguments"]
    result = [e for e in events if e["type"] == "tool_result"][0]
    assert result["denied"] and not result["ok"]
    assert events[-1]["type"] == "final" and events[-1]["text"]
    shown = biseo("conversations", "show", events[-1]["conversation_id"])
    assert "get_current_time" in shown.stdout and "denied" in shown.stdout.lower()
