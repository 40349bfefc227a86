"""Per-turn context that memory and documents add to the user's message, with the sources it came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol


@dataclass
class ContextBlock:
    """Text for the model (placed after the stable prompt prefix) and the citations it may use."""

    text: str
    citations: list[dict[str, Any]] = field(default_factory=list)
    # Tools the message clearly needs (a sum over a known spreadsheet): the first tool-choice step
    # picks among these only, where a small model would otherwise answer from snippets by guessing.
    tools: list[str] = field(default_factory=list)
    # A short note for the tool-choice step (e.g. the spreadsheets and their columns), so arguments
    # name real files and columns.
    router_note: str = ""


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
