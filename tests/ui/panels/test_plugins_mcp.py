"""Plugins panel, MCP servers: their state, their tools' permissions, and the user's read-only mark."""

from __future__ import annotations

import shlex
import sys
import tomllib
from pathlib import Path

import psutil
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog

from assistant.extensions.manager import PluginInfo
from assistant.settings import McpServerConfig, load_settings
from ui.panels import common
from ui.panels.plugins import PluginsPanel

TIME_TOOLS = [
    {"name": "get_current_time", "tool": "time_get_current_time", "read_only": False, "hint": "read-only",
     "description": "Get the current time in a timezone."},
    {"name": "convert_time", "tool": "time_convert_time", "read_only": False, "hint": "",
     "description": "Convert a time between timezones."},
    {"name": "wipe_clock", "tool": "time_wipe_clock", "read_only": False, "hint": "destructive",
     "description": "Reset the clock."},
]


def mcp_server(name: str, *, status: str = "loaded", state: str = "", error: str = "",
               tools: list[dict] | None = None) -> PluginInfo:
    """An MCP server as the plugin manager lists it."""
    info = PluginInfo(name=name, source=f"MCP server (stdio: mcp-server-{name})", status=status, error=error,
                      tools=[t["tool"] for t in tools or []])
    info.kind, info.state, info.mcp_tools = "mcp", state, [dict(t) for t in tools or []]
    return info


def add_server(services, info: PluginInfo, read_only: list[str] = ()) -> None:
    """Declare the server in config.toml (as `biseo mcp add` does) and list it as the manager would."""
    from assistant.mcp import config

    app = services.assistant
    config.add_server(app.paths, info.name, command=f"mcp-server-{info.name}")
    for tool in read_only:
        config.set_read_only(app.paths, info.name, tool, True)
    app.settings.mcp.servers[info.name] = McpServerConfig(command=f"mcp-server-{info.name}",
                                                          read_only=list(read_only))
    app.plugins.plugins.append(info)


def find(panel, text):
    return panel.tree.findItems(text, Qt.MatchExactly | Qt.MatchRecursive, 0)[0]


def open_panel(qtbot, services) -> PluginsPanel:
    panel = PluginsPanel(services)
    qtbot.addWidget(panel)
    panel.refresh()
    return panel


def test_an_mcp_server_shows_its_source_state_and_each_tools_permission(qtbot, services):
    add_server(services, mcp_server("time", state="running", tools=TIME_TOOLS),
               read_only=["convert_time"])
    panel = open_panel(qtbot, services)
    server = find(panel, "time")
    assert server.text(1) == "MCP server (stdio: mcp-server-time)"
    assert server.text(2) == "running"
    assert server.checkState(0) == Qt.Checked
    tools = {server.child(i).text(0): server.child(i) for i in range(server.childCount())}
    assert list(tools) == ["get_current_time", "convert_time", "wipe_clock"]
    # Side effects are assumed: the server's read-only hint is shown, but it still asks.
    assert tools["get_current_time"].text(1) == ("asks before each use · server says read-only — "
                                                 "a hint, not trusted")
    assert tools["get_current_time"].checkState(1) == Qt.Unchecked
    assert tools["convert_time"].text(1) == "read-only (you marked it)"
    assert tools["convert_time"].checkState(1) == Qt.Checked
    assert tools["wipe_clock"].text(1) == "asks before each use · server says destructive"
    assert "Biseo calls it time_get_current_time" in tools["get_current_time"].toolTip(0)
    assert find(panel, "calculator").text(2) == "loaded"  # native plugins are still there beside it


def test_marking_an_mcp_tool_read_only_is_saved_and_said(qtbot, services):
    app = services.assistant
    add_server(services, mcp_server("time", state="not started; starts on first use", tools=TIME_TOOLS))
    panel = open_panel(qtbot, services)
    assert find(panel, "time").text(2) == "not started; starts on first use"
    tool = find(panel, "get_current_time")

    tool.setCheckState(1, Qt.Checked)
    assert tool.text(1).startswith("read-only (you marked it)")
    assert load_settings(app.paths).mcp.servers["time"].read_only == ["get_current_time"]
    assert app.settings.mcp.servers["time"].read_only == ["get_current_time"]
    assert panel.notice.text() == "get_current_time (time) now runs without asking."
    panel.refresh()  # what the panel shows after a refresh is what was saved
    assert find(panel, "get_current_time").checkState(1) == Qt.Checked

    find(panel, "get_current_time").setCheckState(1, Qt.Unchecked)
    assert load_settings(app.paths).mcp.servers["time"].read_only == []
    assert app.settings.mcp.servers["time"].read_only == []
    assert find(panel, "get_current_time").text(1).startswith("asks before each use")
    assert panel.notice.text() == "get_current_time (time) now asks before each use."


