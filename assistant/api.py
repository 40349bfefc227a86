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
    "CancelToken", "PROJECT_NAME", "Permissions", "USER_FOLDERS", "PermissionRefused",
]

PROJECT_NAME = "biseo"
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
hookspec = pluggy.HookspecMarker(PROJECT_NAME)

F = TypeVar("F", bound=Callable[..., Any])


class ToolError(Exception):
    """Raise from a tool to give the model a clear error message instead of a result."""


class PermissionRefused(PermissionError):
    """Something a plugin did is outside what it declared (files, network, processes)."""


USER_FOLDERS = "user-folders"  # in Permissions.roots: the folders the user allowed (tools.file_roots)
_FILE_LEVELS = ("none", "read", "write")


@dataclass(frozen=True)
class Permissions:
    """What a plugin may do, declared once as the module attribute `PERMISSIONS = Permissions(...)`.

    `files` is 'none', 'read' or 'write'; `roots` are the folders it may touch (USER_FOLDERS means the
    user's allowed folders, other entries are paths, `~` expanded); `network` allows connections;
    `side_effects` allows tools that change things (each such call still waits for the user's yes).
    A plugin without PERMISSIONS gets what its tools declare. See docs/plugins.md.
    """

    files: str = "none"
    roots: tuple[str, ...] = (USER_FOLDERS,)
    network: bool = False
    side_effects: bool = False

    def __post_init__(self) -> None:
        if self.files not in _FILE_LEVELS:
            raise ToolDefinitionError(f"Permissions.files must be 'none', 'read' or 'write', not {self.files!r}")
        roots = (self.roots,) if isinstance(self.roots, (str, Path)) else tuple(self.roots)
        object.__setattr__(self, "roots", tuple(str(r) for r in roots))

    @staticmethod
    def of_tools(specs: list[ToolSpec]) -> "Permissions":
        """The permissions a plugin that declares nothing gets: the union of what its tools declare."""
        level = max((_FILE_LEVELS.index(s.file_access) for s in specs), default=0)
        return Permissions(files=_FILE_LEVELS[level], network=any(s.network for s in specs),
                           side_effects=any(s.side_effects is not False for s in specs))

    def check_tool(self, spec: ToolSpec) -> None:
        """Raise ToolDefinitionError when a tool declares more than its plugin."""
        over = []
        if _FILE_LEVELS.index(spec.file_access) > _FILE_LEVELS.index(self.files):
            over.append(f"files={spec.file_access!r} (the plugin declares files={self.files!r})")
        if spec.network and not self.network:
            over.append("network (the plugin declares no network)")
        if spec.side_effects is not False and not self.side_effects:
            over.append("side effects (the plugin declares none)")
        if over:
            raise ToolDefinitionError(f"tool {spec.name!r} declares more than its plugin's PERMISSIONS: "
                                      + "; ".join(over))

    def resolve_roots(self, user_folders: list[Path]) -> list[Path]:
        """The folders these permissions allow, with USER_FOLDERS replaced by the user's folders."""
        if self.files == "none":
            return []
        out: list[Path] = []
        for root in self.roots:
            out.extend(user_folders if root == USER_FOLDERS else [Path(root).expanduser()])
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"files": self.files, "roots": list(self.roots), "network": self.network,
                "side_effects": self.side_effects}


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
    access: str = "write"  # what the executor allows this call: 'none', 'read' or 'write' in `roots`
    network: bool = True  # whether the call may use the network (enforced for out-of-process plugins)

    def cite(self, source: str, **where: Any) -> int:
        """Record a source the answer may cite (file, page, section, snippet...); returns its number [n]."""
        for existing in self.citations:
            if existing.get("source") == source and all(existing.get(k) == v for k, v in where.items()):
                return int(existing["n"])
        n = len(self.citations) + 1
        self.citations.append({"n": n, "source": source, **where})
        return n

    def resolve_path(self, path: str, *, write: bool = False) -> Path:
        """Resolve a path inside the allowed folders, or raise ToolError saying why not.

        `write=True` also refuses when the plugin declared read-only file access.
        """
        if write and self.access != "write":
            raise ToolError(f"{self.tool_name} may only read files (its plugin declares files={self.access!r})")
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


def permissions_of(plugin: Any) -> "Permissions | None":
    """A plugin's declared PERMISSIONS, None when it declares nothing; raises ToolDefinitionError if malformed."""
    declared = getattr(plugin, "PERMISSIONS", None)
    if declared is None or isinstance(declared, Permissions):
        return declared
    raise ToolDefinitionError(f"PERMISSIONS must be assistant.api.Permissions(...), not {type(declared).__name__}")


def spec_of(obj: Any) -> ToolSpec:
    """The ToolSpec of a decorated function, or a fresh one built with default permissions."""
    if isinstance(obj, ToolSpec):
        return obj
    spec = getattr(obj, "__biseo_tool__", None)
    return spec if isinstance(spec, ToolSpec) else build_tool_spec(obj)
