"""Ratings and corrections of answers, through assistant.feedback (a FeedbackStore)."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("biseo.ui")


def rate(assistant, conversation_id: str | None, message_id: str, rating: int) -> None:
    """+1, -1, or 0 to clear."""
    assistant.feedback.rate(message_id, conversation_id=conversation_id or "", rating=rating)


def correct(assistant, conversation_id: str | None, message_id: str, text: str, *, original: str = "") -> None:
    assistant.feedback.correct(message_id, conversation_id=conversation_id or "", original=original,
                               corrected=text)


def state(assistant, message_id: str) -> dict[str, Any]:
    """{"rating": +1/-1/0, "correction": text or None} as stored for a message."""
    try:
        found = assistant.feedback.for_message(message_id) if assistant is not None else None
    except Exception:  # noqa: BLE001 - the thumbs must never break the transcript
        log.exception("feedback lookup failed")
        found = None
    found = found or {}
    return {"rating": int(found.get("rating") or 0), "correction": found.get("correction")}


def current_rating(assistant, message_id: str) -> int:
    return state(assistant, message_id)["rating"]
