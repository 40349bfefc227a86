"""Turn a typed Python function into a tool: name, description, JSON schema, permissions."""

from __future__ import annotations

import asyncio
import inspect
import re
import typing
from dataclasses import dataclass, field
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
CTX_PARAM = "ctx"


class ToolDefinitionError(TypeError):
    """A tool is declared wrongly; raised when it is registered, never mid-conversation."""


class ArgumentError(ValueError):
    """The arguments a model gave do not fit the tool's schema."""


@dataclass
class ToolSpec:
    """Everything the registry, the prompt and the executor need to know about one tool."""

    name: str
    description: str
    func: Callable[..., Any]
    params_model: type[BaseModel]
    schema: dict[str, Any]
    side_effects: bool | Callable[[dict[str, Any]], bool] = False
    network: bool = False
    file_access: str = "none"  # "none", "read" or "write": needs the user's allowed folders
    examples: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    timeout_s: float | None = None
    wants_ctx: bool = False
    plugin: str = ""
    grant: Any = None  # the owning plugin's Permissions (None: what this tool declares)
    isolation: str = "in-process"  # or "process": the call runs in the plugin's host process

    def validate(self, arguments: Any) -> dict[str, Any]:
        """Check the model's arguments against the schema; returns the keyword arguments."""
        if not isinstance(arguments, dict):
            raise ArgumentError(f"arguments must be a JSON object, got {type(arguments).__name__}")
        try:
            parsed = self.params_model.model_validate(arguments)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or '(arguments)'}: {err['msg']}"
                for err in exc.errors())
            raise ArgumentError(problems) from None
        return {name: getattr(parsed, name) for name in self.params_model.model_fields}

    def has_side_effects(self, arguments: dict[str, Any]) -> bool:
        """True when this call changes something outside the conversation and needs a yes."""
        if callable(self.side_effects):
            try:
                return bool(self.side_effects(arguments))
            except Exception:
                return True  # when in doubt, ask
        return bool(self.side_effects)

    def call(self, kwargs: dict[str, Any], ctx: Any) -> Any:
        """Run the function with validated arguments (and ctx if it takes one)."""
        if self.wants_ctx:
            kwargs = {**kwargs, CTX_PARAM: ctx}
        result = self.func(**kwargs)
        if inspect.isawaitable(result):
            result = asyncio.run(_await(result))
        return result

    def approval_description(self) -> str:
        """What the approval prompt says the tool does."""
        return self.description

    def permissions(self) -> dict[str, Any]:
        """Declared permissions, for listings and approval prompts."""
        side = self.side_effects if isinstance(self.side_effects, bool) else "some actions"
        return {"side_effects": side, "network": self.network, "files": self.file_access}


async def _await(awaitable: Any) -> Any:
    return await awaitable


def build_tool_spec(func: Callable[..., Any], *, name: str | None = None,
                    description: str | None = None,
                    side_effects: bool | Callable[[dict[str, Any]], bool] = False,
                    network: bool = False, files: str = "none",
                    examples: list[tuple[str, dict[str, Any]]] | None = None,
                    timeout_s: float | None = None) -> ToolSpec:
    """Build a ToolSpec from a function's signature and docstring, or raise ToolDefinitionError."""
    if not callable(func):
        raise ToolDefinitionError(f"{func!r} is not a function")
    tool_name = name or getattr(func, "__name__", "")
    if not NAME_RE.match(tool_name):
        raise ToolDefinitionError(
            f"tool name {tool_name!r} must be lower_snake_case, start with a letter, at most 48 chars")
    doc = description or inspect.getdoc(func) or ""
    summary = doc.strip().split("\n\n")[0].replace("\n", " ").strip()
    if not summary:
        raise ToolDefinitionError(f"tool {tool_name!r} needs a docstring: it is the model's description")
    if files not in ("none", "read", "write"):
        raise ToolDefinitionError(f"tool {tool_name!r}: files must be 'none', 'read' or 'write'")
    try:
        hints = typing.get_type_hints(func, include_extras=True)
    except Exception as exc:
        raise ToolDefinitionError(f"tool {tool_name!r}: cannot read type hints: {exc}") from exc
    fields: dict[str, Any] = {}
    wants_ctx = False
    for param in inspect.signature(func).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise ToolDefinitionError(f"tool {tool_name!r}: *args/**kwargs cannot become a schema")
        if param.name == CTX_PARAM:
            wants_ctx = True
            continue
        if param.name not in hints:
            raise ToolDefinitionError(f"tool {tool_name!r}: parameter {param.name!r} needs a type annotation")
        default = ... if param.default is param.empty else param.default
        fields[param.name] = (hints[param.name], default)
    try:
        model = create_model(f"{tool_name}_arguments", __config__=ConfigDict(extra="forbid"), **fields)
        schema = clean_schema(model.model_json_schema())
    except Exception as exc:
        raise ToolDefinitionError(f"tool {tool_name!r}: its arguments cannot become a JSON schema: {exc}") from exc
    spec = ToolSpec(name=tool_name, description=summary, func=func, params_model=model, schema=schema,
                    side_effects=side_effects, network=network, file_access=files,
                    examples=list(examples or []), timeout_s=timeout_s, wants_ctx=wants_ctx)
    for text, args in spec.examples:
        try:
            spec.validate(args)
        except ArgumentError as exc:
            raise ToolDefinitionError(f"tool {tool_name!r}: example {text!r} has invalid arguments: {exc}") from exc
    return spec


def validate_against_schema(schema: dict[str, Any], arguments: Any) -> dict[str, Any]:
    """Check arguments against a plain JSON schema (tools defined out of process); raises ArgumentError."""
    import jsonschema

    if not isinstance(arguments, dict):
        raise ArgumentError(f"arguments must be a JSON object, got {type(arguments).__name__}")
    try:
        errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(arguments), key=str)
    except Exception as exc:  # noqa: BLE001 - a broken schema from elsewhere (bad type, unresolvable $ref)
        raise ArgumentError(f"the tool's own argument schema is unusable: {str(exc).splitlines()[0][:200]}") from None
    if errors:
        raise ArgumentError("; ".join(
            f"{'.'.join(str(p) for p in e.absolute_path) or '(arguments)'}: {e.message}" for e in errors[:5]))
    return dict(arguments)


def clean_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Inline $defs and drop titles so the schema is small enough for a prompt and a grammar."""
    defs = schema.get("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node and node["$ref"].startswith("#/$defs/"):
                return walk(defs[node["$ref"].split("/")[-1]])
            return {k: walk(v) for k, v in node.items() if k not in ("title", "$defs")}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    cleaned = walk(schema)
    cleaned.setdefault("properties", {})
    cleaned["type"] = "object"
    return cleaned
