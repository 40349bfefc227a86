"""A real MCP server (the installed SDK's MCPServer) that misbehaves on request, for Biseo's failure tests.

Tools: echo (works), count (calls served by this process, and its pid: proves a restart), crash (exits
at once), hang (never answers), garbage (writes non-MCP lines on stdout, then never answers), malformed
(answers the call with a result of the wrong shape).
Flags: --fail-start, --garbage-start, --slow-start SECONDS [--slow-restart FILE], --http PORT (streamable
HTTP on 127.0.0.1, not stdio).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

import anyio
from mcp.server.mcpserver import Context, MCPServer

CALLS = {"n": 0}
# The SDK's stdio transport points fd 1 at stderr while it serves (stray prints cannot corrupt the protocol),
# so the real stdout pipe is kept here, before it starts: the misbehaving tools write to it past the SDK.
WIRE = os.dup(1)


def raw_line(data: bytes) -> None:
    """Bytes straight to the real stdout pipe, past the SDK's writer: what a broken server does."""
    os.write(WIRE, data if data.endswith(b"\n") else data + b"\n")


def build() -> MCPServer:
    server = MCPServer("misbehaving", version="1.0")

    @server.tool()
    def echo(text: str) -> str:
        """Return the text unchanged."""
        CALLS["n"] += 1
        return text

    @server.tool()
    def count() -> str:
        """How many calls this server process has served, and its process id."""
        CALLS["n"] += 1
        return json.dumps({"calls": CALLS["n"], "pid": os.getpid()})

    @server.tool()
    def crash() -> str:
        """Exit at once, mid-call, after a last word on stderr."""
        CALLS["n"] += 1
        sys.stderr.write("boom: simulated crash\n")
        sys.stderr.flush()
        os._exit(3)

    @server.tool()
    async def hang() -> str:
        """Never answer."""
        CALLS["n"] += 1
        await anyio.sleep_forever()
        return ""

    @server.tool()
    async def garbage() -> str:
        """Write a line that is not JSON and an invalid JSON-RPC message on stdout, then never answer."""
        CALLS["n"] += 1
        raw_line(b"this is not json at all")
        raw_line(b'{"jsonrpc": "2.0", "method": 42, "id": {"not": "an id"}}')
        await anyio.sleep_forever()
        return ""

    @server.tool()
    async def malformed(ctx: Context) -> str:
        """Answer this call with a result whose content is not a list, then never send the real answer."""
        CALLS["n"] += 1
        request_id: Any = ctx.request_context.request_id
        raw_line(json.dumps({"jsonrpc": "2.0", "id": request_id,
                             "result": {"content": "not a list", "isError": "perhaps"}}).encode())
        await anyio.sleep_forever()  # the SDK's own (well-formed) answer would follow otherwise
        return ""

    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fail-start", action="store_true", help="refuse to start, with a reason on stderr")
    parser.add_argument("--garbage-start", action="store_true", help="print garbage on stdout first")
    parser.add_argument("--slow-start", type=float, default=0.0, metavar="SECONDS")
    parser.add_argument("--slow-restart", default="", metavar="FILE",
                        help="with --slow-start: the first start is quick (and creates FILE), later ones slow")
    parser.add_argument("--http", type=int, default=0, metavar="PORT", help="serve streamable HTTP on 127.0.0.1")
    args = parser.parse_args(argv)
    if args.fail_start:
        sys.stderr.write("misbehaving: cannot start: the database /nonexistent/db is missing\n")
        return 2
    if args.garbage_start:
        raw_line(b"Welcome to misbehaving 1.0! (this banner is not JSON-RPC)")
    if args.slow_start:
        first = False
        if args.slow_restart:
            try:
                open(args.slow_restart, "x").close()
                first = True
            except FileExistsError:
                pass
        if not first:
            time.sleep(args.slow_start)
    server = build()
    if args.http:
        server.run("streamable-http", host="127.0.0.1", port=args.http)
    else:
        server.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
