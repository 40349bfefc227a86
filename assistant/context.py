"""Per-turn context that memory and documents add to the user's message, with the sources it came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol


@dataclass
class ContextBlock:
    """Text for the model (placed after the stable prompt prefix) and the citations it may use."""

    text: str
    citations: list[dict[str, Any]] = field(default_factory=list)


class ContextProvider(Protocol):
    """Called before each turn with the user's message; returns what the model should see, or nothing."""

    def __call__(self, text: str, conversation_id: str) -> ContextBlock | str | None: ...


@dataclass
class CompletedTurn:
    """What after-turn hooks (automatic memory) get once a turn is done and stored."""

    conversation_id: str
    turn_id: str
    user_message_id: str
    user_text: str
    answer: str
    answer_message_id: str


AfterTurnHook = Callable[[CompletedTurn], None]
