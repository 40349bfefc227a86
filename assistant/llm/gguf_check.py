"""Checks a GGUF model file before llama.cpp opens it, since llama.cpp may crash the process on a bad file."""

from __future__ import annotations

import mmap
import os
import stat
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GGUF_MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
HEADER_BYTES = 24  # magic, version, tensor count, metadata count
DEFAULT_ALIGNMENT = 32
# Real models have tens of metadata entries and at most tens of thousands of tensors; far larger counts
# mean damage, and refusing them keeps random bytes from driving long loops.
MAX_KV_COUNT = 1 << 16
MAX_TENSOR_COUNT = 1 << 20
MAX_DIMS = 4
MAX_KEY_BYTES = 1 << 16
MAX_STRING_ITEMS = 1 << 22  # vocabularies and merge lists stay well below this
# Arrays longer than this are summarized (type and length) instead of kept as Python values.
KEEP_ARRAY_ITEMS = 64

# GGUF metadata value types: id -> (name, struct format or None for variable size).
_SCALARS: dict[int, tuple[str, str]] = {
    0: ("uint8", "<B"), 1: ("int8", "<b"), 2: ("uint16", "<H"), 3: ("int16", "<h"),
    4: ("uint32", "<I"), 5: ("int32", "<i"), 6: ("float32", "<f"), 7: ("bool", "<?"),
    10: ("uint64", "<Q"), 11: ("int64", "<q"), 12: ("float64", "<d"),
}
_STRING, _ARRAY = 8, 9

# ggml tensor types: id -> (elements per block, bytes per block). Ids missing here were removed from
# ggml long ago or are newer than this table; llama.cpp refuses both.
GGML_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22), 7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 36),
    10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110), 12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176),
    14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292), 16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74),
    18: ("IQ3_XXS", 256, 98), 19: ("IQ1_S", 256, 50), 20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110),
    22: ("IQ2_S", 256, 82), 23: ("IQ4_XS", 256, 136), 24: ("I8", 1, 1), 25: ("I16", 1, 2),
    26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8), 29: ("IQ1_M", 256, 56), 30: ("BF16", 1, 2),
    34: ("TQ1_0", 256, 54), 35: ("TQ2_0", 256, 66), 39: ("MXFP4", 32, 17),
}


class ModelFileError(RuntimeError):
    """A model file is missing, damaged, of the wrong kind or too big to load."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"model file {self.path} {reason}")


@dataclass(frozen=True)
class GGUFArray:
    """A long metadata array, summarized: element type and length (values not kept)."""

    item_type: str
    length: int


@dataclass(frozen=True)
class TensorInfo:
    """One tensor's header entry."""

    name: str
    shape: tuple[int, ...]
    type_name: str
    offset: int
    n_bytes: int


@dataclass(frozen=True)
class GGUFInfo:
    """What the header of a valid GGUF file says."""

    path: Path
    file_size: int
    version: int
    architecture: str
    name: str
    context_length: int | None
    chat_template: str | None
    n_params: int
    n_tensors: int
    data_offset: int
    metadata: dict[str, Any] = field(repr=False)
    tensors: list[TensorInfo] = field(repr=False)

    def memory_needed(self, n_ctx: int = 4096) -> int:
        """Rough resident bytes to run this model: weights, KV cache (f16) and compute buffers."""
        return estimate_memory(self, n_ctx)


class _Truncated(Exception):
    """A read ran past the end of the file (turned into a ModelFileError by the caller)."""


class _Damaged(Exception):
    """The header holds a value no valid file has."""


class _Reader:
    """Bounds-checked little-endian reads over a buffer, never past its end."""

    def __init__(self, buf: mmap.mmap | bytes, size: int) -> None:
        self.buf = buf
        self.size = size
        self.pos = 0

    def need(self, n: int, what: str) -> None:
        if n < 0 or self.pos + n > self.size:
            raise _Truncated(f"{what} at byte {self.pos} needs {n} bytes, but the file ends at {self.size}")

    def scalar(self, fmt: str, what: str) -> Any:
        width = struct.calcsize(fmt)
        self.need(width, what)
        (value,) = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += width
        return value

    def u32(self, what: str) -> int:
        return self.scalar("<I", what)

    def u64(self, what: str) -> int:
        return self.scalar("<Q", what)

    def string(self, what: str, limit: int | None = None) -> str:
        length = self.u64(f"length of {what}")
        if limit is not None and length > limit:
            raise _Damaged(f"{what} at byte {self.pos - 8} claims {length} bytes")
        self.need(length, what)
        raw = bytes(self.buf[self.pos:self.pos + length])
        self.pos += length
        return raw.decode("utf-8", errors="replace")

    def skip_strings(self, count: int, what: str) -> None:
        # Tokenizer vocabularies are arrays of 100k+ strings: step over them by their lengths only.
        buf, size, pos, unpack = self.buf, self.size, self.pos, struct.unpack_from
        for _ in range(count):
            if pos + 8 > size:
                self.pos = pos
                raise _Truncated(f"{what} runs past the end of the file ({size} bytes)")
            (length,) = unpack("<Q", buf, pos)
            pos += 8 + length
        if pos > size:
            self.pos = size
            raise _Truncated(f"{what} runs past the end of the file ({size} bytes)")
        self.pos = pos


