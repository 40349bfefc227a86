"""Run a tool call: look it up, validate, check approval and permissions, run with a timeout, clean the output."""

from __future__ import annotations

import copy
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from assistant.api import Permissions, ToolContext, ToolError
from assistant.cancel import CancelToken
from assistant.tools.registry import ToolRegistry
from assistant.tools.spec import ArgumentError, ToolSpec
from assistant.text import clean_text, truncate


@dataclass
class ToolOutcome:
    """What goes back to the model: ok with the output, or not ok with the reason."""

    ok: bool
    output: str
    duration_s: float = 0.0
    denied: bool = False


_GRANTED = object()  # only Approval.grant holds it: an Approval cannot be built from data


def fingerprint(name: str, arguments: Any) -> str:
    """The exact call an approval covers: tool name and canonical JSON of the arguments."""
    return json.dumps([name, arguments], sort_keys=True, ensure_ascii=True, default=repr)


@dataclass(frozen=True)
class Approval:
    """The user's yes to one exact call (call id, tool and arguments); made only by `Approval.grant`."""

    call_id: str
    call: str
    _key: object = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self._key is not _GRANTED:
            raise TypeError("an Approval comes only from the user's answer (Approval.grant)")

    @classmethod
    def grant(cls, request: Any) -> "Approval | None":
        """The approval an answered ApprovalRequested carries, or None when the user did not say yes."""
        ok, _ = request.decision
        if not ok:
            return None
        return cls(request.call_id, fingerprint(request.name, request.arguments), _GRANTED)

    def covers(self, call_id: str, name: str, arguments: Any) -> bool:
        return self.call_id == call_id and self.call == fingerprint(name, arguments)


@dataclass
class PreparedCall:
    """A call whose tool exists, is enabled and whose arguments validated."""

    spec: ToolSpec
    arguments: dict[str, Any]
    kwargs: dict[str, Any]

    @property
    def needs_approval(self) -> bool:
        return self.spec.has_side_effects(self.arguments)

    def approval_request(self, call_id: str):
        """The ApprovalRequested event to show the user; its approve() grants exactly this call."""
        from assistant.events import ApprovalRequested

        # A copy: what the user saw is what the approval covers, whatever later changes the dict.
        return ApprovalRequested(call_id, self.spec.name, copy.deepcopy(self.arguments),
                                 self.spec.approval_description(), True, self.spec.network)


class _CallCancel(CancelToken):
    """The call's own token: stopping a late call must not cancel the whole turn, but a cancelled turn stops it."""

    def __init__(self, turn: CancelToken) -> None:
        super().__init__()
        self._turn = turn

    @property
    def cancelled(self) -> bool:
        return self._event.is_set() or self._turn.cancelled

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.cancelled:
            left = 0.05 if deadline is None else min(0.05, deadline - time.monotonic())
            if left <= 0:
                break
            self._event.wait(left)
        return self.cancelled


ERROR_CHARS = 1000  # longest error text a tool (or a bad call) puts in front of the model


