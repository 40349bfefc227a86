"""Search indexes: keyword (BM25), vector (Chroma) and the hybrid of both that memory and documents use."""

from __future__ import annotations

from assistant.index.base import Hit, IndexDamaged, IndexItem, IndexLocked, IndexUnavailable, SearchIndex
from assistant.index.hybrid import CONTEXT_KEY, SURROUNDINGS_KEY, HybridIndex

__all__ = ["CONTEXT_KEY", "SURROUNDINGS_KEY", "Hit", "HybridIndex", "IndexDamaged", "IndexItem", "IndexLocked",
           "IndexUnavailable", "SearchIndex"]
