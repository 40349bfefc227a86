"""Run a tool call: look it up, validate, (the loop asks approval), run with a timeout, clean the output."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from assistant.api import ToolContext, ToolError
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


@dataclass
class PreparedCall:
    """A call whose tool exists, is enabled and whose arguments validated."""

    spec: ToolSpec
    arguments: dict[str, Any]
    kwargs: dict[str, Any]

    @property
    def needs_approval(self) -> bool:
        return self.spec.has_side_effects(self.arguments)


class ToolExecutor:
    """Checks and runs tool calls against a registry; never raises for a bad call."""

    def __init__(self, registry: ToolRegistry, *, disabled: list[str] | None = None,
                 timeout_s: float = 30.0, max_output_chars: int = 4000) -> None:
        self.registry = registry
        self.disabled = set(disabled or [])
        self.timeout_s = timeout_s
        self.max_output_chars = max_output_chars

    def prepare(self, name: Any, arguments: Any) -> PreparedCall | ToolOutcome:
        """Validate a call; returns an error outcome the model can read when it is not runnable."""
        if not isinstance(name, str) or not name:
            return ToolOutcome(False, "error: the tool call has no tool name")
        spec = self.registry.get(name)
        enabled = [t.name for t in self.registry.enabled(self.disabled)]
        if spec is None:
            return ToolOutcome(False, f"error: there is no tool named {name!r}; available tools: "
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
            return ToolOutcome(False, f"error: invalid arguments for {name}: {exc}")
        return PreparedCall(spec=spec, arguments=arguments, kwargs=kwargs)

    def run(self, call: PreparedCall, ctx: ToolContext) -> ToolOutcome:
        """Run a prepared (and, if needed, approved) call with a timeout; errors become outcomes."""
        timeout = call.spec.timeout_s or self.timeout_s
        box: dict[str, Any] = {}

        def target() -> None:
            try:
                box["result"] = call.spec.call(dict(call.kwargs), ctx)
            except BaseException as exc:  # a tool's fault must not end the turn
                box["error"] = exc

        start = time.monotonic()
        worker = threading.Thread(target=target, name=f"tool-{call.spec.name}", daemon=True)
        worker.start()
        worker.join(timeout)
        duration = time.monotonic() - start
        if worker.is_alive():
            ctx.cancel.cancel()  # ask a cooperative tool to stop; the thread is abandoned
            return ToolOutcome(False, f"error: {call.spec.name} did not finish within {timeout:g} s "
                                      "and was stopped", duration)
        if "error" in box:
            exc = box["error"]
            if isinstance(exc, ToolError):
                return ToolOutcome(False, f"error: {clean_text(str(exc))}", duration)
            return ToolOutcome(False, f"error: {call.spec.name} failed: {type(exc).__name__}: "
                                      f"{clean_text(str(exc))[:500]}", duration)
        return ToolOutcome(True, self.render_output(box.get("result")), duration)

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
