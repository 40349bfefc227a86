"""Fit a conversation into the model's context: drop the oldest whole turns first."""

from __future__ import annotations

from typing import Any, Callable

Msg = dict[str, str]


class MessageTooLong(ValueError):
    """The new message (with this turn's tool results) alone does not fit in the context."""


def fit_messages(system: str, history: list[list[Msg]], current: list[Msg], *,
                 count: Callable[[list[Msg]], int], budget: int) -> tuple[list[Msg], int]:
    """Return (messages, dropped_turns) whose prompt takes at most `budget` tokens."""
    head = [{"role": "system", "content": system}] if system else []
    keep = len(history)
    while True:
        msgs = head + [m for turn in history[len(history) - keep:] for m in turn] + current
        used = count(msgs)
        if used <= budget:
            return msgs, len(history) - keep
        if keep == 0:
            raise MessageTooLong(f"the message takes about {used} tokens but only {budget} fit in the "
                                 "model's context")
        # Drop several turns at once when far over budget, so long histories fit in few counts.
        over = used - budget
        per_turn = max(1, used // max(1, keep + 1))
        keep = max(0, keep - max(1, over // per_turn))


def as_chat(messages: list[Msg]) -> list[dict[str, Any]]:
    return [dict(m) for m in messages]
