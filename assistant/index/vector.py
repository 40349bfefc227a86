"""Dense (meaning) search over one Chroma collection, embedded in a folder or on a Chroma server."""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import struct
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from assistant.index.base import IndexDamaged, IndexUnavailable
from assistant.index.lock import FolderLock

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

SQLITE_NAME = "chroma.sqlite3"
_COLLECTION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,61}[A-Za-z0-9]$")


class VectorIndex:
    """One named collection in cosine space; ids are strings, similarity is 1 - cosine distance.

    Pass `folder` for an embedded index (this process then owns the folder: IndexLocked otherwise) or
    `server_url` for a Chroma server. Vectors come from `embedder` (never Chroma's own default model)
    or are given to `upsert` directly.
    """

    def __init__(self, collection: str, *, folder: str | os.PathLike[str] | None = None,
                 server_url: str | None = None, embedder: Any = None) -> None:
        if not _COLLECTION.match(collection):
            raise ValueError(f"collection name {collection!r} must be 3-63 letters, digits, '.', '_' or '-', "
                             f"starting and ending with a letter or digit")
        if (folder is None) == (server_url is None):
            raise ValueError("give exactly one of folder (embedded index) or server_url (Chroma server)")
        self.collection_name = collection
        self.embedder = embedder
        self.folder = Path(folder) if folder is not None else None
        self.server_url = server_url
        self._lock: FolderLock | None = None
        self._client: Any = None
        self._collection: Any = None
        if self.folder is not None:
            self._lock = FolderLock(self.folder).acquire()
        try:
            self._client = self._connect()
            self._collection = self._open_collection()
        except BaseException:
            self.close()
            raise

    @classmethod
    def from_settings(cls, memory_settings: Any, collection: str, folder: str | os.PathLike[str],
                      embedder: Any = None) -> "VectorIndex":
        """Embedded in `folder`, or on `memory.server_url` when `memory.index = "server"`."""
        if getattr(memory_settings, "index", "embedded") == "server":
            return cls(collection, server_url=memory_settings.server_url, embedder=embedder)
        return cls(collection, folder=folder, embedder=embedder)

    # connection

    def _connect(self) -> Any:
        import chromadb
        from chromadb.config import Settings

        settings = Settings(anonymized_telemetry=False, allow_reset=True)
        if self.folder is not None:
            try:
                return chromadb.PersistentClient(path=str(self.folder), settings=settings)
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:  # includes Rust panics on a malformed file
                _forget_system(str(self.folder))
                raise IndexDamaged(f"the vector index in {self.folder} cannot be opened ({_short(exc)}); "
                                   f"it will be rebuilt") from exc
        url = urlsplit(self.server_url or "")
        if url.scheme not in ("http", "https") or not url.hostname:
            raise IndexUnavailable(f"memory.server_url {self.server_url!r} is not an http(s)://host:port URL")
        port = url.port or (443 if url.scheme == "https" else 8000)
        try:
            return chromadb.HttpClient(host=url.hostname, port=port, ssl=url.scheme == "https",
                                       settings=settings)
        except Exception as exc:
            raise IndexUnavailable(f"the Chroma server at {self.server_url} cannot be reached: "
                                   f"{_short(exc)}") from exc

    def _open_collection(self) -> Any:
        with self._guard("open"):
            # embedding_function=None: Chroma's default would download a model; vectors always come from us.
            return self._client.get_or_create_collection(
                self.collection_name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}})

    @contextlib.contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        """Chroma's errors as index errors: the caller's mistakes stay ValueError, the rest means broken."""
        try:
            yield
        except (KeyboardInterrupt, SystemExit, GeneratorExit, IndexUnavailable, ValueError, TypeError):
            raise
        except BaseException as exc:  # Chroma's Rust core panics with pyo3's PanicException (a BaseException)
            from chromadb.errors import InvalidArgumentError

            if isinstance(exc, InvalidArgumentError):
                raise ValueError(f"vector index {self.collection_name!r}: {_short(exc)}") from exc
            raise self._failure(action, exc) from exc

    def _failure(self, action: str, exc: BaseException) -> IndexUnavailable:
        if self.server_url is not None:
            return IndexUnavailable(f"the Chroma server at {self.server_url} failed to {action} collection "
                                    f"{self.collection_name!r}: {_short(exc)}")
        return IndexDamaged(f"the vector index in {self.folder} failed to {action} collection "
                            f"{self.collection_name!r} ({_short(exc)}); it will be rebuilt")

    @property
    def _coll(self) -> Any:
        if self._collection is None:
            raise IndexUnavailable(f"vector index {self.collection_name!r} is closed")
        return self._collection

    # writes

    def upsert(self, ids: Sequence[str], texts: Sequence[str], metadatas: Sequence[Mapping[str, Any]] | None = None,
               embeddings: Any = None) -> None:
        """Add or replace items by id; vectors are computed from `texts` unless given (n x dim)."""
        ids = [str(i) for i in ids]
        if len(set(ids)) != len(ids):
            raise ValueError("upsert got the same id twice")
        if len(texts) != len(ids) or (metadatas is not None and len(metadatas) != len(ids)):
            raise ValueError("upsert needs one text (and one metadata dict, if given) per id")
        if not ids:
            return
        vectors = self._vectors(texts, embeddings)
        metas = [_clean_metadata(m) for m in metadatas] if metadatas is not None else [None] * len(ids)
        step = self._batch_size()
        for start in range(0, len(ids), step):
            end = start + step
            with self._guard("write to"):
                self._coll.upsert(ids=ids[start:end], embeddings=vectors[start:end],
                                  documents=[str(t) for t in texts[start:end]], metadatas=metas[start:end])

    def _vectors(self, texts: Sequence[str], embeddings: Any) -> np.ndarray:
        if embeddings is None:
            if self.embedder is None:
                raise ValueError("no embeddings given and this VectorIndex has no embedder")
            return self.embedder.embed(list(texts))
        vectors = np.asarray(embeddings, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            raise ValueError(f"embeddings must be one row per text, got shape {vectors.shape}")
        if not np.isfinite(vectors).all():
            raise ValueError("embeddings contain NaN or infinity")
        return vectors

    def _batch_size(self) -> int:
        try:
            return max(1, min(5000, int(self._client.get_max_batch_size())))
        except Exception:
            return 1000

    def delete(self, ids: Sequence[str]) -> None:
        """Remove items; unknown ids are ignored."""
        ids = [str(i) for i in ids]
        for start in range(0, len(ids), 5000):
            with self._guard("delete from"):
                self._coll.delete(ids=ids[start:start + 5000])

    def reset(self) -> None:
        """Drop every item (the collection is recreated empty)."""
        try:
            self._client.delete_collection(self.collection_name)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException:
            pass  # already gone, or unreadable: recreating it below is what matters
        self._collection = None
        self._collection = self._open_collection()

    # reads

    def query(self, embedding_or_text: Any, k: int = 10,
              where: Mapping[str, Any] | None = None) -> list[tuple[str, float]]:
        """The `k` nearest items as (id, cosine similarity), best first; `where` is metadata equality."""
        if k <= 0:
            return []
        if isinstance(embedding_or_text, str):
            if self.embedder is None:
                raise ValueError("a text query needs an embedder")
            vector = self.embedder.embed_query(embedding_or_text)
        else:
            vector = np.asarray(embedding_or_text, dtype=np.float32).reshape(-1)
        total = self.count()
        if total == 0:
            return []
        with self._guard("search"):
            result = self._coll.query(query_embeddings=[vector], n_results=min(k, total),
                                      where=_where(where), include=["distances"])
        ids = result["ids"][0] if result.get("ids") else []
        distances = result["distances"][0] if result.get("distances") else []
        return [(str(i), float(1.0 - d)) for i, d in zip(ids, distances)]

    def count(self) -> int:
        """How many items the collection holds."""
        with self._guard("count"):
            return int(self._coll.count())

    def ids(self) -> list[str]:
        """Every id in the collection (paged, so large collections do not load their vectors)."""
        found: list[str] = []
        page = 5000
        while True:
            with self._guard("list"):
                batch = self._coll.get(include=[], limit=page, offset=len(found))
            found.extend(str(i) for i in batch["ids"])
            if len(batch["ids"]) < page:
                return found

    def check(self) -> None:
        """Raise IndexDamaged when the files cannot be read back; cheap enough to run at start-up."""
        if self.folder is not None:
            self._check_sqlite()
            # Before Chroma reads them: its HNSW reader trusts these files, and garbage links crash the process.
            for segment in sorted(p for p in self.folder.iterdir() if (p / "header.bin").is_file()):
                problem = hnsw_problem(segment)
                if problem:
                    raise IndexDamaged(f"the vector index in {self.folder} is damaged ({segment.name}: {problem}); "
                                       f"it will be rebuilt")
        with self._guard("read"):
            total = self._coll.count()
            if not total:
                return
            # A few stored vectors must find themselves: this reads the metadata, the vectors and the graph.
            for offset in sorted({0, total // 2, total - 1}):
                probe = self._coll.get(limit=1, offset=offset, include=["embeddings"])
                vector = np.asarray(probe["embeddings"][0], dtype=np.float32)
                found = self._coll.query(query_embeddings=[vector], n_results=1, include=["distances"])
                distances = found["distances"][0] if found.get("distances") else []
                if not distances or distances[0] > 1e-3:
                    raise IndexDamaged(f"the vector index {self.folder or self.server_url} does not find its own "
                                       f"item {probe['ids'][0]!r} (collection {self.collection_name!r}); "
                                       f"it will be rebuilt")

    def _check_sqlite(self) -> None:
        assert self.folder is not None
        path = self.folder / SQLITE_NAME
        if not path.is_file():
            raise IndexDamaged(f"the vector index in {self.folder} has lost {SQLITE_NAME}; it will be rebuilt")
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as conn:
                verdict = conn.execute("PRAGMA quick_check").fetchone()
            conn.close()
        except sqlite3.Error as exc:
            raise IndexDamaged(f"the vector index file {path} is unreadable ({exc}); it will be rebuilt") from exc
        if not verdict or verdict[0] != "ok":
            raise IndexDamaged(f"the vector index file {path} is corrupt ({verdict[0] if verdict else '?'}); "
                               f"it will be rebuilt")

    def close(self) -> None:
        """Release the Chroma client and the folder lock; safe to call twice."""
        client, self._client, self._collection = self._client, None, None
        if client is not None:
            try:
                client.close()
            except Exception:
                pass  # closing a broken client must not hide the error that led here
        if self._lock is not None:
            self._lock.release()

    def __enter__(self) -> "VectorIndex":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# header.bin of Chroma's hnswlib: version, then hnswlib's own header (offsets in bytes, counts, levels).
_HEADER = struct.Struct("<iQQQQQQiIQQQdQ")


def hnsw_problem(segment: Path) -> str | None:
    """What is structurally wrong with one persisted HNSW segment folder, or None.

    Checks the header's arithmetic, the file sizes it implies, every level-0 neighbour count and id, the
    vectors' finiteness, and the upper-level lists; numpy over a memory map, so 100k items take ~0.2 s.
    """
    try:
        raw = (segment / "header.bin").read_bytes()
        if len(raw) < _HEADER.size:
            return f"header.bin has {len(raw)} bytes"
        (version, _offset0, capacity, count, per_item, label_at, data_at, max_level, entry, max_m, max_m0,
         _m, _mult, _ef) = _HEADER.unpack_from(raw)
        if version != 1 or count > capacity or not -1 <= max_level < 64 or not 0 < max_m <= max_m0 <= 4096:
            return "header.bin holds impossible values"
        if data_at != 4 + 4 * max_m0 or label_at <= data_at or per_item != label_at + 8 or (label_at - data_at) % 4:
            return "header.bin's layout does not add up"
        if count and entry >= count:
            return "the entry point is outside the index"
        # Files are written either for the items held or for the whole allocated capacity.
        level0 = segment / "data_level0.bin"
        if level0.stat().st_size not in (count * per_item, capacity * per_item):
            return f"data_level0.bin has {level0.stat().st_size} bytes, expected {count * per_item}"
        lengths_file = segment / "length.bin"
        if lengths_file.stat().st_size not in (count * 4, capacity * 4):
            return f"length.bin has {lengths_file.stat().st_size} bytes, expected {count * 4}"
        if count == 0:
            return None
        rows = np.memmap(level0, dtype=np.uint8, mode="r", shape=(count, per_item))
        sizes = rows[:, :4].copy().view(np.uint32)[:, 0] & 0xFFFF
        if int(sizes.max()) > max_m0:
            return "a level-0 neighbour list is longer than allowed"
        links = rows[:, 4:data_at].copy().view(np.uint32)
        used = np.arange(max_m0)[None, :] < sizes[:, None]
        if (links[used] >= count).any():
            return "a level-0 neighbour points outside the index"
        if not np.isfinite(rows[:, data_at:label_at].copy().view(np.float32)).all():
            return "a stored vector is not finite"
        if not np.isfinite(np.fromfile(lengths_file, dtype=np.float32, count=count)).all():
            return "length.bin holds a vector norm that is not finite"
        return _upper_levels_problem(segment, count, max_m)
    except (OSError, ValueError) as exc:
        return f"unreadable ({exc})"


def _upper_levels_problem(segment: Path, count: int, max_m: int) -> str | None:
    """link_lists.bin: per item, a uint32 byte size then that many bytes of (count, max_m ids) blocks."""
    block = 4 + 4 * max_m
    data = (segment / "link_lists.bin").read_bytes()
    starts: list[int] = []
    at = 0
    for _ in range(count):
        if at + 4 > len(data):
            return "link_lists.bin ends early"
        size = int.from_bytes(data[at:at + 4], "little")
        if size % block or size > 64 * block:
            return "link_lists.bin holds an impossible list size"
        starts.extend(range(at + 4, at + 4 + size, block))
        at += 4 + size
    if not starts:
        return None
    raw = np.frombuffer(data, dtype=np.uint8)
    blocks = raw[np.asarray(starts)[:, None] + np.arange(block)[None, :]].view(np.uint32)
    sizes = blocks[:, 0] & 0xFFFF
    if int(sizes.max()) > max_m:
        return "an upper-level neighbour list is longer than allowed"
    used = np.arange(max_m)[None, :] < sizes[:, None]
    if (blocks[:, 1:][used] >= count).any():
        return "an upper-level neighbour points outside the index"
    return None


def _forget_system(path: str) -> None:
    """Drop Chroma's per-process cached system for a folder whose start failed half-way.

    Chroma caches the system before starting it; left there, every later client for the folder (even after
    a wipe) reuses the broken one.
    """
    from chromadb.api.shared_system_client import SharedSystemClient

    system = SharedSystemClient._identifier_to_system.pop(path, None)
    SharedSystemClient._identifier_to_refcount.pop(path, None)
    if system is not None:
        try:
            system.stop()
        except BaseException:  # noqa: BLE001 - it is broken already; stopping is best effort
            pass


def wipe_folder(folder: str | os.PathLike[str]) -> None:
    """Delete an embedded index's Chroma files (after IndexDamaged), so a new VectorIndex starts empty.

    Takes the folder lock first: wiping a folder another process is using raises IndexLocked.
    """
    import shutil

    folder = Path(folder)
    if not folder.is_dir():
        return
    with FolderLock(folder) as lock:
        for entry in folder.iterdir():
            if entry == lock.path:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()


def _clean_metadata(meta: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Chroma takes str/int/float/bool values and no empty dicts; None values are dropped."""
    if not meta:
        return None
    clean = {}
    for key, value in meta.items():
        if value is None:
            continue
        if not isinstance(value, (str, int, float, bool)):
            raise ValueError(f"metadata {key!r} must be str, int, float or bool, not {type(value).__name__}")
        clean[str(key)] = value
    return clean or None


def _where(where: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """{'a': 1, 'b': 2} means a == 1 and b == 2; Chroma wants that spelled with $and."""
    if not where:
        return None
    if len(where) == 1 or any(str(key).startswith("$") for key in where):
        return dict(where)
    return {"$and": [{key: value} for key, value in where.items()]}


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]
