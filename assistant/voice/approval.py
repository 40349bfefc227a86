"""Spoken approvals: the question the app asks (from the real arguments) and reading a yes or no."""

from __future__ import annotations

import json
import re
from typing import Any

_YES = {"yes", "yeah", "yep", "yup", "sure", "ok", "okay", "approve", "approved", "allow", "go", "do", "proceed",
        "confirm", "confirmed", "affirmative", "correct", "please"}
_NO = {"no", "nope", "nah", "don't", "dont", "stop", "cancel", "deny", "denied", "never", "negative",
       "wait", "not"}
_WORD = re.compile(r"[a-z']+")


def approval_question(tool: str, arguments: dict[str, Any], description: str = "") -> str:
    """What the app says before a side-effecting tool: its name and exact arguments, never the model's prose."""
    parts = []
    for key, value in arguments.items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        if len(text) > 120:
            text = text[:117] + "..."
        parts.append(f"{key.replace('_', ' ')}: {text}")
    what = "; ".join(parts) if parts else "no arguments"
    return f"May I run {tool.replace('_', ' ')}, with {what}? Say yes or no."


def heard_yes(transcript: str) -> bool:
    """True only for a clear yes; a no, a mix of both, silence or anything else is a no."""
    words = _WORD.findall(transcript.lower().replace("’", "'"))
    if not words:
        return False
    text = " ".join(words)
    said_no = any(w in _NO for w in words) or "do not" in text
    said_yes = any(w in _YES for w in words) or "go ahead" in text
    return said_yes and not said_no
