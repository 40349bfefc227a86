"""Adding and removing an MCP server while Biseo runs: its tools come and go without a restart."""

from __future__ import annotations

import sys

from assistant.app import Assistant
from assistant.events import Final, ToolResult
from assistant.mcp.config import add_server, remove_server
from assistant.settings import Settings

TIME_ARGS = ["-m", "mcp_server_time", "--local-timezone", "UTC"]


def test_a_server_added_while_running_is_usable_at_once_and_removed_cleanly(fake_backend):
    app = Assistant(settings=Settings(mcp={"write_examples": False}), backend=fake_backend(
        [{"tool": "get_current_time", "arguments": {"timezone": "Asia/Seoul"}}, {"tool": "none"}], ["It is late."]))
    try:
        assert app.registry.get("get_current_time") is None
        config = add_server(app.paths, "time", command=sys.executable, args=TIME_ARGS)
        config.read_only = ["get_current_time"]  # as if the user also marked it, so the turn needs no yes
        app.settings.mcp.servers["time"] = config
        info = app.mcp.attach("time")
        assert info.status == "loaded" and set(info.tools) == {"get_current_time", "convert_time"}
        assert any(p is info for p in app.plugins.plugins)
        events = list(app.chat("What time is it in Seoul?"))
        result = next(e for e in events if isinstance(e, ToolResult))
        assert result.ok and "Asia/Seoul" in result.output
        assert isinstance(events[-1], Final)

        remove_server(app.paths, "time")
        del app.settings.mcp.servers["time"]
        app.mcp.detach("time")
        assert app.registry.get("get_current_time") is None and "time" not in app.mcp.connections
        assert not [p for p in app.plugins.plugins if p.name == "time"]
        assert "time" not in app.paths.config_file.read_text(encoding="utf-8")
    finally:
        app.close()


def test_a_server_that_cannot_start_is_added_as_an_error_and_the_rest_keeps_working(fake_backend):
    app = Assistant(settings=Settings(mcp={"write_examples": False}), backend=fake_backend(
        [{"tool": "calculator", "arguments": {"expression": "6*7"}}, {"tool": "none"}], ["42"]))
    try:
        config = add_server(app.paths, "ghost", command="/nonexistent/mcp-server")
        app.settings.mcp.servers["ghost"] = config
        info = app.mcp.attach("ghost")
        assert info.status == "error" and "could not start" in info.error and not info.tools
        result = next(e for e in app.chat("What is 6*7?") if isinstance(e, ToolResult))
        assert result.ok and "42" in result.output
    finally:
        app.close()