def test_a_mark_that_cannot_be_saved_is_not_shown_as_saved(qtbot, services):
    app = services.assistant
    add_server(services, mcp_server("time", tools=TIME_TOOLS))
    panel = open_panel(qtbot, services)
    from assistant.mcp.config import remove_server

    remove_server(app.paths, "time")  # e.g. removed with `biseo mcp remove` while the app runs
    tool = find(panel, "get_current_time")
    tool.setCheckState(1, Qt.Checked)
    assert "no MCP server named 'time'" in panel.error.message.text()
    assert tool.checkState(1) == Qt.Unchecked and tool.text(1).startswith("asks before each use")


def test_switching_an_mcp_server_or_one_of_its_tools_off_is_saved(qtbot, services):
    app = services.assistant
    add_server(services, mcp_server("time", tools=TIME_TOOLS))
    panel = open_panel(qtbot, services)

    find(panel, "convert_time").setCheckState(0, Qt.Unchecked)
    config = tomllib.loads(app.paths.config_file.read_text())
    assert config["tools"]["disabled"] == ["time_convert_time"]  # Biseo's name for the tool
    assert find(panel, "convert_time").text(2) == "switched off"

    find(panel, "time").setCheckState(0, Qt.Unchecked)
    assert load_settings(app.paths).plugins.disabled == ["time"]
    assert "time MCP server" in panel.notice.text() and "Restart Biseo" in panel.notice.text()


def test_ticking_a_server_switched_off_in_config_switches_it_on(qtbot, services):
    from assistant.settings import set_config_value

    app = services.assistant
    add_server(services, mcp_server("time", status="disabled"))
    set_config_value(app.paths, "mcp.servers.time.enabled", False)  # e.g. edited by hand
    app.settings.mcp.servers["time"].enabled = False
    panel = open_panel(qtbot, services)

    find(panel, "time").setCheckState(0, Qt.Checked)
    saved = load_settings(app.paths)
    assert saved.mcp.servers["time"].enabled and saved.plugins.disabled == []
    assert panel.notice.text().startswith("Switched on the time MCP server")


def test_a_server_that_failed_crashed_or_is_off_says_so(qtbot, services):
    add_server(services, mcp_server("broken", status="error",
                                    error="mcp-server-broken: command not found"))
    add_server(services, mcp_server("flaky", state="failed: it exited (code 1); it restarts on the next use",
                                    tools=TIME_TOOLS[:1]))
    add_server(services, mcp_server("fresh", state="not started; starts on first use"))
    add_server(services, mcp_server("off", status="disabled"))
    panel = open_panel(qtbot, services)

    broken = find(panel, "broken")
    assert broken.text(2) == "could not start: mcp-server-broken: command not found"
    assert broken.foreground(2).color().name() == "#b3261e"
    flaky = find(panel, "flaky")
    assert flaky.text(2) == "failed: it exited (code 1); it restarts on the next use"
    assert flaky.foreground(2).color().name() == "#b3261e"
    fresh = find(panel, "fresh")
    assert fresh.child(0).text(0) == "(tools are listed after the server first starts)"
    off = find(panel, "off")
    assert off.text(2) == "switched off (not started)" and off.checkState(0) == Qt.Unchecked


