"""Test helpers for plugin authors: run a tool the way the app does, and check a tool's contract.

The pytest fixtures `tool_runner`, `tool_contract` and `biseo_home` (assistant.testing.pytest_plugin)
are registered automatically when Biseo is installed.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

from assistant.api import ToolContext, ToolDefinitionError, spec_of
from assistant.tools.executor import Approval, PreparedCall, ToolExecutor, ToolOutcome
from assistant.tools.registry import ToolRegistry
from assistant.tools.spec import NAME_RE, ToolSpec

__all__ = ["ToolRunner", "ToolOutcome", "check_tool_contract", "load_plugin", "approve"]

Tool = Callable[..., Any] | ToolSpec
Arguments = dict[str, Any] | str | None


class ToolRunner:
    """Validates and runs one tool call like the app: same executor, timeout and output cleaning."""

    def __init__(self, *, roots: list[str | Path] | None = None, settings: Any = None,
                 data_dir: Path | None = None, timeout_s: float = 30.0, max_output_chars: int = 4000,
                 memory: Any = None, documents: Any = None) -> None:
        self.roots = list(roots or [])
        self.memory = memory  # what the tool sees as ctx.memory / ctx.documents (fakes are fine)
        self.documents = documents
        self.settings = settings
        self.data_dir = data_dir
        self.timeout_s = timeout_s
        self.max_output_chars = max_output_chars

    def _executor(self, func: Tool) -> tuple[ToolExecutor, ToolSpec]:
        # A copy, so registering here never renames the plugin that owns the real spec.
        spec = dataclasses.replace(spec_of(func))
        registry = ToolRegistry()
        registry.add(spec, plugin=spec.plugin or "test")
        return ToolExecutor(registry, timeout_s=self.timeout_s, max_output_chars=self.max_output_chars), spec

    def prepare(self, func: Tool, arguments: Arguments = None, /, **kwargs: Any) -> PreparedCall | ToolOutcome:
        """Validate a call: a PreparedCall, or the error outcome the model would see."""
        executor, spec = self._executor(func)
        return executor.prepare(spec.name, _merge(arguments, kwargs))

    def needs_approval(self, func: Tool, arguments: Arguments = None, /, **kwargs: Any) -> bool:
        """Whether the app would ask the user before this call (its arguments must be valid)."""
        prepared = self.prepare(func, arguments, **kwargs)
        if isinstance(prepared, ToolOutcome):
            raise AssertionError(f"the arguments are invalid, so nothing would be asked: {prepared.output}")
        return prepared.needs_approval

    def __call__(self, func: Tool, arguments: Arguments = None, /, *, roots: list[str | Path] | None = None,
                 settings: Any = None, approve: bool = True, memory: Any = None, documents: Any = None,
                 **kwargs: Any) -> ToolOutcome:
        """Run `func` with arguments (a dict, a JSON string, or keywords); returns the ToolOutcome.

        `approve=False` plays a user who says no: a call that needs approval is denied, not run.
        """
        executor, spec = self._executor(func)
        prepared = executor.prepare(spec.name, _merge(arguments, kwargs))
        if isinstance(prepared, ToolOutcome):
            return prepared
        if prepared.needs_approval and not approve:
            return ToolOutcome(False, f"denied: the user did not allow this call of {spec.name}. "
                                      "Nothing was done.", denied=True)
        ctx = ToolContext(tool_name=spec.name, call_id="test-call",
                          roots=[Path(r) for r in (self.roots if roots is None else roots)],
                          settings=self.settings if settings is None else settings, data_dir=self.data_dir,
                          memory=self.memory if memory is None else memory,
                          documents=self.documents if documents is None else documents)
        granted = _approve(prepared, ctx.call_id) if prepared.needs_approval else None
        outcome = executor.run(prepared, ctx, granted)
        self.last_citations = ctx.citations  # what the tool cited with ctx.cite(...)
        return outcome


def approve(prepared: PreparedCall, call_id: str) -> Approval:
    """Play the user who says yes to this exact call: the Approval the executor needs to run it."""
    request = prepared.approval_request(call_id)
    request.approve()
    approval = Approval.grant(request)
    assert approval is not None
    return approval


_approve = approve  # ToolRunner.__call__ has a parameter named `approve`


def _merge(arguments: Arguments, kwargs: dict[str, Any]) -> Any:
    if isinstance(arguments, str):
        if kwargs:
            raise TypeError("give the arguments either as a JSON string or as keywords, not both")
        return arguments
    return {**(arguments or {}), **kwargs}


def check_tool_contract(func: Tool) -> ToolSpec:
    """Assert that a tool is well declared and fails cleanly on bad input; returns its ToolSpec."""
    try:
        spec = spec_of(func)
    except ToolDefinitionError as exc:
        raise AssertionError(f"not a valid tool: {exc}") from None
    where = f"tool {spec.name!r}"
    _check(NAME_RE.match(spec.name), f"{where}: the name must be lower_snake_case, at most 48 characters")
    _check(spec.description.strip(), f"{where}: needs a description (the docstring's first paragraph)")
    _check(len(spec.description) <= 1000, f"{where}: the description is {len(spec.description)} "
                                          "characters; keep it to a sentence or two")
    schema = spec.schema
    _check(isinstance(schema, dict) and schema.get("type") == "object", f"{where}: schema is not an object")
    _check(isinstance(schema.get("properties"), dict), f"{where}: schema has no properties object")
    try:
        _check(json.loads(json.dumps(schema)) == schema, f"{where}: schema does not survive JSON")
    except (TypeError, ValueError) as exc:
        raise AssertionError(f"{where}: schema is not JSON-serialisable: {exc}") from None
    required = schema.get("required", [])
    _check(set(required) <= set(schema["properties"]), f"{where}: 'required' names unknown parameters")
    _check(isinstance(spec.side_effects, bool) or callable(spec.side_effects),
           f"{where}: side_effects must be a bool or a function of the arguments")
    for example in spec.examples:
        _check(isinstance(example, (tuple, list)) and len(example) == 2,
               f"{where}: examples must be (request, arguments) pairs")
        text, args = example
        _check(isinstance(text, str) and text.strip(), f"{where}: an example has no request text")
        spec.validate(args)
        json.dumps(args)
        if callable(spec.side_effects):
            spec.side_effects(args)  # must not raise for its own examples
    executor = ToolRunner()._executor(spec)[0]
    bad_calls: list[Any] = [{"__not_a_parameter__": 1}, "not json {", [1, 2]]
    if required:
        bad_calls.append({})
    for bad in bad_calls:
        try:
            outcome = executor.prepare(spec.name, bad)
        except Exception as exc:
            raise AssertionError(f"{where}: arguments {bad!r} raised {type(exc).__name__} instead of "
                                 "giving an error the model can read") from exc
        _check(isinstance(outcome, ToolOutcome) and not outcome.ok and outcome.output.startswith("error"),
               f"{where}: arguments {bad!r} were accepted")
    return spec


def _check(condition: Any, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def load_plugin(module: ModuleType | Any, name: str | None = None):
    """Load a plugin module through the real plugin manager; returns its PluginInfo (status, tools, error)."""
    from assistant.extensions.manager import PluginManager

    plugin_name = name or getattr(module, "__name__", "plugin").rsplit(".", 1)[-1]
    return PluginManager().load_module(plugin_name, module)
