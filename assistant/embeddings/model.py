"""Sentence embeddings on onnxruntime: WordPiece in, mean-pooled L2-normalised float32 vectors out."""

from __future__ import annotations

import os
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

import numpy as np

# Must be set before onnxruntime is first imported; PASSIVE stops idle worker threads from spinning on a
# desktop machine that also runs the chat model.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# Batches are small; tokenizers' thread pool would only add a warning when a process forks later.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from assistant.embeddings.tokenizer import wordpiece_tokenizer  # noqa: E402

BATCH_SIZE = 32
# Text past max_tokens * 400 characters practically never reaches the model (only a run of 100+ character
# "words" could fill 256 pieces with that much), so longer inputs are cut first: tokenizing a book is slow.
CHARS_PER_TOKEN_BOUND = 400


class EmbeddingError(RuntimeError):
    """The embedding model cannot be loaded or run (missing package, damaged file); plain words."""


class Embedder(ABC):
    """Turns texts into unit vectors; cosine similarity is their dot product."""

    name: str
    dim: int

    @abstractmethod
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One L2-normalised float32 row per text, shape (len(texts), dim)."""

    def embed_query(self, text: str) -> np.ndarray:
        """The vector of one text, shape (dim,)."""
        return self.embed([text])[0]


_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: object, limit: int | None = None) -> str:
    """A str the tokenizer accepts, cut to `limit` characters: bytes decoded leniently, lone surrogates
    (from file names decoded with surrogateescape) replaced by U+FFFD."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text[: limit * 4] if limit else text).decode("utf-8", errors="replace")
    if not isinstance(text, str):
        raise TypeError(f"can only embed text, got {type(text).__name__}")
    return _SURROGATE.sub("\ufffd", text[:limit] if limit else text)


class OnnxEmbedder(Embedder):
    """A BERT-style sentence encoder in an ONNX file (inputs input_ids/attention_mask/token_type_ids)."""

    def __init__(self, name: str, model_file: Path, vocab_file: Path, dim: int, max_tokens: int,
                 threads: int | None = None) -> None:
        import onnxruntime as ort

        self.name = name
        self.dim = dim
        self.max_tokens = max_tokens
        self.model_file = Path(model_file)
        self._tokenizer = wordpiece_tokenizer(vocab_file, max_tokens)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or min(4, os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(str(self.model_file), sess_options=options,
                                                 providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for bad files
            raise EmbeddingError(f"the embedding model file {self.model_file} cannot be loaded (damaged or "
                                 f"not an ONNX model): {str(exc).splitlines()[0][:200]}") from exc
        self._inputs = {i.name for i in self._session.get_inputs()}
        output = self._session.get_outputs()[0]
        if not {"input_ids", "attention_mask"} <= self._inputs or output.shape[-1] not in (dim, None):
            raise EmbeddingError(f"{self.model_file} is not a {dim}-dimension sentence encoder "
                                 f"(inputs {sorted(self._inputs)}, output {output.shape})")

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One L2-normalised float32 row per text, in input order; batched, longest inputs together."""
        if isinstance(texts, (str, bytes)):
            raise TypeError("embed() takes a list of texts; use embed_query() for one")
        limit = self.max_tokens * CHARS_PER_TOKEN_BOUND
        cleaned = [clean_text(t, limit) for t in texts]
        out = np.empty((len(cleaned), self.dim), dtype=np.float32)
        # Sorting by length keeps padding (wasted compute) small inside each batch.
        order = sorted(range(len(cleaned)), key=lambda i: len(cleaned[i]))
        for start in range(0, len(order), BATCH_SIZE):
            rows = order[start:start + BATCH_SIZE]
            out[rows] = self._embed_batch([cleaned[i] for i in rows])
        return out

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]
        # Mean pooling over real tokens, then unit length: what sentence-transformers does for this model.
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)

    def token_count(self, text: str) -> int:
        """Word pieces the model sees for this text (including [CLS] and [SEP]; at most max_tokens)."""
        return len(self._tokenizer.encode(clean_text(text, self.max_tokens * CHARS_PER_TOKEN_BOUND)).ids)
