"""Plugins panel: loaded plugins, their tools and permissions, load errors, and switching them on or off."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QUrl, Qt
from PySide6.QtGui import QBrush, QColor, QDesktopServices
from PySide6.QtWidgets import QHBoxLayout, QHeaderView, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from assistant.extensions.manager import describe_permissions
from ui.panels.common import Panel, button

ERROR_COLOUR = QColor("#b3261e")


def permissions_text(perms: dict[str, Any]) -> str:
    """A tool's declared permissions in plain words: 'asks before changes, reads files, uses the network'."""
    words = []
    side = perms.get("side_effects")
    if side is True:
        words.append("asks before changing things")
    elif side:
        words.append(f"asks first for {side}")
    files = perms.get("files", "none")
    if files == "read":
        words.append("reads your files")
    elif files == "write":
        words.append("reads and changes your files")
    if perms.get("network"):
        words.append("uses the network")
    return ", ".join(words) or "read-only, offline"


def plugin_rows(assistant: Any) -> list[dict[str, Any]]:
    """What `biseo plugins list` shows, from the running assistant (cheap; no import happens here)."""
    disabled_tools = set(assistant.settings.tools.disabled)
    rows = []
    for info in assistant.plugins.plugins:
        tools = []
        for name in info.tools:
            spec = assistant.registry.get(name)
            tools.append({"name": name, "description": spec.description if spec else "",
                          "permissions": spec.permissions() if spec else {},
                          "enabled": name not in disabled_tools})
        rows.append({"name": info.name, "source": info.source, "status": info.status, "error": info.error,
                     "runs": "own process" if info.isolation == "process" else "in-process",
                     "permissions": info.permissions, "tools": tools})
    return rows


class PluginsPanel(Panel):
    """A tree of plugins and their tools; the checkboxes switch them on or off in config.toml."""

    title = "Plugins"
    subtitle = ("Plugins give Biseo tools. A tool that changes something always asks you first. "
                "Untick a plugin or a tool to stop Biseo using it.")

    def build(self) -> QWidget:
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Plugin / tool", "Permissions", "Status"])
        header = self.tree.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeToContents)
        header.setStretchLastSection(True)
        layout.addWidget(self.tree, 1)
        row = QHBoxLayout()
        self.open_folder_button = button("Open plugins folder", "Where your own Python plugins go",
                                         self.open_plugins_folder)
        row.addWidget(self.open_folder_button)
        row.addStretch(1)
        layout.addLayout(row)
        self._filling = False
        self.tree.itemChanged.connect(self._toggled)
        return body

    def reload(self) -> None:
        self._fill(plugin_rows(self.assistant))
        settings = self.assistant.settings
        folder = self.assistant.paths.plugins_dir
        if not settings.plugins.user_folder_enabled:
            self.open_folder_button.setToolTip(
                f"{folder}\nPlugins there load only when Settings → Plugins → User folder enabled is on.")
        else:
            self.open_folder_button.setToolTip(str(folder))

    def _fill(self, rows: list[dict[str, Any]]) -> None:
        self._filling = True
        self.tree.clear()
        for row in rows:
            status = {"loaded": "loaded", "disabled": "switched off (not loaded)",
                      "error": "could not load"}.get(row["status"], row["status"])
            source = "built in" if row["source"] == "builtin" else f"from {row['source']}"
            if row.get("runs") == "own process":
                status += " · own process"  # contained: a crash or hang is reported, the app stays up
            # What the plugin may do at most; enforced (see docs/plugins.md, "Permissions and isolation").
            may = "may use: " + describe_permissions(row["permissions"]) if row.get("permissions") else source
            top = QTreeWidgetItem([row["name"], may, status])
            top.setToolTip(1, f"{source}; {may}")
            top.setData(0, Qt.UserRole, ("plugin", row["name"]))
            top.setFlags(top.flags() | Qt.ItemIsUserCheckable)
            top.setCheckState(0, Qt.Unchecked if row["status"] == "disabled" else Qt.Checked)
            top.setToolTip(0, "Untick to stop loading this plugin (takes effect when Biseo restarts)")
            if row["error"]:
                top.setText(2, f"{status}: {row['error']}" if row["status"] == "error" else
                            f"{status}; problem: {row['error']}")
                top.setToolTip(2, row["error"])
                top.setForeground(2, QBrush(ERROR_COLOUR))
            self.tree.addTopLevelItem(top)
            for tool in row["tools"]:
                child = QTreeWidgetItem([tool["name"], permissions_text(tool["permissions"]),
                                         "" if tool["enabled"] else "switched off"])
                child.setData(0, Qt.UserRole, ("tool", tool["name"]))
                child.setToolTip(0, tool["description"])
                child.setFlags(child.flags() | Qt.ItemIsUserCheckable)
                child.setCheckState(0, Qt.Checked if tool["enabled"] else Qt.Unchecked)
                top.addChild(child)
            top.setExpanded(True)
        self._filling = False

    def _toggled(self, item: QTreeWidgetItem, column: int) -> None:
        if self._filling or column != 0:
            return
        kind, name = item.data(0, Qt.UserRole)
        on = item.checkState(0) == Qt.Checked
        try:
            if kind == "plugin":
                self.set_plugin_enabled(name, on)
            else:
                self.set_tool_enabled(name, on)
                item.setText(2, "" if on else "switched off")
        except Exception as exc:  # noqa: BLE001 - e.g. config.toml not writable; said in place
            self.show_error("Could not save the change", exc)

    def set_plugin_enabled(self, name: str, on: bool) -> None:
        """Write plugins.disabled; a plugin is imported at start, so this needs a restart."""
        from assistant.settings import set_config_value

        current = list(self.assistant.settings.plugins.disabled)
        new = [p for p in current if p != name] + ([] if on else [name])
        set_config_value(self.assistant.paths, "plugins.disabled", new)
        self.assistant.settings.plugins.disabled = new
        self.settings_written()
        self.notice.say(f"{'Switched on' if on else 'Switched off'} the {name} plugin. "
                        f"Restart Biseo for this to take effect.")

    def set_tool_enabled(self, name: str, on: bool) -> None:
        """Write tools.disabled and apply it at once (the next turn offers or hides the tool)."""
        from assistant.settings import set_config_value

        app = self.assistant
        current = list(app.settings.tools.disabled)
        new = [t for t in current if t != name] + ([] if on else [name])
        set_config_value(app.paths, "tools.disabled", new)
        app.settings.tools.disabled = new
        # Live: the executor refuses and the agent stops offering a disabled tool from the next turn.
        app.executor.disabled = set(new)
        app.agent.config.disabled_tools = list(new)
        self.settings_written()
        self.notice.say(f"{'Switched on' if on else 'Switched off'} the {name} tool, from the next message on.")

    def open_plugins_folder(self) -> None:
        folder = self.assistant.paths.plugins_dir
        folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))