def check_gguf(path: str | os.PathLike[str], *, available_memory: int | None = None,
               check_memory: bool = True, n_ctx: int = 4096) -> GGUFInfo:
    """Validate a GGUF file's header, tensor table and size, and that it fits in memory; raise ModelFileError."""
    path = Path(path).expanduser()
    file_size = _regular_file_size(path)
    if file_size == 0:
        raise ModelFileError(path, "is empty (0 bytes)")
    with open(path, "rb") as handle:
        head = handle.read(4)
        if head != GGUF_MAGIC:
            raise ModelFileError(path, f"is not a GGUF model (starts with {head!r}, not b'GGUF')")
        if file_size < HEADER_BYTES:
            raise ModelFileError(path, f"is truncated: {file_size} bytes, shorter than the "
                                       f"{HEADER_BYTES}-byte GGUF header")
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            try:
                info = _parse(path, buf, file_size)
            except _Truncated as exc:
                raise ModelFileError(path, f"is truncated or damaged: {exc}") from None
            except _Damaged as exc:
                raise ModelFileError(path, f"is damaged: {exc}") from None
    if check_memory:
        _check_memory(info, available_memory, n_ctx)
    return info


def _regular_file_size(path: Path) -> int:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ModelFileError(path, "does not exist") from None
    except OSError as exc:
        raise ModelFileError(path, f"cannot be read: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise ModelFileError(path, "is a folder, not a model file")
    if not stat.S_ISREG(st.st_mode):
        raise ModelFileError(path, "is not a regular file")
    if not os.access(path, os.R_OK):
        raise ModelFileError(path, "cannot be read (permission denied)")
    return st.st_size


def _parse(path: Path, buf: mmap.mmap, file_size: int) -> GGUFInfo:
    reader = _Reader(buf, file_size)
    reader.pos = 4
    version = reader.u32("version")
    if version not in SUPPORTED_VERSIONS:
        raise ModelFileError(path, f"uses GGUF version {version}; only versions 2 and 3 are supported")
    n_tensors = reader.u64("tensor count")
    n_kv = reader.u64("metadata count")
    # Each metadata entry takes at least 13 bytes and each tensor entry at least 24.
    if n_kv > MAX_KV_COUNT or n_kv * 13 > file_size:
        raise _Damaged(f"it claims {n_kv} metadata entries")
    if n_tensors > MAX_TENSOR_COUNT or n_tensors * 24 > file_size:
        raise _Damaged(f"it claims {n_tensors} tensors")

    metadata: dict[str, Any] = {}
    for index in range(n_kv):
        key = reader.string(f"metadata key #{index}", limit=MAX_KEY_BYTES)
        value_type = reader.u32(f"type of {key!r}")
        metadata[key] = _read_value(reader, value_type, key)

    tensors, n_params = _read_tensors(reader, n_tensors)

    alignment = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        raise _Damaged(f"general.alignment is {alignment!r}, not a power of two")
    data_offset = -(-reader.pos // alignment) * alignment
    needed = data_offset
    for tensor in tensors:
        if tensor.offset % alignment:
            raise _Damaged(f"tensor {tensor.name!r} starts at offset {tensor.offset}, "
                           f"not a multiple of {alignment}")
        needed = max(needed, data_offset + tensor.offset + tensor.n_bytes)
    if file_size < needed:
        raise ModelFileError(path, f"is truncated: {file_size} bytes of {needed} expected")

    arch = metadata.get("general.architecture")
    arch = arch if isinstance(arch, str) else ""
    context_length = metadata.get(f"{arch}.context_length")
    template = metadata.get("tokenizer.chat_template")
    name = metadata.get("general.name")
    return GGUFInfo(
        path=path, file_size=file_size, version=version, architecture=arch,
        name=name if isinstance(name, str) else "",
        context_length=context_length if isinstance(context_length, int) else None,
        chat_template=template if isinstance(template, str) else None,
        n_params=n_params, n_tensors=n_tensors, data_offset=data_offset, metadata=metadata,
        tensors=tensors)


def _read_value(reader: _Reader, value_type: int, key: str) -> Any:
    if value_type in _SCALARS:
        return reader.scalar(_SCALARS[value_type][1], f"value of {key!r}")
    if value_type == _STRING:
        return reader.string(f"value of {key!r}")
    if value_type != _ARRAY:
        raise _Damaged(f"metadata {key!r} has unknown value type {value_type}")
    item_type = reader.u32(f"item type of {key!r}")
    count = reader.u64(f"length of {key!r}")
    if item_type in _SCALARS:
        fmt = _SCALARS[item_type][1]
        width = struct.calcsize(fmt)
        # Check the whole span first so a huge count can neither allocate nor loop.
        reader.need(count * width, f"array {key!r}")
        if count <= KEEP_ARRAY_ITEMS:
            values = list(struct.unpack_from(f"<{count}{fmt[1]}", reader.buf, reader.pos))
            reader.pos += count * width
            return values
        reader.pos += count * width
        return GGUFArray(_SCALARS[item_type][0], count)
    if item_type == _STRING:
        reader.need(count * 8, f"array {key!r}")  # every string has at least its 8-byte length
        if count > MAX_STRING_ITEMS:
            raise _Damaged(f"metadata {key!r} claims {count} strings")
        if count <= KEEP_ARRAY_ITEMS:
            return [reader.string(f"item of {key!r}") for _ in range(count)]
        reader.skip_strings(count, f"array {key!r}")
        return GGUFArray("string", count)
    if item_type == _ARRAY:
        raise _Damaged(f"metadata {key!r} is a nested array, which llama.cpp does not read")
    raise _Damaged(f"metadata {key!r} is an array of unknown type {item_type}")


def _read_tensors(reader: _Reader, n_tensors: int) -> tuple[list[TensorInfo], int]:
    tensors: list[TensorInfo] = []
    n_params = 0
    for index in range(n_tensors):
        name = reader.string(f"name of tensor #{index}", limit=MAX_KEY_BYTES)
        n_dims = reader.u32(f"dimension count of {name!r}")
        if not 1 <= n_dims <= MAX_DIMS:
            raise _Damaged(f"tensor {name!r} has {n_dims} dimensions (1 to {MAX_DIMS} allowed)")
        shape = tuple(reader.u64(f"shape of {name!r}") for _ in range(n_dims))
        type_id = reader.u32(f"type of {name!r}")
        offset = reader.u64(f"offset of {name!r}")
        if type_id not in GGML_TYPES:
            raise _Damaged(f"tensor {name!r} has tensor type {type_id}, which this version does not know")
        type_name, block, block_bytes = GGML_TYPES[type_id]
        elements = 1
        for dim in shape:
            if dim <= 0 or dim >= 1 << 40:
                raise _Damaged(f"tensor {name!r} has shape {shape}")
            elements *= dim
        if elements >= 1 << 50:
            raise _Damaged(f"tensor {name!r} has shape {shape}")
        if shape[0] % block:
            raise _Damaged(f"tensor {name!r} of type {type_name} has a row of {shape[0]} values, "
                           f"not a multiple of {block}")
        n_bytes = elements // block * block_bytes
        tensors.append(TensorInfo(name, shape, type_name, offset, n_bytes))
        n_params += elements
    return tensors, n_params


def estimate_memory(info: GGUFInfo, n_ctx: int = 4096) -> int:
    """Rough resident bytes: file size plus 10%, an f16 KV cache for n_ctx tokens, and compute buffers."""
    meta, arch = info.metadata, info.architecture
    layers = _int(meta.get(f"{arch}.block_count"))
    embd = _int(meta.get(f"{arch}.embedding_length"))
    heads = _int(meta.get(f"{arch}.attention.head_count"))
    kv_heads = _int(meta.get(f"{arch}.attention.head_count_kv")) or heads
    n_ctx = min(n_ctx, info.context_length or n_ctx)
    kv_cache = 0
    if layers and embd and heads:
        kv_cache = 2 * layers * n_ctx * (embd * kv_heads // heads) * 2  # K and V, 2 bytes each
    compute = 64 * 2**20 + n_ctx * 64 * 1024  # scratch buffers grow with the context
    return int(info.file_size * 1.1) + kv_cache + compute


def _int(value: Any) -> int:
    # Some models store per-layer head counts as arrays; the first layer is a fair estimate.
    if isinstance(value, list) and value:
        value = value[0]
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def available_memory_bytes() -> int | None:
    """MemAvailable from /proc/meminfo, or None where that is not readable."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _check_memory(info: GGUFInfo, available: int | None, n_ctx: int) -> None:
    if available is None:
        available = available_memory_bytes()
    if available is None:
        return  # no portable way to know; llama.cpp's own allocation error will have to do
    needed = estimate_memory(info, n_ctx)
    if needed > available:
        raise ModelFileError(info.path, f"is too big for memory: needs about {needed / 1e9:.1f} GB, "
                                        f"{available / 1e9:.1f} GB available")
