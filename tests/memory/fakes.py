"""A small in-memory SearchIndex for fast memory tests (the integration tests use the real one)."""

from __future__ import annotations

import re
from typing import Any, Iterable, Sequence

from assistant.index.base import Hit, IndexDamaged, IndexItem


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 2 or w.isdigit()}


class FakeIndex:
    """SearchIndex in memory; the score is the share of the query's words an item contains (0..1)."""

    def __init__(self) -> None:
        self.items: dict[str, IndexItem] = {}
        self.damaged = False
        self.rebuilds = 0
        self.closed = False

    def upsert(self, items: Sequence[IndexItem]) -> None:
        self.items.update((i.id, i) for i in items)

    def delete(self, ids: Sequence[str]) -> None:
        for i in ids:
            self.items.pop(i, None)

    def search(self, query: str, k: int = 10, where: dict[str, Any] | None = None) -> list[Hit]:
        q = _words(query)
        hits = []
        for item in self.items.values():
            share = len(q & _words(item.text)) / max(len(q), 1)
            if share:
                hits.append(Hit(item.id, share, item.text, dict(item.metadata), {"dense": share}))
        return sorted(hits, key=lambda h: -h.score)[:k]

    def count(self) -> int:
        if self.damaged:
            raise IndexDamaged("the fake index is damaged")
        return len(self.items)

    def rebuild(self, items: Iterable[IndexItem]) -> None:
        self.rebuilds += 1
        self.damaged = False
        self.items = {i.id: i for i in items}

    def close(self) -> None:
        self.closed = True
