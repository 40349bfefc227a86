"""`biseo mcp ...` and `biseo plugins list` with real MCP servers: what the user types and what they see."""

from __future__ import annotations

import json
import socket
import sys
import tomllib
from pathlib import Path

import pytest

from assistant.cli import main

ROOT = Path(__file__).resolve().parents[2]
TIME = [sys.executable, "-m", "mcp_server_time", "--local-timezone", "UTC"]
SERVERS_PYTHON = ROOT / ".venv-mcp-servers" / "bin" / "python"


def config(home: Path) -> dict:
    path = home / "config" / "config.toml"
    return tomllib.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def servers(home: Path) -> dict:
    return config(home).get("mcp", {}).get("servers", {})


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    """Run `biseo ARGV` in-process; (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def calculator_python() -> str:
    assert SERVERS_PYTHON.is_file(), (
        f"{SERVERS_PYTHON} is missing: the calculator MCP server (mcp<2) lives in its own venv; "
        "run `make setup-test` to create it")
    return str(SERVERS_PYTHON)


@pytest.fixture
def time_added(capsys, _private_home: Path) -> tuple[int, str, str]:
    return cli(capsys, "mcp", "add", "time", "--", *TIME)


def tool_line(out: str, tool: str) -> str:
    lines = [line for line in out.splitlines() if line.strip().startswith(f"- {tool}")]
    assert len(lines) == 1, out
    return lines[0]


def test_add_lists_the_tools_each_asking_first_with_the_servers_hint(time_added, _private_home):
    code, out, err = time_added
    assert code == 0, err
    assert "Added MCP server 'time'" in out
    for tool in ("get_current_time", "convert_time"):
        line = tool_line(out, tool)
        assert "asks before each use" in line
        assert "the server says read-only (a hint, not trusted)" in line
        assert "read-only (you marked it)" not in line
    assert "biseo mcp read-only time TOOL" in out  # how to change it
    entry = servers(_private_home)["time"]
    assert entry["command"] == sys.executable and entry["args"] == TIME[1:]
    cache = json.loads((_private_home / "data" / "mcp" / "tools.json").read_text(encoding="utf-8"))
    assert {t["name"] for t in cache["time"]["tools"]} == {"get_current_time", "convert_time"}


def test_list_shows_a_cached_server_without_starting_it(time_added, capsys):
    code, out, _ = cli(capsys, "mcp", "list")
    assert code == 0
    assert "time  [loaded]" in out
    assert "state: not started; starts on first use" in out
    assert "asks before each use" in tool_line(out, "get_current_time")
    code, out, _ = cli(capsys, "mcp", "list", "--json")
    rows = json.loads(out)
    assert [r["name"] for r in rows] == ["time"]
    row = rows[0]
    assert row["kind"] == "mcp" and row["status"] == "loaded" and row["error"] == ""
    assert row["state"] == "not started; starts on first use"
    assert "mcp_server_time" in row["source"]
    tools = {t["name"]: t for t in row["tools"]}
    assert set(tools) == {"get_current_time", "convert_time"}
    assert tools["get_current_time"] == {**tools["get_current_time"], "tool": "get_current_time",
                                         "read_only": False, "hint": "read-only"}
    assert tools["get_current_time"]["description"]


def test_marking_a_tool_read_only_shows_everywhere_and_off_undoes_it(time_added, capsys, _private_home):
    code, out, _ = cli(capsys, "mcp", "read-only", "time", "get_current_time")
    assert code == 0 and "run without asking" in out
    assert servers(_private_home)["time"]["read_only"] == ["get_current_time"]
    for argv in (("mcp", "list"), ("mcp", "tools", "time")):
        code, out, _ = cli(capsys, *argv)
        assert code == 0
        assert "read-only (you marked it): runs without asking" in tool_line(out, "get_current_time")
        assert "asks before each use" in tool_line(out, "convert_time")  # only the one the user marked
    rows = json.loads(cli(capsys, "mcp", "list", "--json")[1])
    assert {t["name"]: t["read_only"] for t in rows[0]["tools"]} == {"get_current_time": True,
                                                                     "convert_time": False}

    code, out, _ = cli(capsys, "mcp", "read-only", "time", "get_current_time", "--off")
    assert code == 0 and "ask before each use again" in out
    assert servers(_private_home)["time"]["read_only"] == []
    code, out, _ = cli(capsys, "mcp", "list")
    assert "asks before each use" in tool_line(out, "get_current_time")


def test_marking_an_unknown_tool_is_refused_with_the_known_ones(time_added, capsys, _private_home):
    before = config(_private_home)
    code, out, err = cli(capsys, "mcp", "read-only", "time", "get_time")
    assert code == 1
    assert "no tool named 'get_time'" in err and "convert_time, get_current_time" in err
    assert config(_private_home) == before
    code, _, err = cli(capsys, "mcp", "read-only", "clock", "get_current_time")
    assert code == 1 and "no MCP server named 'clock'" in err
    assert config(_private_home) == before


@pytest.mark.parametrize("argv, message", [
    (("Time", "--", sys.executable), "not a usable server name"),
    (("9lives", "--", sys.executable), "not a usable server name"),
    (("a b", "--", sys.executable), "not a usable server name"),
    (("--url", "http://127.0.0.1:9/mcp", "both", "--", sys.executable), "not both"),
    (("nothing",), "either a command to start (stdio) or a URL"),
    (("--url", "ftp://example.org/mcp", "ftp"), "not an http:// or https:// address"),
    (("--env", "NOEQUALS", "envless", "--", sys.executable), "--env needs KEY=VALUE"),
], ids=["upper-case", "digit-first", "space", "command-and-url", "nothing", "not-http", "bad-env"])
def test_add_refuses_what_cannot_work_and_leaves_the_config_alone(capsys, _private_home, argv, message):
    cli(capsys, "mcp", "add", "--no-start", "keep", "--", *TIME)
    before = config(_private_home)
    code, out, err = cli(capsys, "mcp", "add", *argv)
    assert code == 1
    assert message in err and err.startswith("biseo: ")
    assert "Added" not in out
    assert config(_private_home) == before


def test_a_duplicate_name_is_refused_and_the_first_server_kept(time_added, capsys, _private_home):
    before = config(_private_home)
    code, _, err = cli(capsys, "mcp", "add", "time", "--", sys.executable, "-m", "something_else")
    assert code == 1 and "already exists" in err and "remove it first" in err
    assert config(_private_home) == before


def refused_url() -> str:
    with socket.socket() as sock:  # a loopback port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/mcp"


def test_a_url_that_refuses_connections_is_saved_but_reported(capsys, _private_home):
    url = refused_url()
    code, out, err = cli(capsys, "mcp", "add", "--url", url, "remote")
    assert code == 1
    assert "saved, but it could not list its tools" in err
    assert err.count("could not list its tools") == 1, err  # said once, not stuttered
    assert "remote  [error]" in out
    assert servers(_private_home)["remote"] == {"url": url}
    code, out, _ = cli(capsys, "mcp", "list")
    assert code == 0 and "remote  [error]" in out and "could not list its tools" in out


def test_remove_takes_the_server_out_of_config_and_list(time_added, capsys, _private_home):
    code, out, _ = cli(capsys, "mcp", "remove", "time")
    assert code == 0 and "Removed MCP server 'time'" in out
    assert "time" not in servers(_private_home)
    code, out, _ = cli(capsys, "mcp", "list")
    assert code == 0 and "No MCP servers" in out
    assert json.loads(cli(capsys, "mcp", "list", "--json")[1]) == []
    code, _, err = cli(capsys, "mcp", "remove", "time")
    assert code == 1 and "no MCP server named 'time'" in err


def test_plugins_list_shows_mcp_servers_beside_plugins(time_added, capsys):
    code, out, _ = cli(capsys, "plugins", "list")
    assert code == 0
    assert "time  [loaded]  from MCP server" in out
    assert "state: not started; starts on first use" in out
    assert "asks before each use" in tool_line(out, "get_current_time")
    rows = json.loads(cli(capsys, "plugins", "list", "--json")[1])
    kinds = {r["name"]: r["kind"] for r in rows}
    assert kinds["time"] == "mcp"
    assert "plugin" in set(kinds.values())  # the built-in plugins are still there
    assert [r["name"] for r in rows if r["kind"] == "mcp"] == ["time"]
    row = next(r for r in rows if r["name"] == "time")
    assert row["status"] == "loaded" and row["state"] == "not started; starts on first use"
    assert {t["name"] for t in row["tools"]} == {"get_current_time", "convert_time"}
    # An MCP tool is not also listed as a plugin's tool.
    plugin_tools = {t["name"] for r in rows if r["kind"] == "plugin" for t in r["tools"]}
    assert "get_current_time" not in plugin_tools


def test_a_switched_off_server_is_listed_disabled_and_not_started(capsys, _private_home):
    cli(capsys, "mcp", "add", "--no-start", "time", "--", *TIME)
    path = _private_home / "config" / "config.toml"
    path.write_text(path.read_text(encoding="utf-8") + "enabled = false\n", encoding="utf-8")
    assert servers(_private_home)["time"]["enabled"] is False
    code, out, _ = cli(capsys, "mcp", "list")
    assert code == 0 and "time  [disabled]" in out and "state:" not in out
    code, _, err = cli(capsys, "mcp", "tools", "time")
    assert code == 1 and "switched off" in err
    assert not (_private_home / "data" / "mcp" / "tools.json").exists()  # never started to list


def test_a_legacy_protocol_server_from_the_1x_sdk_works(capsys, _private_home):
    python = calculator_python()
    code, out, err = cli(capsys, "mcp", "add", "calc", "--", python, "-m", "mcp_server_calculator")
    assert code == 0, err
    assert "calc  [loaded]" in out
    assert "asks before each use" in tool_line(out, "calculate")
    assert servers(_private_home)["calc"] == {"command": python, "args": ["-m", "mcp_server_calculator"]}
    code, out, _ = cli(capsys, "mcp", "list")
    assert "not started; starts on first use" in out and "calculate" in out


def test_the_servers_environment_is_saved(capsys, _private_home):
    code, _, err = cli(capsys, "mcp", "add", "--env", "TZ=Asia/Seoul", "--no-start", "time", "--", *TIME)
    assert code == 0, err
    assert servers(_private_home)["time"]["env"] == {"TZ": "Asia/Seoul"}


@pytest.mark.parametrize("options", [["--url", "URL"], ["--no-start", "--", sys.executable, "-m", "x"],
                                     ["--env", "A=1", "--", sys.executable, "-m", "x"]],
                         ids=["url", "no-start", "env"])
def test_options_after_the_name_are_options_not_the_command(capsys, _private_home, options):
    # The help says `biseo mcp add NAME -- COMMAND ARGS...` or `--url URL`: users put --url after the name.
    url = refused_url()
    options = [url if o == "URL" else o for o in options]
    cli(capsys, "mcp", "add", "remote", *options)
    entry = servers(_private_home).get("remote", {})
    assert not entry.get("command", "").startswith("-"), f"an option was saved as the command: {entry}"
    if "--url" in options:
        assert entry.get("url") == url
    if "--env" in options:
        assert entry.get("env") == {"A": "1"}
    if "--no-start" in options:
        assert not (_private_home / "data" / "mcp" / "tools.json").exists()
