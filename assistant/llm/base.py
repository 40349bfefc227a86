"""What every LLM backend offers the agent loop: streamed chat completions, optionally schema-constrained."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Protocol

from assistant.cancel import CancelToken


class LLMError(RuntimeError):
    """The model or server failed; the message is plain words for the user."""


@dataclass
class Usage:
    """Counts and timings of one generation."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    ttft_s: float = 0.0
    total_s: float = 0.0

    @property
    def decode_tok_s(self) -> float:
        span = self.total_s - self.ttft_s
        return (self.completion_tokens - 1) / span if self.completion_tokens > 1 and span > 0 else 0.0


@dataclass
class BackendInfo:
    """What `biseo doctor` shows about a loaded backend."""

    backend: str
    model: str
    context_length: int
    details: dict[str, Any] = field(default_factory=dict)


class ChatBackend(Protocol):
    """A loaded model; one generation at a time."""

    info: BackendInfo
    last_usage: Usage

    def count_tokens(self, messages: list[dict[str, Any]], prefill: str = "") -> int:
        """Tokens the rendered prompt for these messages takes."""
        ...

    def stream(self, messages: list[dict[str, Any]], *, prefill: str = "",
               json_schema: dict[str, Any] | None = None, max_tokens: int = 512,
               temperature: float = 0.2, cancel: CancelToken | None = None,
               purpose: str = "chat") -> Iterator[str]:
        """Yield text pieces of the reply (continuing `prefill`).

        `purpose` "router" marks the short tool-choice prompts; a backend may keep them in a cache of
        their own so they do not evict the conversation's cached prefix.
        """
        ...

    def warm(self, messages: list[dict[str, Any]], *, json_schema: dict[str, Any] | None = None,
             purpose: str = "chat") -> None:
        """Optionally pre-evaluate a prompt prefix (a no-op where the backend has no local cache)."""
        ...

    def close(self) -> None:
        """Free the model."""
        ...
