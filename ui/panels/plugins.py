"""Plugins panel: plugins and MCP servers, their tools and permissions, errors, and switching them on or off."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QUrl, Qt
from PySide6.QtGui import QBrush, QColor, QDesktopServices
from PySide6.QtWidgets import QHBoxLayout, QHeaderView, QMenu, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from assistant.extensions.manager import describe_permissions
from ui.panels import common
from ui.panels.common import Panel, button

ERROR_COLOUR = QColor("#b3261e")
MCP_ROLE = Qt.UserRole + 1  # on an MCP server's row and its tools' rows: the server's name


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


def mcp_permission_text(tool: dict[str, Any]) -> str:
    """An MCP tool's permission: the user's read-only mark decides; the server's own hint is only shown."""
    words = "read-only (you marked it)" if tool.get("read_only") else "asks before each use"
    hint = tool.get("hint") or ""
    if hint == "read-only":
        words += " · server says read-only — a hint, not trusted"
    elif hint:
        words += f" · server says {hint}"
    return words


def _mcp_row(info: Any, assistant: Any, disabled_tools: set[str]) -> dict[str, Any]:
    """An MCP server's row: its state and its tools (from the manager's cache; nothing is started here)."""
    server = getattr(getattr(assistant.settings, "mcp", None), "servers", {}).get(info.name)
    marked = set(server.read_only) if server is not None else None  # live: the panel may just have changed it
    tools = []
    for tool in getattr(info, "mcp_tools", None) or []:
        registry_name = tool.get("tool") or tool["name"]
        read_only = tool["name"] in marked if marked is not None else bool(tool.get("read_only"))
        tools.append({"name": tool["name"], "tool": registry_name, "description": tool.get("description", ""),
                      "read_only": read_only, "hint": tool.get("hint", ""),
                      "enabled": registry_name not in disabled_tools})
    return {"kind": "mcp", "name": info.name, "source": info.source, "status": info.status, "error": info.error,
            "state": getattr(info, "state", ""), "tools": tools}


def plugin_rows(assistant: Any) -> list[dict[str, Any]]:
    """What `biseo plugins list` shows, from the running assistant (cheap; no import happens here)."""
    disabled_tools = set(assistant.settings.tools.disabled)
    rows = []
    for info in assistant.plugins.plugins:
        if getattr(info, "kind", "plugin") == "mcp":
            rows.append(_mcp_row(info, assistant, disabled_tools))
            continue
        tools = []
        for name in info.tools:
            spec = assistant.registry.get(name)
            tools.append({"name": name, "description": spec.description if spec else "",
                          "permissions": spec.permissions() if spec else {},
                          "enabled": name not in disabled_tools})
        rows.append({"kind": "plugin", "name": info.name, "source": info.source, "status": info.status,
                     "error": info.error,
                     "runs": "own process" if info.isolation == "process" else "in-process",
                     "permissions": info.permissions, "tools": tools})
    return rows