class ToolExecutor:
    """Checks and runs tool calls against a registry; never raises for a bad call."""

    def __init__(self, registry: ToolRegistry, *, disabled: list[str] | None = None,
                 timeout_s: float = 30.0, max_output_chars: int = 4000) -> None:
        self.registry = registry
        self.disabled = set(disabled or [])
        self.timeout_s = timeout_s
        self.max_output_chars = max_output_chars
        self._used: set[str] = set()  # call ids whose approval was spent: an approval runs once
        self._used_lock = threading.Lock()

    def prepare(self, name: Any, arguments: Any) -> PreparedCall | ToolOutcome:
        """Validate a call; returns an error outcome the model can read when it is not runnable."""
        if not isinstance(name, str) or not name:
            return ToolOutcome(False, "error: the tool call has no tool name")
        spec = self.registry.get(name)
        enabled = [t.name for t in self.registry.enabled(self.disabled)]
        if spec is None:
            shown = clean_text(name)[:60] + ("..." if len(name) > 60 else "")  # a model may invent a flood
            return ToolOutcome(False, f"error: there is no tool named {shown!r}; available tools: "
                                      f"{', '.join(enabled) or 'none'}")
        if name in self.disabled or spec.plugin in self.disabled:
            return ToolOutcome(False, f"error: the tool {name!r} is disabled by the user")
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments) if arguments.strip() else {}
            except json.JSONDecodeError as exc:
                return ToolOutcome(False, f"error: the arguments for {name} are not valid JSON ({exc.msg})")
        try:
            kwargs = spec.validate(arguments)
        except ArgumentError as exc:
            return ToolOutcome(False, truncate(f"error: invalid arguments for {name}: {exc}", ERROR_CHARS, "error"))
        return PreparedCall(spec=spec, arguments=arguments, kwargs=kwargs)

    def run(self, call: PreparedCall, ctx: ToolContext, approval: Approval | None = None) -> ToolOutcome:
        """Run a prepared call with a timeout; errors become outcomes.

        A call that needs approval runs only with the user's Approval for this call id and these exact
        arguments; anything else is refused here, whatever the caller or the model says.
        """
        kwargs = call.kwargs
        if call.needs_approval:
            refusal = self._check_approval(call, ctx, approval)
            if refusal is not None:
                return refusal
            try:  # the arguments approved are the arguments run, whatever happened to kwargs since
                kwargs = call.spec.validate(call.arguments)
            except ArgumentError as exc:
                return ToolOutcome(False, f"error: invalid arguments for {call.spec.name}: {exc}")
        self.confine(call.spec, ctx)
        ctx.cancel = _CallCancel(ctx.cancel)
        timeout = call.spec.timeout_s or self.timeout_s
        box: dict[str, Any] = {}

        def target() -> None:
            try:
                box["result"] = call.spec.call(dict(kwargs), ctx)
            except BaseException as exc:  # a tool's fault must not end the turn
                box["error"] = exc

        start = time.monotonic()
        worker = threading.Thread(target=target, name=f"tool-{call.spec.name}", daemon=True)
        worker.start()
        worker.join(timeout)
        duration = time.monotonic() - start
        if worker.is_alive():
            ctx.cancel.cancel()  # ask a cooperative tool to stop; the thread is abandoned
            kill = getattr(call.spec, "kill", None)
            if callable(kill):  # a plugin in its own process: kill it, the next call restarts it
                kill()
                return ToolOutcome(False, f"error: {call.spec.name} did not finish within {timeout:g} s; its "
                                          f"plugin process ({call.spec.plugin}) was killed", duration)
            return ToolOutcome(False, f"error: {call.spec.name} did not finish within {timeout:g} s "
                                      "and was stopped", duration)
        if "error" in box:
            exc = box["error"]
            if isinstance(exc, ToolError):
                # A tool's own message is for the model: bounded like any output.
                return ToolOutcome(False, truncate(f"error: {clean_text(str(exc))}", ERROR_CHARS, "error"), duration)
            return ToolOutcome(False, f"error: {call.spec.name} failed: {type(exc).__name__}: "
                                      f"{clean_text(str(exc))[:500]}", duration)
        return ToolOutcome(True, self.render_output(box.get("result")), duration)

    def _check_approval(self, call: PreparedCall, ctx: ToolContext, approval: Approval | None) -> ToolOutcome | None:
        name = call.spec.name
        if not isinstance(approval, Approval):
            why = "it changes things and needs the user's approval, and none was given"
        elif not approval.covers(ctx.call_id, name, call.arguments):
            why = "the user's approval was for a different call or different arguments"
        else:
            with self._used_lock:
                if approval.call_id in self._used:
                    why = "the user's approval was already used"
                else:
                    self._used.add(approval.call_id)
                    return None
        return ToolOutcome(False, f"denied: {name} was not run: {why}. Nothing was done. Tell the user; "
                                  "do not retry.", denied=True)

    @staticmethod
    def confine(spec: ToolSpec, ctx: ToolContext) -> None:
        """Narrow the context to the plugin's permissions: its roots only, and its file access."""
        # The plugin's declaration when it made one, else what this tool declares.
        grant = spec.grant if isinstance(spec.grant, Permissions) else Permissions.of_tools([spec])
        ctx.access = grant.files
        ctx.network = grant.network
        ctx.roots = grant.resolve_roots(list(ctx.roots))

    def render_output(self, result: Any) -> str:
        """Turn a tool's return value into clean, bounded text for the model."""
        if result is None:
            text = "(done, no output)"
        elif isinstance(result, str):
            text = result
        elif isinstance(result, bytes):
            text = f"(binary output, {len(result)} bytes, not shown)"
        else:
            try:
                text = json.dumps(result, ensure_ascii=False, default=str)
            except (TypeError, ValueError):
                text = str(result)
        return truncate(clean_text(text), self.max_output_chars, "tool output")
