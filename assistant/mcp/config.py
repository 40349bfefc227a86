"""Declare MCP servers in config.toml: add, remove, and the user's read-only marks on their tools."""

from __future__ import annotations

import re
from typing import Any

from assistant.paths import Paths
from assistant.settings import McpServerConfig, edit_config

NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


class McpConfigError(ValueError):
    """A server declaration that cannot be saved (bad name, nothing to start, unknown server)."""


def check_name(name: str) -> str:
    """A server name: lower case letters, digits, '-' and '_', starting with a letter (it names its tools)."""
    if not NAME_RE.match(name or ""):
        raise McpConfigError(f"{name!r} is not a usable server name: use lower-case letters, digits, '-' or '_', "
                             "starting with a letter, at most 32 characters")
    return name


def add_server(paths: Paths, name: str, *, command: str = "", args: list[str] | None = None,
               url: str = "", env: dict[str, str] | None = None, cwd: str = "",
               replace: bool = False) -> McpServerConfig:
    """Write `[mcp.servers.NAME]`; a stdio server needs a command, an HTTP one a URL (not both)."""
    check_name(name)
    if bool(command) == bool(url):
        raise McpConfigError("give either a command to start (stdio) or a URL (streamable HTTP), not both")
    if url and not re.match(r"^https?://", url):
        raise McpConfigError(f"{url!r} is not an http:// or https:// address")
    server = McpServerConfig(command=command, args=list(args or []), url=url, env=dict(env or {}), cwd=cwd)

    def put(data: dict[str, Any]) -> None:
        servers = data.setdefault("mcp", {}).setdefault("servers", {})
        if name in servers and not replace:
            raise McpConfigError(f"an MCP server named {name!r} already exists; remove it first")
        old = servers.get(name) or {}
        entry = server.model_dump(exclude_defaults=True)
        if old.get("read_only"):  # replacing the command keeps the user's read-only marks
            entry["read_only"] = old["read_only"]
        servers[name] = entry

    edit_config(paths, put)
    return server


def remove_server(paths: Paths, name: str) -> None:
    """Delete `[mcp.servers.NAME]`; McpConfigError when there is none."""

    def drop(data: dict[str, Any]) -> None:
        servers = data.get("mcp", {}).get("servers", {})
        if name not in servers:
            raise McpConfigError(f"there is no MCP server named {name!r}")
        del servers[name]

    edit_config(paths, drop)


def set_read_only(paths: Paths, server: str, tool: str, value: bool) -> None:
    """Mark (or unmark) one of a server's tools read-only: read-only tools run without asking first."""

    def mark(data: dict[str, Any]) -> None:
        servers = data.get("mcp", {}).get("servers", {})
        if server not in servers:
            raise McpConfigError(f"there is no MCP server named {server!r}")
        marks = [t for t in servers[server].get("read_only", []) if t != tool]
        if value:
            marks.append(tool)
        servers[server]["read_only"] = sorted(marks)

    edit_config(paths, mark)