class PluginsPanel(Panel):
    """A tree of plugins and their tools; the checkboxes switch them on or off in config.toml."""

    title = "Plugins"
    subtitle = ("Plugins and MCP servers give Biseo tools. A tool that changes something always asks you first; "
                "an MCP tool asks before each use unless you mark it read-only. "
                "Untick a plugin, a server or a tool to stop Biseo using it.")

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
        self.add_mcp_button = button("Add MCP server…", "Start a program or connect to a URL that gives Biseo "
                                     "more tools (Model Context Protocol)", self.add_mcp_server)
        self.remove_mcp_button = button("Remove MCP server…", "Stop the selected MCP server and forget it and "
                                        "its tools", self.remove_mcp_server)
        self.remove_mcp_button.setEnabled(False)
        self.open_folder_button = button("Open plugins folder", "Where your own Python plugins go",
                                         self.open_plugins_folder)
        row.addWidget(self.add_mcp_button)
        row.addWidget(self.remove_mcp_button)
        row.addStretch(1)
        row.addWidget(self.open_folder_button)
        layout.addLayout(row)
        self._filling = False
        self.add_dialog: Any = None
        self.tree.itemChanged.connect(self._toggled)
        self.tree.currentItemChanged.connect(self._selection_changed)
        self.tree.setContextMenuPolicy(Qt.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._context_menu)
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
            if row.get("kind") == "mcp":
                self._add_mcp(row)
                continue
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
        self._selection_changed()  # clearing the tree does not always say the selection went

    def _add_mcp(self, row: dict[str, Any]) -> None:
        """An MCP server and its tools; the Permissions box of a tool is the user's read-only mark."""
        status = {"loaded": row["state"] or "ready", "disabled": "switched off (not started)",
                  "error": "could not start"}.get(row["status"], row["status"])
        top = QTreeWidgetItem([row["name"], row["source"], status])
        top.setToolTip(1, f"{row['source']}: its tools run outside Biseo, in the server's own process")
        top.setData(0, Qt.UserRole, ("plugin", row["name"]))
        top.setData(0, MCP_ROLE, row["name"])
        top.setFlags(top.flags() | Qt.ItemIsUserCheckable)
        top.setCheckState(0, Qt.Unchecked if row["status"] == "disabled" else Qt.Checked)
        top.setToolTip(0, "Untick to stop using this MCP server (takes effect when Biseo restarts)")
        # A server that failed restarts on its next use; its last failure is still worth seeing.
        problem = row["error"] or (row["state"] if row["state"].startswith(("failed", "crashed")) else "")
        if row["error"]:
            top.setText(2, (row["error"] if row["error"].startswith("could not") else f"{status}: {row['error']}")
                        if row["status"] == "error" else f"{status}; {row['error']}")
        if problem:
            top.setToolTip(2, problem)
            top.setForeground(2, QBrush(ERROR_COLOUR))
        self.tree.addTopLevelItem(top)
        for tool in row["tools"]:
            child = QTreeWidgetItem([tool["name"], mcp_permission_text(tool),
                                     "" if tool["enabled"] else "switched off"])
            child.setData(0, Qt.UserRole, ("tool", tool["tool"]))
            child.setData(0, MCP_ROLE, row["name"])
            child.setData(1, Qt.UserRole, ("read_only", row["name"], tool["name"], tool["hint"]))
            tip = tool["description"]
            if tool["tool"] != tool["name"]:
                tip = f"{tip}\n(Biseo calls it {tool['tool']})".strip()
            child.setToolTip(0, tip)
            child.setToolTip(1, "Ticked: you trust this tool to change nothing, so it runs without asking.\n"
                                "Unticked: Biseo asks you before each use (the server's own hint is not trusted).")
            child.setFlags(child.flags() | Qt.ItemIsUserCheckable)
            child.setCheckState(0, Qt.Checked if tool["enabled"] else Qt.Unchecked)
            child.setCheckState(1, Qt.Checked if tool["read_only"] else Qt.Unchecked)
            top.addChild(child)
        if not row["tools"] and row["status"] == "loaded":
            # The panel never starts a server; its tools are listed once the manager has met it.
            hint = QTreeWidgetItem(["(tools are listed after the server first starts)", "", ""])
            hint.setFlags(Qt.ItemIsEnabled | Qt.ItemIsSelectable)
            hint.setData(0, MCP_ROLE, row["name"])
            hint.setForeground(0, QBrush(QColor("#777")))
            top.addChild(hint)
        top.setExpanded(True)

    def _toggled(self, item: QTreeWidgetItem, column: int) -> None:
        if self._filling or column not in (0, 1):
            return
        if column == 1:
            mark = item.data(1, Qt.UserRole)
            if mark:
                self._mark_toggled(item, *mark[1:])
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

    def _mark_toggled(self, item: QTreeWidgetItem, server: str, tool: str, hint: str) -> None:
        on = item.checkState(1) == Qt.Checked
        try:
            self.set_mcp_read_only(server, tool, on)
        except Exception as exc:  # noqa: BLE001 - e.g. config.toml not writable; said in place
            self.show_error("Could not save the change", exc)
            on = not on  # the box shows what is saved, not what was clicked
        self._filling = True
        item.setCheckState(1, Qt.Checked if on else Qt.Unchecked)
        item.setText(1, mcp_permission_text({"read_only": on, "hint": hint}))
        self._filling = False

    def set_mcp_read_only(self, server: str, tool: str, on: bool) -> None:
        """Write the user's read-only mark for one MCP tool (mcp.servers.NAME.read_only) and keep it in memory."""
        from assistant.mcp.config import set_read_only

        set_read_only(self.assistant.paths, server, tool, on)
        config = self.assistant.settings.mcp.servers.get(server)
        if config is not None:
            config.read_only = [t for t in config.read_only if t != tool] + ([tool] if on else [])
        self.settings_written()
        # Applies at once: an MCP tool reads the marks in settings each time it is about to run.
        self.notice.say(f"{tool} ({server}) now runs without asking." if on else
                        f"{tool} ({server}) now asks before each use.")

    def set_plugin_enabled(self, name: str, on: bool) -> None:
        """Write plugins.disabled (MCP servers too); a plugin is imported at start, so this needs a restart."""
        from assistant.settings import set_config_value

        current = list(self.assistant.settings.plugins.disabled)
        new = [p for p in current if p != name] + ([] if on else [name])
        set_config_value(self.assistant.paths, "plugins.disabled", new)
        self.assistant.settings.plugins.disabled = new
        server = getattr(getattr(self.assistant.settings, "mcp", None), "servers", {}).get(name)
        if on and server is not None and not server.enabled:
            # Switched off in config.toml (enabled = false): ticking it means on, whichever switch was used.
            set_config_value(self.assistant.paths, f"mcp.servers.{name}.enabled", True)
            server.enabled = True
        self.settings_written()
        what = "MCP server" if server is not None else "plugin"
        self.notice.say(f"{'Switched on' if on else 'Switched off'} the {name} {what}. "
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

    # adding and removing MCP servers
    def add_mcp_server(self) -> Any:
        """Open the Add MCP server dialog; it does not block: OK saves, then the server starts in the background."""
        from ui.dialogs.mcp_server import McpServerDialog

        dialog = McpServerDialog(self._save_mcp_server, self)
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self._attach_mcp(dialog.name))
        self.add_dialog = dialog
        dialog.open()
        return dialog

    def _save_mcp_server(self, name: str, *, command: str, args: list[str], url: str,
                         env: dict[str, str]) -> Any:
        """Write [mcp.servers.NAME] and put it in the running settings; McpConfigError says what is wrong."""
        from assistant.mcp.config import McpConfigError, add_server

        app = self.assistant
        if any(p.name == name and getattr(p, "kind", "plugin") != "mcp" for p in app.plugins.plugins):
            # The manager would refuse it at start (names are shared with plugins); better said here.
            raise McpConfigError(f"a plugin named {name!r} is already loaded; choose another name")
        config = add_server(app.paths, name, command=command, args=args, url=url, env=env)
        app.settings.mcp.servers[name] = config
        self.settings_written()
        return config

    def _attach_mcp(self, name: str) -> None:
        # Starting a server and listing its tools can take seconds: never on the GUI thread.
        self.error.clear()
        self.notice.say(f"Adding {name}: starting it and asking for its tools…")
        self.background(self.assistant.mcp.attach, name, on_done=lambda info: self._attached(name, info),
                        on_error=lambda exc: self._attach_failed(name, exc))

    def _attached(self, name: str, info: Any) -> None:
        self.reload()
        count = len(info.tools)
        if info.status == "error":
            self.notice.say("")
            self.show_error(f"Added {name}, but it could not start", info.error or "unknown error")
        elif info.status == "disabled":
            self.notice.say(f"Added {name}, but it is switched off; tick it and restart Biseo to use it.")
        elif not count:
            self.notice.say(f"Added {name}, but it offers no tools" + (f": {info.error}" if info.error else "."))
        else:
            self.notice.say(f"Added {name}: {count} tool{'s' if count != 1 else ''}, each asks before use"
                            + (f" ({info.error})" if info.error else "") + ".")

    def _attach_failed(self, name: str, exc: Any) -> None:
        self.reload()
        self.notice.say("")
        self.show_error(f"Added {name}, but it could not start", exc)

    def selected_mcp_server(self) -> str | None:
        """The MCP server whose row (or one of whose tools) is selected."""
        item = self.tree.currentItem()
        return item.data(0, MCP_ROLE) if item is not None else None

    def _selection_changed(self, *_args: Any) -> None:
        self.remove_mcp_button.setEnabled(bool(self.selected_mcp_server()))

    def context_menu(self, item: QTreeWidgetItem | None) -> QMenu | None:
        """The right-click menu of a row: only an MCP server (or its tool) has one, to remove the server."""
        name = item.data(0, MCP_ROLE) if item is not None else None
        if not name:
            return None
        menu = QMenu(self)
        menu.addAction(f"Remove MCP server {name}…", lambda: self.remove_mcp_server(name))
        return menu

    def _context_menu(self, pos: Any) -> None:
        menu = self.context_menu(self.tree.itemAt(pos))
        if menu is not None:
            menu.exec(self.tree.viewport().mapToGlobal(pos))
            menu.deleteLater()

    def remove_mcp_server(self, name: str | None = None) -> None:
        """After a yes: delete [mcp.servers.NAME], stop the server and drop its tools from the running Biseo."""
        from assistant.mcp.config import McpConfigError, remove_server

        name = name or self.selected_mcp_server()
        if not name:
            return
        app = self.assistant
        info = next((p for p in app.plugins.plugins if p.name == name and getattr(p, "kind", "") == "mcp"), None)
        tools = ", ".join(t.get("name", "") for t in getattr(info, "mcp_tools", None) or [])
        if not common.confirm(self, "Remove this MCP server?",
                              f"Biseo stops the MCP server {name} and forgets it"
                              + (f" and its tools ({tools})" if tools else "") + ". You can add it again later.",
                              yes="Remove"):
            return
        try:
            remove_server(app.paths, name)
        except McpConfigError:
            pass  # already gone from config.toml (e.g. `biseo mcp remove`); it still leaves the running Biseo
        except OSError as exc:
            self.show_error("Could not remove the server", exc)
            return
        app.settings.mcp.servers.pop(name, None)
        self.settings_written()
        self.error.clear()
        self.notice.say(f"Removing {name}: stopping it…")
        # Stopping waits for the server's process to end: off the GUI thread.
        self.background(app.mcp.detach, name, on_done=lambda _: self._detached(name),
                        on_error=lambda exc: self._detach_failed(name, exc))

    def _detached(self, name: str) -> None:
        self.reload()
        self.notice.say(f"Removed the MCP server {name}; its tools are gone.")

    def _detach_failed(self, name: str, exc: Any) -> None:
        self.reload()
        self.notice.say("")
        self.show_error(f"Removed {name} from your settings, but could not stop it", exc)

    def open_plugins_folder(self) -> None:
        folder = self.assistant.paths.plugins_dir
        folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))
