"""Plugins panel: plugins with their tools and permissions; switching one off is saved to config.toml."""

from __future__ import annotations

import tomllib

from PySide6.QtCore import Qt

from ui.panels.plugins import PluginsPanel


def find(panel, text):
    return panel.tree.findItems(text, Qt.MatchExactly | Qt.MatchRecursive, 0)[0]


def test_calculator_with_permissions_and_switching_off_writes_settings(qtbot, services, idle):
    panel = PluginsPanel(services)
    qtbot.addWidget(panel)
    panel.refresh()
    calc = find(panel, "calculator")
    assert calc.text(2) == "loaded" and calc.checkState(0) == Qt.Checked
    assert [calc.child(i).text(0) for i in range(calc.childCount())] == ["calculator"]
    assert calc.child(0).text(1) == "read-only, offline"
    files = find(panel, "files")
    perms = {files.child(i).text(0): files.child(i).text(1) for i in range(files.childCount())}
    assert perms == {"files": "asks first for some actions, reads and changes your files"}

    calc.child(0).setCheckState(0, Qt.Unchecked)  # the calculator tool
    config = tomllib.loads(services.assistant.paths.config_file.read_text())
    assert config["tools"]["disabled"] == ["calculator"]
    assert "calculator" in services.assistant.executor.disabled  # applied at once
    assert "next message" in panel.notice.text()

    find(panel, "clock").setCheckState(0, Qt.Unchecked)  # a whole plugin
    config = tomllib.loads(services.assistant.paths.config_file.read_text())
    assert config["plugins"]["disabled"] == ["clock"]
    assert "Restart Biseo" in panel.notice.text()


def test_a_plugin_that_fails_to_load_shows_its_reason(qtbot, services):
    services.assistant.plugins.load_module("broken", object(), source="test")
    info = services.assistant.plugins.plugins[-1]
    info.status, info.error = "error", "ImportError: No module named 'nonexistent' (broken.py:1)"
    panel = PluginsPanel(services)
    qtbot.addWidget(panel)
    panel.refresh()
    assert "No module named 'nonexistent'" in find(panel, "broken").text(2)
    assert find(panel, "broken").text(2).startswith("could not load")


def test_a_user_plugin_shows_it_runs_in_its_own_process_with_its_permissions(qtbot, services):
    from assistant.extensions.manager import PluginInfo

    services.assistant.plugins.plugins.append(PluginInfo(
        name="weather", source="/home/me/plugins/weather.py", isolation="process",
        permissions={"files": "none", "roots": [], "network": True, "side_effects": False}))
    panel = PluginsPanel(services)
    qtbot.addWidget(panel)
    panel.refresh()
    row = find(panel, "weather")
    assert row.text(1) == "may use: no files, network, no side effects"
    assert row.text(2) == "loaded · own process"
    assert row.toolTip(1).startswith("from /home/me/plugins/weather.py")
    assert find(panel, "calculator").text(2) == "loaded"
