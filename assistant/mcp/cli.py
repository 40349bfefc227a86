"""`biseo mcp`: add, list, remove and inspect MCP servers, mark their tools read-only, serve Biseo over MCP."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from typing import Any

from assistant.mcp.config import McpConfigError, add_server, remove_server, set_read_only
from assistant.paths import resolve_paths
from assistant.settings import load_settings


def register(sub: Any) -> None:
    """Add the `mcp` command group to the main parser."""
    p = sub.add_parser("mcp", help="MCP servers: their tools become Biseo tools (and `mcp serve` the reverse)")
    msub = p.add_subparsers(dest="mcp_command", metavar="ACTION", required=True)

    a = msub.add_parser("add", help="add a server: `biseo mcp add NAME -- COMMAND ARGS...` or `--url URL`",
                        description="Add an MCP server. Biseo starts it now to list its tools, then whenever "
                                    "one of its tools is needed. Every tool asks before each use until you mark "
                                    "it read-only (`biseo mcp read-only NAME TOOL`).")
    a.add_argument("name", help="a short name (lower case), e.g. time")
    a.add_argument("--url", default="", help="streamable HTTP address of a running server, instead of a command")
    a.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="environment for the server")
    a.add_argument("--cwd", default="", help="folder the server starts in")
    a.add_argument("--replace", action="store_true", help="replace a server of the same name (keeps read-only marks)")
    a.add_argument("--no-start", action="store_true", help="do not start it now to list its tools")
    a.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command and its arguments")
    a.set_defaults(func=cmd_add, add_parser=a)

    ls = msub.add_parser("list", help="servers, their state and tools")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_list)

    rm = msub.add_parser("remove", help="remove a server")
    rm.add_argument("name")
    rm.set_defaults(func=cmd_remove)

    t = msub.add_parser("tools", help="start a server and show its tools with their permissions")
    t.add_argument("name")
    t.add_argument("--json", action="store_true")
    t.set_defaults(func=cmd_tools)

    ro = msub.add_parser("read-only", help="mark tools read-only (they run without asking); --off to undo",
                         description="Tools of an MCP server are assumed to change things, so each call asks "
                                     "first. Mark the ones you know only read (a server's own 'read-only' "
                                     "annotation is shown as a hint, never trusted).")
    ro.add_argument("name", help="the server")
    ro.add_argument("tools", nargs="+", help="tool names as the server calls them (see `biseo mcp tools NAME`)")
    ro.add_argument("--off", action="store_true", help="ask before each use again")
    ro.set_defaults(func=cmd_read_only)

    s = msub.add_parser("serve", help="serve Biseo's enabled tools and memory recall to other MCP clients (stdio)",
                        description="Run Biseo as an MCP server on stdin/stdout. Tools that change things run "
                                    "only when the client asks you and you accept (MCP elicitation); clients "
                                    "that cannot ask get a refusal.")
    s.set_defaults(func=cmd_serve)


def _fail(message: str) -> int:
    print(f"biseo: {message}", file=sys.stderr)
    return 1


def loaded_managers():
    """Plugins and MCP servers loaded as the app loads them (no model): (PluginManager, McpManager)."""
    from assistant.extensions.manager import PluginManager
    from assistant.mcp.manager import McpManager

    paths = resolve_paths().ensure()
    settings = load_settings(paths)
    plugins = PluginManager()
    plugins.load_all(disabled=settings.plugins.disabled,
                     user_dir=paths.plugins_dir if settings.plugins.user_folder_enabled else None,
                     isolation=settings.plugins.isolation, in_process=settings.plugins.in_process,
                     load_timeout_s=settings.plugins.load_timeout_s)
    mcp = McpManager(paths, lambda: settings, plugins)
    try:
        mcp.load()
    except BaseException:
        plugins.close()
        mcp.close()
        raise
    return plugins, mcp


def permission_words(row: dict[str, Any]) -> str:
    """A tool's permission as the user set it, and the server's hint."""
    words = "read-only (you marked it): runs without asking" if row["read_only"] else "asks before each use"
    if row.get("hint"):
        words += f"; the server says {row['hint']} (a hint, not trusted)"
    return words


def server_rows(mcp: Any, names: list[str] | None = None) -> list[dict[str, Any]]:
    """What `mcp list` and `plugins list` show for MCP servers."""
    rows = []
    for name, info in mcp.infos.items():
        if names is not None and name not in names:
            continue
        tools = mcp.tool_rows(name) if info.status != "disabled" else []
        rows.append({"name": name, "kind": "mcp", "source": info.source, "status": info.status,
                     "state": info.state, "error": info.error, "tools": tools})
    return rows


def print_server(row: dict[str, Any]) -> None:
    print(f"{row['name']}  [{row['status']}]  from {row['source']}")
    if row["state"]:
        print(f"    state: {row['state']}")
    if row["error"]:
        print(f"    error: {row['error']}")
    for t in row["tools"]:
        shown = t["tool"] if t["tool"] == t["name"] else f"{t['tool']} (server: {t['name']})"
        print(f"    - {shown}: {t['description']}  [{permission_words(t)}]")


def cmd_add(args: argparse.Namespace) -> int:
    command = list(args.command)
    if command[:1] != ["--"] and command[:1] and command[0].startswith("-"):
        # argparse hands options written after NAME to the command: read them as options up to "--".
        cut = command.index("--") if "--" in command else len(command)
        head, command = command[:cut], command[cut:]
        more = args.add_parser.parse_args([*head, args.name])
        args.url, args.cwd = more.url or args.url, more.cwd or args.cwd
        args.env, args.replace, args.no_start = args.env + more.env, args.replace or more.replace, \
            args.no_start or more.no_start
    if command[:1] == ["--"]:
        command = command[1:]
    if command and "/" in command[0] and not os.path.isabs(command[0]) and os.path.exists(command[0]):
        command[0] = os.path.abspath(command[0])  # servers start in the home folder: keep the program findable
    env = {}
    for item in args.env:
        key, sep, value = item.partition("=")
        if not sep or not key:
            return _fail(f"--env needs KEY=VALUE, got {item!r}")
        env[key] = value
    paths = resolve_paths().ensure()
    try:
        add_server(paths, args.name, command=command[0] if command else "", args=command[1:], url=args.url,
                   env=env, cwd=args.cwd, replace=args.replace)
    except McpConfigError as exc:
        return _fail(str(exc))
    print(f"Added MCP server {args.name!r} to {paths.config_file}.")
    if args.no_start:
        return 0
    return _show_tools(args.name, as_json=False, after_add=True)


def cmd_list(args: argparse.Namespace) -> int:
    plugins, mcp = loaded_managers()
    try:
        rows = server_rows(mcp)
    finally:
        mcp.close()
        plugins.close()
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    if not rows:
        print("No MCP servers. Add one with: biseo mcp add NAME -- COMMAND ARGS...")
    for row in rows:
        print_server(row)
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    paths = resolve_paths().ensure()
    try:
        remove_server(paths, args.name)
    except McpConfigError as exc:
        return _fail(str(exc))
    print(f"Removed MCP server {args.name!r}; its tools are gone from the next start.")
    return 0


def cmd_tools(args: argparse.Namespace) -> int:
    return _show_tools(args.name, as_json=args.json)


def _show_tools(name: str, *, as_json: bool, after_add: bool = False) -> int:
    plugins, mcp = loaded_managers()
    try:
        if name not in mcp.infos:
            return _fail(f"there is no MCP server named {name!r} (see `biseo mcp list`)")
        if name not in mcp.connections:
            info = mcp.infos[name]
            return _fail(f"MCP server {name!r} " + (info.error if info.status == "error" else "is switched off"))
        ok = mcp.discover(name)  # always ask the server itself
        row = server_rows(mcp, [name])[0]
    finally:
        mcp.close()
        plugins.close()
    if as_json:
        print(json.dumps(row, ensure_ascii=False, indent=2))
    else:
        print_server(row)
        if ok and row["tools"] and not any(t["read_only"] for t in row["tools"]):
            print(f"Each tool asks before it runs. Mark tools that only read with: "
                  f"biseo mcp read-only {name} TOOL")
    if not ok:
        if after_add:
            print(f"biseo: the server is saved, but it {row['error']}", file=sys.stderr)
        return 1
    return 0


def cmd_read_only(args: argparse.Namespace) -> int:
    from assistant.mcp.manager import cache_path, read_cache

    paths = resolve_paths().ensure()
    settings = load_settings(paths)
    if args.name not in settings.mcp.servers:
        return _fail(f"there is no MCP server named {args.name!r} (see `biseo mcp list`)")
    known = {t.get("name") for t in read_cache(cache_path(paths)).get(args.name, {}).get("tools") or []}
    unknown = [t for t in args.tools if known and t not in known]
    if unknown:
        return _fail(f"{args.name} has no tool named {', '.join(map(repr, unknown))}; "
                     f"its tools: {', '.join(sorted(known))}")
    for tool in args.tools:
        set_read_only(paths, args.name, tool, not args.off)
    what = "ask before each use again" if args.off else "are read-only: they run without asking"
    print(f"{', '.join(args.tools)} ({args.name}) {what}.")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from assistant.app import Assistant
    from assistant.mcp.serve import serve_stdio

    with contextlib.redirect_stdout(sys.stderr):  # stdout is the protocol: start-up chatter goes to stderr
        assistant = Assistant()
    try:
        return serve_stdio(assistant)
    finally:
        assistant.close()