@pytest.mark.slow
def test_a_real_time_server_is_listed_and_a_mark_applies_to_its_tool_at_once(qtbot, fake_backend, memory_index,
                                                                                docs_index):
    """mcp-server-time, declared as `biseo mcp add` does: the real manager lists it; the panel never starts it."""
    from assistant.app import Assistant
    from assistant.mcp import config
    from assistant.paths import resolve_paths
    from tests.ui.panels.conftest import make_services

    config.add_server(resolve_paths(), "time", command=sys.executable,
                      args=["-m", "mcp_server_time", "--local-timezone", "UTC"])
    app = Assistant(load_settings(), backend=fake_backend(), builtin_plugins=("plugins.calculator",))
    try:
        services = make_services(app)
        panel = open_panel(qtbot, services)
        server = find(panel, "time")
        assert server.text(1) == f"MCP server (stdio: {Path(sys.executable).name} -m mcp_server_time)"
        tools = {server.child(i).text(0): server.child(i) for i in range(server.childCount())}
        assert set(tools) == {"get_current_time", "convert_time"}
        assert tools["convert_time"].text(1) == ("asks before each use · server says read-only — "
                                                 "a hint, not trusted")
        spec = app.registry.get(tools["convert_time"].data(0, Qt.UserRole)[1])
        assert spec.has_side_effects({})  # the server's hint does not count

        tools["convert_time"].setCheckState(1, Qt.Checked)
        assert not spec.has_side_effects({})  # runs without asking from now on
        assert load_settings().mcp.servers["time"].read_only == ["convert_time"]
        services.pool.waitForDone(10_000)
    finally:
        app.close()


# Adding and removing servers from the window

TIME_COMMAND = f"{shlex.quote(sys.executable)} -m mcp_server_time --local-timezone UTC"


def fill(dialog, name: str, command: str = "", url: str = "", env: str = "") -> None:
    """Type into the Add MCP server dialog as a user would."""
    dialog.name_edit.setText(name)
    (dialog.http_radio if url else dialog.stdio_radio).setChecked(True)
    dialog.command_edit.setText(command)
    dialog.url_edit.setText(url)
    dialog.env_edit.setPlainText(env)


