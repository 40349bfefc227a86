"""The plain event dataclasses a chat turn yields; the CLI, UI, voice pipeline and tests consume them."""

from __future__ import annotations

import threading
import copy
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar


@dataclass
class Event:
    """Base class: every event has a `type` string and a JSON-ready `to_dict()`."""

    type: ClassVar[str] = "event"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.type}
        for f in fields(self):
            if not f.name.startswith("_"):  # private fields hold locks and replies, not data
                data[f.name] = copy.deepcopy(getattr(self, f.name))
        return data


@dataclass
class TurnStarted(Event):
    """A turn began; the user's message is already stored."""

    type: ClassVar[str] = "turn_started"
    conversation_id: str
    message_id: str


@dataclass
class Status(Event):
    """Something slow is happening (loading the model, choosing a tool)."""

    type: ClassVar[str] = "status"
    text: str


@dataclass
class Token(Event):
    """A piece of the answer as it streams."""

    type: ClassVar[str] = "token"
    text: str


@dataclass
class ToolCallRequested(Event):
    """The model asked for a tool with these (validated or not yet validated) arguments."""

    type: ClassVar[str] = "tool_call"
    call_id: str
    name: str
    arguments: dict[str, Any]


@dataclass
class ApprovalRequested(Event):
    """A side-effecting tool waits for the user's yes; call approve() or deny() before resuming."""

    type: ClassVar[str] = "approval_needed"
    call_id: str
    name: str
    arguments: dict[str, Any]
    description: str
    side_effects: bool = True
    network: bool = False
    _decision: list = field(default_factory=list, repr=False, compare=False)
    _answered: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)

    def approve(self) -> None:
        self._decide(True, "")

    def deny(self, reason: str = "the user said no") -> None:
        self._decide(False, reason)

    def _decide(self, ok: bool, reason: str) -> None:
        if not self._decision:
            self._decision.append((ok, reason))
        self._answered.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the user answered (for consumers on another thread); True if answered."""
        return self._answered.wait(timeout)

    @property
    def decision(self) -> tuple[bool, str]:
        """(approved, reason); unanswered counts as a denial, never as a yes."""
        return self._decision[0] if self._decision else (False, "no one approved it")


@dataclass
class ToolResult(Event):
    """What a tool returned (ok) or why it did not run or failed (not ok)."""

    type: ClassVar[str] = "tool_result"
    call_id: str
    name: str
    ok: bool
    output: str
    duration_s: float = 0.0
    denied: bool = False


@dataclass
class Final(Event):
    """The turn's answer, complete; usage counts tokens over the whole turn."""

    type: ClassVar[str] = "final"
    text: str
    conversation_id: str
    message_id: str
    usage: dict[str, Any] = field(default_factory=dict)
    citations: list[dict[str, Any]] = field(default_factory=list)
    cancelled: bool = False
    # {"mean_entropy", "max_entropy", "tokens"} of the answer when the backend measures it: how unsure it was.
    uncertainty: dict[str, Any] | None = None


@dataclass
class ErrorEvent(Event):
    """The turn could not finish; `message` is plain words for the user."""

    type: ClassVar[str] = "error"
    message: str
    kind: str = "error"
    conversation_id: str | None = None
