"""The whole plugin surface: `@tool`, `hookimpl`, `ToolContext`, `ToolError` and permissions.

Plugins (built-in or third-party) import only from this module.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TypeVar

import pluggy

from assistant.cancel import CancelToken
from assistant.tools.confine import PathRefused, confine_path
from assistant.tools.spec import ToolDefinitionError, ToolSpec, build_tool_spec

__all__ = [
    "tool", "hookimpl", "hookspec", "ToolContext", "ToolError", "ToolDefinitionError", "ToolSpec",
    "CancelToken", "PROJECT_NAME",
]

PROJECT_NAME = "biseo"
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
hookspec = pluggy.HookspecMarker(PROJECT_NAME)

F = TypeVar("F", bound=Callable[..., Any])


class ToolError(Exception):
    """Raise from a tool to give the model a clear error message instead of a result."""


@dataclass
class ToolContext:
    """What a running tool may use; injected as `ctx`, never shown to the model."""

    tool_name: str
    call_id: str = ""
    cancel: CancelToken = field(default_factory=CancelToken)
    roots: list[Path] = field(default_factory=list)
    settings: Any = None
    data_dir: Path | None = None
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("biseo.plugins"))
    # Services of the core that tools may use; None where the app runs without them.
    conversation_id: str | None = None  # the conversation the call belongs to (None outside a chat)
    memory: Any = None  # long-term memory: add(text, source), search(query, k), find(description),
    #                     forget(id), list(), get(id), edit(id, text), history(id); see docs/memory.md
    documents: Any = None  # indexed documents: search(query, k), tables; see docs/documents.md
    citations: list[dict[str, Any]] = field(default_factory=list)

    def cite(self, source: str, **where: Any) -> int:
        """Record a source the answer may cite (file, page, section, snippet...); returns its number [n]."""
        for existing in self.citations:
            if existing.get("source") == source and all(existing.get(k) == v for k, v in where.items()):
                return int(existing["n"])
        n = len(self.citations) + 1
        self.citations.append({"n": n, "source": source, **where})
        return n

    def resolve_path(self, path: str) -> Path:
        """Resolve a path inside the user's allowed folders, or raise ToolError saying why not."""
        try:
            return confine_path(path, self.roots)
        except PathRefused as exc:
            raise ToolError(str(exc)) from None

    @property
    def cancelled(self) -> bool:
        return self.cancel.cancelled


def tool(func: F | None = None, *, name: str | None = None, description: str | None = None,
         side_effects: bool | Callable[[dict[str, Any]], bool] = False, network: bool = False,
         files: str = "none", examples: list[tuple[str, dict[str, Any]]] | None = None,
         timeout_s: float | None = None) -> Any:
    """Declare a tool: name from the function, description from the docstring, schema from the signature.

    `side_effects` (bool, or a function of the arguments) makes every such call wait for the user's
    yes; `network` and `files` ('read'/'write') declare what the tool touches. `examples` are
    (request, arguments) pairs shown to the model to teach it when to call the tool.
    Declaration errors raise ToolDefinitionError at import/registration time.
    """

    def wrap(f: F) -> F:
        f.__biseo_tool__ = build_tool_spec(  # type: ignore[attr-defined]
            f, name=name, description=description, side_effects=side_effects, network=network,
            files=files, examples=examples, timeout_s=timeout_s)
        return f

    return wrap(func) if func is not None else wrap


def spec_of(obj: Any) -> ToolSpec:
    """The ToolSpec of a decorated function, or a fresh one built with default permissions."""
    if isinstance(obj, ToolSpec):
        return obj
    spec = getattr(obj, "__biseo_tool__", None)
    return spec if isinstance(spec, ToolSpec) else build_tool_spec(obj)