def server_processes() -> list[psutil.Process]:
    """mcp-server-time processes started by this test run."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if "mcp_server_time" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:  # it ended while we looked
            continue
    return found


def add_time_server(qtbot, panel) -> None:
    dialog = panel.add_mcp_server()
    assert dialog.isVisible() and dialog.windowTitle() == "Add MCP server"
    fill(dialog, "time", TIME_COMMAND)
    dialog.accept()
    assert dialog.result() == QDialog.Accepted  # closed at once; the server starts in the background
    assert panel.notice.text() == "Adding time: starting it and asking for its tools…"
    qtbot.waitUntil(lambda: not panel.busy, timeout=30_000)


@pytest.mark.slow
def test_a_server_added_in_the_window_is_listed_saved_and_usable_at_once(qtbot, services):
    app = services.assistant
    panel = open_panel(qtbot, services)
    assert panel.add_mcp_button.isEnabled() and not panel.remove_mcp_button.isEnabled()

    add_time_server(qtbot, panel)
    assert panel.notice.text() == "Added time: 2 tools, each asks before use."
    assert panel.error.isHidden()
    server = find(panel, "time")
    assert server.text(1) == f"MCP server (stdio: {Path(sys.executable).name} -m mcp_server_time)"
    assert server.text(2) == "running"
    tools = {server.child(i).text(0): server.child(i) for i in range(server.childCount())}
    assert set(tools) == {"get_current_time", "convert_time"}
    assert all(t.text(1).startswith("asks before each use") for t in tools.values())
    saved = load_settings(app.paths).mcp.servers["time"]
    assert (saved.command, saved.args) == (sys.executable, ["-m", "mcp_server_time", "--local-timezone", "UTC"])
    spec = app.registry.get("get_current_time")
    assert spec is not None and spec.has_side_effects({})  # usable now, and it asks first
    assert len(server_processes()) == 1


@pytest.mark.slow
def test_removing_a_server_asks_then_stops_it_and_drops_its_tools(qtbot, services, monkeypatch):
    app = services.assistant
    panel = open_panel(qtbot, services)
    add_time_server(qtbot, panel)
    [process] = server_processes()
    panel.tree.setCurrentItem(find(panel, "convert_time"))  # a tool's row stands for its server
    assert panel.remove_mcp_button.isEnabled()
    asked = []
    monkeypatch.setattr(common, "confirm", lambda *a, **k: asked.append(a[2]) or False)

    panel.remove_mcp_button.click()  # "No": nothing changes
    assert "stops the MCP server time" in asked[0] and "get_current_time" in asked[0]
    assert "time" in load_settings(app.paths).mcp.servers and find(panel, "time")

    monkeypatch.setattr(common, "confirm", lambda *a, **k: True)
    panel.remove_mcp_button.click()
    qtbot.waitUntil(lambda: not panel.busy, timeout=15_000)
    assert not panel.tree.findItems("time", Qt.MatchExactly | Qt.MatchRecursive, 0)
    assert not panel.tree.findItems("get_current_time", Qt.MatchExactly | Qt.MatchRecursive, 0)
    assert panel.notice.text() == "Removed the MCP server time; its tools are gone."
    assert "time" not in load_settings(app.paths).mcp.servers and "time" not in app.settings.mcp.servers
    assert app.registry.get("get_current_time") is None and app.registry.get("convert_time") is None
    assert "time" not in app.mcp.connections
    process.wait(timeout=10)  # its process has ended
    assert not panel.remove_mcp_button.isEnabled()


@pytest.mark.parametrize("name,command,url,env,error", [
    ("Bad Name!", "mcp-server-x", "", "", "'Bad Name!' is not a usable server name"),
    ("calc", 'mcp-server "unclosed', "", "", "The command line does not parse: No closing quotation"),
    ("calc", "", "", "", "Give either a command to start (stdio) or a URL (streamable HTTP)"),
    ("web", "", "ftp://example.org/mcp", "", "'ftp://example.org/mcp' is not an http:// or https:// address"),
    ("calc", "mcp-server-x", "", "TOKEN", "Environment line 1 ('TOKEN') is not KEY=VALUE"),
    ("calculator", "mcp-server-x", "", "", "A plugin named 'calculator' is already loaded; choose another name"),
])
def test_a_server_that_cannot_be_added_is_explained_in_the_dialog_and_nothing_is_written(
        qtbot, services, name, command, url, env, error):
    app = services.assistant
    panel = open_panel(qtbot, services)
    dialog = panel.add_mcp_server()
    fill(dialog, name, command, url, env)

    dialog.accept()
    assert dialog.isVisible()  # stays open to fix it
    assert dialog.error_label.isVisible() and error in dialog.error_label.text()
    assert not panel.busy and app.settings.mcp.servers == {}
    assert load_settings(app.paths).mcp.servers == {}
    dialog.reject()
    assert not panel.busy and load_settings(app.paths).mcp.servers == {}


def test_a_name_already_taken_is_refused_and_the_first_server_is_kept(qtbot, services):
    app = services.assistant
    add_server(services, mcp_server("time", tools=TIME_TOOLS), read_only=["convert_time"])
    panel = open_panel(qtbot, services)
    dialog = panel.add_mcp_server()
    fill(dialog, "time", "other-program")

    dialog.accept()
    assert dialog.isVisible() and "already exists" in dialog.error_label.text()
    saved = load_settings(app.paths).mcp.servers["time"]
    assert saved.command == "mcp-server-time" and saved.read_only == ["convert_time"]


def test_a_url_server_that_cannot_be_reached_is_added_with_its_error_shown(qtbot, services):
    app = services.assistant
    panel = open_panel(qtbot, services)
    dialog = panel.add_mcp_server()
    assert not dialog.url_edit.isEnabled()
    fill(dialog, "web", url="http://127.0.0.1:9/mcp", env="# a comment\nTOKEN = abc=d\n\n")
    assert dialog.url_edit.isEnabled() and not dialog.command_edit.isEnabled()

    dialog.accept()
    qtbot.waitUntil(lambda: not panel.busy, timeout=30_000)
    saved = load_settings(app.paths).mcp.servers["web"]
    assert (saved.url, saved.command, saved.env) == ("http://127.0.0.1:9/mcp", "", {"TOKEN": "abc=d"})
    assert not panel.error.isHidden()
    assert panel.error.message.text().startswith("Added web, but it could not start: ")
    row = find(panel, "web")
    assert row.text(1) == "MCP server (HTTP: http://127.0.0.1:9/mcp)"
    assert "could not connect" in row.text(2)
    assert row.foreground(2).color().name() == "#b3261e"


def test_only_an_mcp_server_can_be_removed_from_the_panel(qtbot, services, monkeypatch):
    add_server(services, mcp_server("time", tools=TIME_TOOLS))
    panel = open_panel(qtbot, services)
    panel.tree.setCurrentItem(find(panel, "calculator"))  # a plugin: removed by deleting its file, not here
    assert not panel.remove_mcp_button.isEnabled() and panel.context_menu(find(panel, "calculator")) is None
    panel.tree.setCurrentItem(find(panel, "time"))
    assert panel.remove_mcp_button.isEnabled()
    menu = panel.context_menu(find(panel, "wipe_clock"))
    assert [a.text() for a in menu.actions()] == ["Remove MCP server time…"]
