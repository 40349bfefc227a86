"""Make untrusted text safe to store, show and put into a prompt."""

from __future__ import annotations

import re
from typing import Any

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(text: str) -> str:
    """Drop NUL and other control characters and replace lone surrogates, keeping newlines and tabs."""
    if not isinstance(text, str):
        text = str(text)
    text = text.encode("utf-8", errors="replace").decode("utf-8", errors="replace")
    return _CONTROL.sub("", text)


def decode_bytes(data: bytes) -> str:
    """Decode bytes as UTF-8, replacing invalid sequences instead of failing."""
    return clean_text(data.decode("utf-8", errors="replace"))


def truncate(text: str, limit: int, what: str = "output") -> str:
    """Cut text to `limit` characters and say how much was left out."""
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[... {what} truncated: {len(text) - limit} more characters]"


def clean_data(value: Any) -> Any:
    """clean_text applied to every string (keys too) in JSON-like data from a model or a plugin."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_data(k) if isinstance(k, str) else k: clean_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_data(v) for v in value]
    return value
