"""`biseo mcp serve`: Biseo's own enabled tools as an MCP server over stdio; changes wait for the user's yes."""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import sys
from collections import OrderedDict
from typing import Any

import anyio
from mcp import types
from mcp.server import Server, ServerRequestContext
from mcp.server.stdio import stdio_server
from mcp_types.version import is_version_at_least

from assistant import __version__
from assistant.cancel import CancelToken
from assistant.tools.executor import Approval, ToolOutcome, fingerprint
from assistant.tools.spec import ToolSpec

log = logging.getLogger("biseo.mcp.serve")

# From this protocol revision on a server cannot send the client requests of its own: a tool call that needs
# the user's yes answers "input required" and the client calls again with the answer.
INPUT_REQUIRED_VERSION = "2026-07-28"
APPROVAL_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}  # the answer is the action: accept or not
MAX_PENDING = 64  # approvals asked and not yet answered, per server (oldest forgotten first)


def served_tools(assistant) -> list[ToolSpec]:
    """The enabled tools offered to MCP clients: all but those proxied from MCP servers (serving them back loops)."""
    return [spec for spec in assistant.registry.enabled(assistant.settings.tools.disabled)
            if getattr(spec, "isolation", "") != "mcp"]


def annotations(spec: ToolSpec) -> types.ToolAnnotations:
    """Hints for the client: read-only only when the tool never changes anything, whatever its arguments."""
    read_only = spec.side_effects is False
    return types.ToolAnnotations(read_only_hint=read_only, destructive_hint=not read_only,
                                 open_world_hint=bool(spec.network))


def _text(text: str, error: bool) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=text)], is_error=error)


def _can_ask(ctx: ServerRequestContext) -> bool:
    """Whether the client declared form elicitation (a bare `elicitation: {}` means form)."""
    caps = ctx.session.client_capabilities
    asked = caps.elicitation if caps is not None else None
    return asked is not None and (asked.form is not None or asked.url is None)


def approval_message(request) -> str:
    """What the user sees: the tool and the exact arguments the approval covers."""
    where = " It may go online." if request.network else ""
    return (f"Biseo's tool {request.name} changes things and needs your approval.{where}\n"
            f"{request.description}\nArguments:\n{json.dumps(request.arguments, indent=2, ensure_ascii=False)}\n"
            "Accept to run it once with exactly these arguments; decline and nothing is run.")


class _Pending:
    """Approvals asked through "input required", by the key minted for them; each answer counts once."""

    def __init__(self) -> None:
        self._asked: OrderedDict[str, str] = OrderedDict()  # key -> fingerprint of the exact call

    def ask(self, name: str, arguments: Any) -> str:
        key = f"approve-{secrets.token_urlsafe(12)}"
        self._asked[key] = fingerprint(name, arguments)
        while len(self._asked) > MAX_PENDING:
            self._asked.popitem(last=False)
        return key

    def answer(self, params: types.CallToolRequestParams) -> types.ElicitResult | None:
        """The client's answer to a question this server asked about this exact call, or None."""
        call = fingerprint(params.name, params.arguments or {})
        for key, response in (params.input_responses or {}).items():
            # Only an answer to a question minted here, for these arguments: an unasked "accept" is no yes.
            if self._asked.get(key) == call and isinstance(response, types.ElicitResult):
                del self._asked[key]
                return response
        return None


def build_server(assistant) -> Server:
    """The MCP server (SDK lowlevel `Server`) over this Assistant's tools and executor."""
    pending = _Pending()

    async def list_tools(ctx: ServerRequestContext, params: types.PaginatedRequestParams | None
                         ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[
            types.Tool(name=spec.name, description=spec.description, input_schema=spec.schema,
                       annotations=annotations(spec))
            for spec in served_tools(assistant)])

    async def call_tool(ctx: ServerRequestContext, params: types.CallToolRequestParams
                        ) -> types.CallToolResult | types.InputRequiredResult:
        name, arguments = params.name, params.arguments or {}
        if name not in {spec.name for spec in served_tools(assistant)}:
            return _text(f"error: there is no tool named {name!r}", True)
        prepared = assistant.executor.prepare(name, arguments)
        if isinstance(prepared, ToolOutcome):
            return _text(prepared.output, True)
        call_id = f"mcp-{secrets.token_hex(6)}"
        approval = None
        if prepared.needs_approval:
            request = prepared.approval_request(call_id)
            answer = await _ask(ctx, params, request)
            if isinstance(answer, (types.InputRequiredResult, types.CallToolResult)):
                return answer
            if answer.action != "accept":
                return _text(f"denied: you declined {name}; nothing was run.", True)
            request.approve()
            approval = Approval.grant(request)  # bound to this call id and these exact arguments, used once
        outcome = await _run(prepared, call_id, approval)
        return _text(outcome.output, not outcome.ok)

    async def _ask(ctx: ServerRequestContext, params: types.CallToolRequestParams, request):
        """The user's answer, an "input required" result asking for it, or a refusal when it cannot be asked."""
        if not _can_ask(ctx):
            return _text(f"denied: {request.name} changes things and needs your approval; this MCP client cannot "
                         "ask for it, so nothing was run.", True)
        message = approval_message(request)
        if is_version_at_least(ctx.protocol_version, INPUT_REQUIRED_VERSION):
            answer = pending.answer(params)
            if answer is not None:
                return answer
            key = pending.ask(params.name, params.arguments or {})
            ask = types.ElicitRequest(params=types.ElicitRequestFormParams(
                message=message, requested_schema=APPROVAL_SCHEMA))
            return types.InputRequiredResult(input_requests={key: ask})
        try:
            return await ctx.session.elicit_form(message, APPROVAL_SCHEMA, related_request_id=ctx.request_id)
        except Exception as exc:  # noqa: BLE001 - a client that fails to ask gave no yes
            log.warning("asking the client to approve %s failed: %s", request.name, exc)
            return _text(f"denied: {request.name} needs your approval and the MCP client could not ask for it "
                         f"({exc}); nothing was run.", True)

    async def _run(prepared, call_id: str, approval: Approval | None) -> ToolOutcome:
        """Run through the executor (approval, permissions, timeout) on a worker thread: the server stays live."""
        cancel = CancelToken()
        ctx = assistant.agent.tool_context(prepared.spec.name, call_id, cancel)
        try:
            return await anyio.to_thread.run_sync(assistant.executor.run, prepared, ctx, approval,
                                                  abandon_on_cancel=True)
        except anyio.get_cancelled_exc_class():
            cancel.cancel()  # the client cancelled: a cooperative tool stops; the executor's timeout bounds it
            raise

    return Server("biseo", version=__version__, title="Biseo",
                  instructions="Biseo's local tools. Tools that change things ask the user before they run.",
                  on_list_tools=list_tools, on_call_tool=call_tool)


def serve_stdio(assistant) -> int:
    """Serve this Assistant's tools over stdin/stdout until stdin closes; returns the exit code."""
    server = build_server(assistant)

    async def main() -> None:
        # stdio_server takes fds 0 and 1 for the protocol and points fd 1 at stderr meanwhile; sys.stdout
        # goes to stderr too, so a print from a tool or plugin never lands inside the protocol stream.
        sys.stdout.flush()
        async with stdio_server() as (read, write):
            with contextlib.redirect_stdout(sys.stderr):
                await server.run(read, write, server.create_initialization_options())

    try:
        anyio.run(main)
    except KeyboardInterrupt:
        return 130
    except Exception:  # noqa: BLE001 - the client sees the server gone; the reason goes to stderr
        log.exception("the MCP server stopped")
        return 1
    return 0
