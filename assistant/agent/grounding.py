"""Catch a tool call that copied its values from a few-shot example instead of the user's message."""

from __future__ import annotations

import re
from typing import Any


def copied_values(spec: Any, arguments: Any, said: str) -> list[str]:
    """Argument values that appear in one of the tool's examples but nowhere in what was said.

    Only tools whose examples were written by the model (MCP tools) are checked: their examples are
    plain, and a small model that picks the wrong tool tends to fill it with an example's values
    ("14:30", "Asia/Tokyo" for "What time is it in Seoul?"). Curated native examples are not checked.
    """
    if spec is None or not getattr(spec, "examples_generated", False) or not isinstance(arguments, dict):
        return []
    example_values = {v for _, args in spec.examples for v in _leaves(args)}
    heard = words(said)
    return [v for v in _leaves(arguments) if v in example_values and len(v) >= 2 and not words(v) <= heard
            and not words(v.rsplit("/", 1)[-1]) <= heard]


def _leaves(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    if isinstance(value, bool) or value is None:
        return []
    return [str(value)]


def words(text: str) -> set[str]:
    """Lower-case words and numbers (times like 14:30 kept whole)."""
    return set(re.findall(r"[0-9]+(?::[0-9]+)?|[^\W\d_]+", text.lower()))
