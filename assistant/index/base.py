"""The contract every search index in Biseo follows: items in, ranked hits out (owned by the lead)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Protocol, Sequence


class IndexUnavailable(RuntimeError):
    """The index cannot be used (locked by another process, damaged, server unreachable); plain words."""


class IndexLocked(IndexUnavailable):
    """Another process owns this index folder."""


class IndexDamaged(IndexUnavailable):
    """The on-disk index is unreadable or disagrees with its source of truth; rebuild it."""


@dataclass(frozen=True)
class IndexItem:
    """One searchable unit: a memory or a document chunk. Metadata values are str, int, float or bool."""

    id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Hit:
    """A search result: higher `score` is better; `scores` keeps the parts (e.g. bm25, dense)."""

    id: str
    score: float
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)


class SearchIndex(Protocol):
    """A named collection searched by meaning and by keywords (hybrid); SQLite elsewhere is the truth."""

    def upsert(self, items: Sequence[IndexItem]) -> None:
        """Add or replace items by id."""
        ...

    def delete(self, ids: Sequence[str]) -> None:
        """Remove items; unknown ids are ignored."""
        ...

    def search(self, query: str, k: int = 10, where: dict[str, Any] | None = None) -> list[Hit]:
        """The best `k` items for the query, best first; `where` filters on metadata equality."""
        ...

    def count(self) -> int:
        """How many items the index holds."""
        ...

    def rebuild(self, items: Iterable[IndexItem]) -> None:
        """Drop everything and index these items again (used when the index is damaged)."""
        ...

    def close(self) -> None:
        """Release files, locks and connections."""
        ...
