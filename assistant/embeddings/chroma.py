"""Biseo's embedder as a Chroma EmbeddingFunction, so Chroma never falls back to its downloading default."""

from __future__ import annotations

from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space

from assistant.embeddings.model import Embedder


class ChromaEmbedding(EmbeddingFunction[Documents]):
    """Wraps an `Embedder` for `collection.add(documents=...)` and `query(query_texts=...)`."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def __call__(self, input: Documents) -> Embeddings:  # noqa: A002 - Chroma's parameter name
        return [np.asarray(row, dtype=np.float32) for row in self.embedder.embed(list(input))]

    def embed_query(self, input: Documents) -> Embeddings:  # noqa: A002
        return self(input)

    @staticmethod
    def name() -> str:
        return "biseo"

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "ip", "l2"]

    def get_config(self) -> dict[str, Any]:
        return {"model": self.embedder.name}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> "ChromaEmbedding":
        from assistant.embeddings.loader import load_embedder

        return ChromaEmbedding(load_embedder(config.get("model") or "all-minilm-l6-v2"))
