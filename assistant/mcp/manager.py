"""Bring the configured MCP servers into Biseo: their tools in the registry, their state in the plugin list.

A server's tool list is cached in the data folder, so Biseo starts without starting any server; a server
starts the first time one of its tools is called (or when its list is not cached yet) and stays up.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import logging
import threading
from pathlib import Path
from typing import Any, Callable

from assistant import __version__
from assistant.extensions.manager import PluginInfo, PluginManager
from assistant.mcp.examples import WANTED
from assistant.mcp.client import EventLoopThread, McpConnection, McpFailure, describe_target
from assistant.mcp.tools import annotation_hint, make_spec, plugin_name, short_description, tool_name
from assistant.paths import Paths
from assistant.settings import McpServerConfig, Settings

log = logging.getLogger("biseo.mcp")
CALL_SLACK_S = 10.0  # the executor's own timeout, beyond the server's: a call may have to start it first


class McpManager:
    """Connections to the configured MCP servers, their tools and what happened to each."""

    def __init__(self, paths: Paths, settings: Callable[[], Settings], plugins: PluginManager) -> None:
        self.paths, self._settings, self.plugins = paths, settings, plugins
        self.cache_path = cache_path(paths)
        self.connections: dict[str, McpConnection] = {}
        self.infos: dict[str, PluginInfo] = {}
        self._loop: EventLoopThread | None = None
        self._examples_lock = threading.Lock()
        self._pending: set[tuple[str, str]] = set()  # (server, tool) whose example was never tried

    @property
    def loop(self) -> EventLoopThread:
        if self._loop is None:
            self._loop = EventLoopThread()
        return self._loop

    def servers(self) -> dict[str, McpServerConfig]:
        settings = self._settings()
        return dict(settings.mcp.servers) if settings.mcp.enabled else {}

    def marks(self, name: str) -> Callable[[], list[str]]:
        """The user's read-only marks for a server, read live (the Plugins panel can change them)."""

        def current() -> list[str]:
            server = self._settings().mcp.servers.get(name)
            return list(server.read_only) if server else []

        return current

    # loading
    def load(self) -> None:
        """List every enabled server and register its tools; servers without a cached list are started."""
        disabled = set(self._settings().plugins.disabled)
        cache = self._read_cache()
        to_discover: list[str] = []
        for name, config in self.servers().items():
            info = self._admit(name, config, disabled)
            if info.status != "loaded":  # switched off, or its name is taken by a plugin
                continue
            connection = McpConnection(name, config, self.loop, self.paths.logs_dir, __version__)
            connection.on_change = self._follow(info)
            self.connections[name] = connection
            cached = cache.get(name)
            if cached and cached.get("fingerprint") == fingerprint(config):
                self._register(name, cached.get("tools") or [], cached.get("examples") or {})
            else:
                to_discover.append(name)
        if not to_discover:
            return
        # Servers start in parallel: one slow server costs its own start time, not the sum.
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(8, len(to_discover)))) as pool:
            for name, future in [(n, pool.submit(self.discover, n)) for n in to_discover]:
                future.result()

    def _admit(self, name: str, config: McpServerConfig, disabled: set[str]) -> PluginInfo:
        info = PluginInfo(name=name, source=f"MCP server ({describe_target(config)})", kind="mcp",
                          isolation="process", state="not started; starts on first use")
        self.plugins.plugins.append(info)
        self.infos[name] = info
        if not config.enabled or name in disabled:
            info.status, info.state = "disabled", ""
        elif any(p.name == name and p is not info and p.status == "loaded" for p in self.plugins.plugins):
            info.status, info.error = "error", f"a plugin named {name!r} is already loaded"
        return info

    def _follow(self, info: PluginInfo) -> Callable[[McpConnection], None]:
        def changed(connection: McpConnection) -> None:
            info.state = connection.describe()

        return changed

    def discover(self, name: str) -> bool:
        """Start the server, list its tools, cache and register them; False (reported) when that fails."""
        info, connection = self.infos[name], self.connections[name]
        try:
            tools = [tool.model_dump(mode="json", by_alias=True, exclude_none=True)
                     for tool in connection.list_tools()]
        except McpFailure as exc:
            if not info.tools:
                info.status = "error"
            info.error = f"could not list its tools: {exc}"
            return False
        except Exception as exc:  # noqa: BLE001 - the server answered the listing with an error
            info.status, info.error = ("error" if not info.tools else info.status), f"could not list its tools: {exc}"
            return False
        examples = self._read_cache().get(name, {}).get("examples") or {}
        self._write_cache(name, tools, examples)
        self._register(name, tools, examples)
        if info.tools:
            info.status, info.error = "loaded", ""
        return True

    def attach(self, name: str) -> PluginInfo:
        """Bring a server just added to the settings into the running Biseo: start it, list and register its tools."""
        config = self._settings().mcp.servers[name]
        if name in self.infos:
            self.detach(name)  # replaced: the old one goes first
        info = self._admit(name, config, set(self._settings().plugins.disabled))
        if info.status == "loaded":
            connection = McpConnection(name, config, self.loop, self.paths.logs_dir, __version__)
            connection.on_change = self._follow(info)
            self.connections[name] = connection
            self.discover(name)
        return info

    def detach(self, name: str) -> None:
        """Take a server out of the running Biseo (removed by the user): stop it, drop its tools and its row."""
        connection = self.connections.pop(name, None)
        if connection is not None:
            connection.stop()
        self._pending = {(s, t) for s, t in self._pending if s != name}
        info = self.infos.pop(name, None)
        if info is not None:
            for tool in info.tools:
                self.plugins.registry.remove(tool)
            self.plugins.plugins = [p for p in self.plugins.plugins if p is not info]

    def refresh(self, name: str) -> PluginInfo:
        """Ask a server for its tools again (`biseo mcp tools NAME`); new tools are added at once."""
        if name not in self.connections:
            raise KeyError(name)
        self.discover(name)
        return self.infos[name]

    def _register(self, name: str, tools: list[dict[str, Any]], examples: dict[str, Any] | None = None) -> None:
        from mcp.types import Tool

        info, connection = self.infos[name], self.connections[name]
        config = connection.config
        known = {entry["name"] for entry in info.mcp_tools}
        errors: list[str] = []
        for raw in tools:
            try:
                tool = Tool.model_validate(raw)
            except Exception as exc:  # noqa: BLE001 - a malformed tool description: list it, skip it
                errors.append(f"a tool description is malformed ({str(exc).splitlines()[0][:120]})")
                continue
            if tool.name in known:
                continue
            name_here = tool_name(tool.name, name, lambda n: self.plugins.registry.get(n) is not None)
            if name_here is None:
                errors.append(f"{tool.name!r}: no free tool name for it")
                continue
            spec = make_spec(tool, name_here, name, connection, self.marks(name),
                             timeout_s=config.timeout_s + config.start_timeout_s + CALL_SLACK_S)
            spec.examples = [(str(q), dict(a)) for q, a in (examples or {}).get(tool.name, [])
                             if isinstance(a, dict)][:WANTED]
            if tool.name not in (examples or {}):
                self._pending.add((name, tool.name))  # never tried: the next turn writes its example
            self.plugins.registry.add(spec, plugin=plugin_name(name))
            info.tools.append(name_here)
            # No read-only mark here: the user may change it any time; tool_rows() reads it live.
            info.mcp_tools.append({"name": tool.name, "tool": name_here, "hint": annotation_hint(tool),
                                   "description": short_description(tool)})
            known.add(tool.name)
        if errors:
            info.error = "; ".join(errors)

    def write_examples(self, backend: Any) -> int:
        """Give MCP tools without examples one written by the local model (once per tool, cached)."""
        from assistant.mcp.examples import write_examples

        written = 0
        with self._examples_lock:
            cache = self._read_cache()
            for name in sorted({server for server, _ in self._pending}):
                entry = cache.get(name)
                tools = [t for s, t in self._pending if s == name]
                self._pending -= {(name, t) for t in tools}
                if name not in self.connections or not entry or \
                        entry.get("fingerprint") != fingerprint(self.connections[name].config):
                    continue  # removed, or its listing is not the cached one: nothing to keep them with
                tried = entry.setdefault("examples", {})
                for row in self.infos[name].mcp_tools:
                    spec = self.plugins.registry.get(row["tool"])
                    if row["name"] not in tools or spec is None:
                        continue
                    spec.examples = write_examples(backend, spec)
                    tried[row["name"]] = [list(e) for e in spec.examples]  # [] = tried: not every turn again
                    written += len(spec.examples)
                self._write_cache(name, entry.get("tools") or [], tried)
        return written

    def needs_examples(self) -> bool:
        """True when some MCP tool has no example and none was tried yet (the next turn writes them)."""
        return bool(self._pending)  # kept in memory: asked on every turn

    def tool_rows(self, name: str) -> list[dict[str, Any]]:
        """The server's tools with the user's current read-only marks."""
        marks = set(self.marks(name)())
        return [{**row, "read_only": row["name"] in marks} for row in self.infos[name].mcp_tools]

    # cache
    def _read_cache(self) -> dict[str, Any]:
        return read_cache(self.cache_path)

    def _write_cache(self, name: str, tools: list[dict[str, Any]], examples: dict[str, Any]) -> None:
        from assistant.learning.registry import write_json_atomic

        data = self._read_cache()
        data[name] = {"fingerprint": fingerprint(self.connections[name].config), "tools": tools,
                      "examples": examples}
        try:
            write_json_atomic(self.cache_path, data)
        except OSError as exc:
            log.warning("could not cache the tools of MCP server %s: %s", name, exc)

    def close(self) -> None:
        """Stop every server and the event loop."""
        for connection in self.connections.values():
            connection.stop()
        if self._loop is not None:
            self._loop.close()
            self._loop = None


def fingerprint(config: McpServerConfig) -> str:
    """What identifies a server's tool list: how it is started or reached."""
    ident = json.dumps([config.command, config.args, config.env, config.cwd, config.url], sort_keys=True)
    return hashlib.sha256(ident.encode()).hexdigest()[:16]



def cache_path(paths: Paths) -> Path:
    """Where the servers' tool lists are kept between runs."""
    return paths.data_dir / "mcp" / "tools.json"


def read_cache(path: Path) -> dict[str, Any]:
    """server name -> {fingerprint, tools}; empty when missing or damaged (the servers are asked again)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}
