"""Few-shot examples for MCP tools, written once by the local model and kept with the server's tool list.

Small models choose tools by their examples more than by their descriptions; native tools ship
examples, MCP tools do not. So the first time Biseo sees an MCP tool it asks its own model for one
everyday request and the arguments for it (grammar-constrained to the tool's schema), checks them
against the schema, and caches them. Nothing leaves the machine.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from assistant.agent.grounding import words
from assistant.tools.spec import ArgumentError

log = logging.getLogger("biseo.mcp")

PROMPT = """\
Tool {name}: {description}
Arguments: {schema}

Pick concrete argument values a user might need (a real city, a time, a number), then write the short chat \
message (at most 8 words) in which the user asks for that. JSON: {{"arguments": {{...}}, "request": "..."}}"""
TEMPERATURES = (0.0, 0.5, 0.8, 1.0)  # tries until a grounded example is found
# One per tool: bench_routing with the time server's two tools listed first kept 49/68 of the native
# requests with one example each (50/68 without MCP tools) but 46/68 with two, for the same 6/6 time questions.
WANTED = 1


def write_examples(backend: Any, spec: Any) -> list[tuple[str, dict[str, Any]]]:
    """Up to WANTED (request, arguments) pairs for the tool; those that do not fit its schema are dropped."""
    # Arguments first: a request written for chosen values comes out short and natural.
    schema = {"type": "object", "required": ["arguments", "request"],
              "properties": {"arguments": spec.schema,
                             "request": {"type": "string", "minLength": 8, "maxLength": 120}}}
    messages = [{"role": "system", "content": "You write test cases for an assistant's tools. "
                                              "Reply with one JSON object only."},
                {"role": "user", "content": PROMPT.format(name=spec.name, description=spec.description,
                                                          schema=json.dumps(spec.schema, ensure_ascii=False))}]
    found: list[tuple[str, dict[str, Any]]] = []
    for temperature in TEMPERATURES:
        try:
            text = "".join(backend.stream(messages, json_schema=schema, temperature=temperature, max_tokens=200,
                                          purpose="router"))
            data = json.loads(text)
            request = " ".join(str(data["request"]).split())
            arguments = spec.validate(data["arguments"])
        except (ArgumentError, KeyError, TypeError, ValueError) as exc:
            log.info("no example for MCP tool %s: %s", spec.name, exc)
            continue
        if len(request) >= 8 and grounded(request, arguments) and request.lower() not in {q.lower() for q, _ in found}:
            found.append((request, arguments))
        if len(found) >= WANTED:
            break
    return found


def grounded(request: str, arguments: dict[str, Any]) -> bool:
    """True when every argument value shows in the request (an IANA zone by its city): an example whose
    values come from nowhere teaches the model to invent values."""
    said = words(request)

    def shows(value: Any) -> bool:
        if isinstance(value, bool) or value is None:
            return True
        if isinstance(value, (int, float)):
            return words(str(value)) <= said or words(f"{value:g}") <= said
        if isinstance(value, str):
            last = value.rsplit("/", 1)[-1]  # "America/New_York" is said as "New York"
            return bool(words(value)) and (words(value) <= said or words(last) <= said)
        if isinstance(value, list):
            return all(shows(v) for v in value)
        if isinstance(value, dict):
            return all(shows(v) for v in value.values())
        return True

    return all(shows(v) for v in arguments.values())


