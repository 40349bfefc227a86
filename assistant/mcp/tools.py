"""MCP tools as Biseo tools: names, descriptions and schemas made safe for the prompt and the grammar."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Callable

from pydantic import BaseModel

from assistant.api import ToolError
from assistant.tools.spec import NAME_RE, ToolSpec, validate_against_schema

DESCRIPTION_CHARS = 200  # a server's description is its own words in our prompt: keep it short
ISOLATION = "mcp"


def plugin_name(server: str) -> str:
    """The registry's owner name for a server's tools."""
    return f"mcp:{server}"


def tool_name(raw: str, server: str, taken: Callable[[str], bool]) -> str | None:
    """A Biseo tool name for a server's tool: its own name made lower_snake, else prefixed with the server."""
    base = re.sub(r"[^a-z0-9_]+", "_", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", raw).lower()).strip("_")
    server_part = re.sub(r"[^a-z0-9_]+", "_", server.lower()).strip("_")
    for candidate in (base, f"{server_part}_{base}"):
        candidate = candidate[:48].rstrip("_")
        if candidate and not candidate[0].isalpha():
            candidate = f"{server_part}_{candidate}"[:48]
        if NAME_RE.match(candidate) and not taken(candidate):
            return candidate
    return None


def short_description(tool: Any) -> str:
    """The first paragraph of the tool's description (or its title), printable, at most 200 characters."""
    text = (getattr(tool, "description", None) or getattr(tool, "title", None) or "").strip()
    text = text.split("\n\n")[0]
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) > DESCRIPTION_CHARS:
        cut = text[:DESCRIPTION_CHARS]
        sentence = cut.rfind(". ")
        text = cut[:sentence + 1] if sentence > 60 else cut[:DESCRIPTION_CHARS - 1].rstrip() + "…"
    return text or f"The {getattr(tool, 'name', 'tool')} tool."


def annotation_hint(tool: Any) -> str:
    """What the server says about the tool ("read-only", "destructive" or ""): a hint, never trusted."""
    notes = getattr(tool, "annotations", None)
    if notes is None:
        return ""
    if getattr(notes, "read_only_hint", None):
        return "read-only"
    if getattr(notes, "destructive_hint", None):
        return "destructive"
    return ""


def prompt_schema(schema: Any) -> dict[str, Any]:
    """The server's input schema with local $refs inlined and titles dropped, always an object schema."""
    if not isinstance(schema, dict):
        return {"type": "object", "properties": {}}
    defs = {**schema.get("definitions", {}), **schema.get("$defs", {})}

    def walk(node: Any, depth: int) -> Any:
        if depth > 20:  # a self-referencing schema: stop inlining
            return {}
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and re.match(r"^#/(\$defs|definitions)/", ref):
                return walk(defs.get(ref.rsplit("/", 1)[-1], {}), depth + 1)
            return {k: walk(v, depth + 1) for k, v in node.items()
                    if k not in ("title", "$defs", "definitions", "$schema", "$id")}
        if isinstance(node, list):
            return [walk(v, depth + 1) for v in node]
        return node

    cleaned = walk(schema, 0)
    cleaned["type"] = "object"
    if not isinstance(cleaned.get("properties"), dict):
        cleaned["properties"] = {}
    return cleaned


def grammar_ready(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema when llama.cpp can turn it into a grammar; else a plain object (arguments still validated)."""
    try:
        from llama_cpp.llama_grammar import json_schema_to_gbnf
    except ImportError:
        return schema
    try:
        json_schema_to_gbnf(json.dumps(schema))
        return schema
    except Exception:  # noqa: BLE001 - any construct the converter cannot handle
        props = {k: {"type": v["type"]} for k, v in schema.get("properties", {}).items()
                 if isinstance(v, dict) and v.get("type") in ("string", "number", "integer", "boolean")}
        return {"type": "object", "properties": props}


@dataclass
class McpToolSpec(ToolSpec):
    """A tool offered by an MCP server: validated here, run there, asking first unless marked read-only."""

    server: str = ""
    remote_name: str = ""  # the tool's name on the server
    hint: str = ""
    connection: Any = None
    marks: Callable[[], list[str]] | None = None  # the user's read-only marks, read at each call
    full_schema: dict[str, Any] | None = None  # for validation: the cleaned schema before grammar fallbacks
    examples_generated: bool = True  # written by the local model (assistant/mcp/examples.py), not curated

    @property
    def read_only(self) -> bool:
        return self.marks is not None and self.remote_name in self.marks()

    def has_side_effects(self, arguments: dict[str, Any]) -> bool:
        return not self.read_only  # side effects assumed; the server's own hints do not count

    def permissions(self) -> dict[str, Any]:
        return {"side_effects": not self.read_only, "network": self.network, "files": self.file_access}

    def approval_description(self) -> str:
        return f"{self.description} (tool {self.remote_name} of the MCP server {self.server!r})"

    def validate(self, arguments: Any) -> dict[str, Any]:
        return validate_against_schema(self.full_schema or self.schema, arguments)

    def call(self, kwargs: dict[str, Any], ctx: Any) -> Any:
        from assistant.mcp.client import McpFailure

        try:
            result = self.connection.call_tool(self.remote_name, kwargs, cancel=getattr(ctx, "cancel", None))
        except McpFailure as exc:
            raise ToolError(f"the MCP server {self.server!r} {exc}") from None
        except Exception as exc:  # noqa: BLE001 - the server answered with a protocol error
            raise ToolError(f"the MCP server {self.server!r} refused the call: {getattr(exc, 'message', exc)}") \
                from None
        return result_text(result, self.server)

    def kill(self) -> None:
        """The executor's timeout fired: stop the server; the next call starts it again."""
        self.connection.stop("did not finish in time, so it was stopped")


def make_spec(tool: Any, name: str, server: str, connection: Any, marks: Callable[[], list[str]],
              timeout_s: float) -> McpToolSpec:
    """The registry entry for one of a server's tools."""
    schema = prompt_schema(getattr(tool, "input_schema", None))
    return McpToolSpec(
        name=name, description=short_description(tool), func=lambda **kw: None, params_model=BaseModel,
        schema=grammar_ready(schema), full_schema=schema, side_effects=True, network=False, file_access="none",
        examples=[], timeout_s=timeout_s, isolation=ISOLATION, server=server, remote_name=str(tool.name),
        hint=annotation_hint(tool), connection=connection, marks=marks)


def result_text(result: Any, server: str) -> str:
    """A CallToolResult as text for the model; an error result raises ToolError with the server's words."""
    parts: list[str] = []
    for block in getattr(result, "content", None) or []:
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(str(block.text))
        elif kind in ("image", "audio"):
            parts.append(f"[{kind} ({getattr(block, 'mime_type', '?')}) not shown]")
        elif kind == "resource":
            inner = getattr(block, "resource", None)
            parts.append(str(getattr(inner, "text", None) or f"[resource {getattr(inner, 'uri', '')}]"))
        elif kind == "resource_link":
            parts.append(f"[link: {getattr(block, 'uri', '')}]")
        else:
            parts.append(f"[{kind or 'unknown'} content not shown]")
    structured = getattr(result, "structured_content", None)
    if not parts and structured is not None:
        parts.append(json.dumps(structured, ensure_ascii=False, default=str))
    text = "\n".join(p for p in parts if p).strip()
    if getattr(result, "is_error", False):
        raise ToolError(f"the MCP server {server!r} reported an error: {text or 'no details'}")
    return text or "(the tool returned nothing)"
