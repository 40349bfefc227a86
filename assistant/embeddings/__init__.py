"""Local sentence embeddings (all-MiniLM-L6-v2 on onnxruntime, no torch, no network)."""

from __future__ import annotations

from typing import Any

from assistant.embeddings.loader import DEFAULT_EMBEDDING_MODEL, clear_cache, load_embedder
from assistant.embeddings.model import Embedder, EmbeddingError, OnnxEmbedder

__all__ = ["DEFAULT_EMBEDDING_MODEL", "ChromaEmbedding", "Embedder", "EmbeddingError", "OnnxEmbedder",
           "clear_cache", "load_embedder"]


def __getattr__(name: str) -> Any:
    # ChromaEmbedding imports chromadb (slow); only code that uses it pays for it.
    if name == "ChromaEmbedding":
        from assistant.embeddings.chroma import ChromaEmbedding

        return ChromaEmbedding
    raise AttributeError(name)
