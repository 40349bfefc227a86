"""Make untrusted text safe to store, show and put into a prompt."""

from __future__ import annotations

import re

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
