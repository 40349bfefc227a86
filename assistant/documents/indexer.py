"""Bring SQLite and the search index in line with the files on disk: skip unchanged, re-read changed, drop gone."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from assistant.documents.chunking import chunk_sections
from assistant.documents.parsers import ParseError, file_kind, parse_file
from assistant.documents.store import DocumentStore, FileRow, SourceRow
from assistant.index.base import IndexItem, SearchIndex
from assistant.index.hybrid import CONTEXT_KEY

log = logging.getLogger("biseo.documents")
UPSERT_BATCH = 64


@dataclass
class FileError:
    path: str
    reason: str


@dataclass
class Progress:
    """Where a sync stands; passed to the progress callback after each file (and once at the start)."""

    total: int = 0
    done: int = 0
    current: str = ""
    indexed: int = 0  # files read and (re)indexed this run
    unchanged: int = 0
    removed: int = 0
    chunks: int = 0
    errors: list[FileError] = field(default_factory=list)
    warnings: list[FileError] = field(default_factory=list)
    finished: bool = False
    cancelled: bool = False

    def to_dict(self) -> dict:
        return {"total": self.total, "done": self.done, "indexed": self.indexed, "unchanged": self.unchanged,
                "removed": self.removed, "chunks": self.chunks, "cancelled": self.cancelled,
                "errors": [{"path": e.path, "reason": e.reason} for e in self.errors],
                "warnings": [{"path": w.path, "reason": w.reason} for w in self.warnings]}


ProgressCallback = Callable[[Progress], None]


def is_hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") or part.startswith("~$") for part in path.relative_to(root).parts)


def scan_source(source: SourceRow) -> tuple[list[Path], str | None]:
    """The supported files under a source (hidden files and folders skipped), or why it cannot be read.

    A link inside a folder is listed like a file; whether it may be read is checked just before
    reading (`outside_reason`), so a link or a folder swapped for one is refused, not followed out.
    """
    root = Path(source.path)
    if source.kind == "file":
        return ([root], None) if root.is_file() else ([], f"{root} no longer exists")
    if not root.is_dir():
        return [], f"{root} no longer exists"
    found: list[Path] = []
    for folder, dirs, names in os.walk(root, onerror=lambda e: log.warning("cannot list %s: %s", e.filename, e)):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            path = Path(folder) / name
            if not is_hidden(path, root) and file_kind(path) is not None and (path.is_file() or path.is_symlink()):
                found.append(path)
    return found, None


def outside_reason(source: SourceRow, path: Path) -> str | None:
    """Why a file of a folder source must not be read: it resolves (through a link) outside that folder."""
    if source.kind != "folder":
        return None
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return "a broken link or a file that disappeared; not read"
    if not resolved.is_relative_to(Path(source.path)):
        return f"it links outside the added folder (to {resolved}); not read"
    return None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Indexer:
    """One sync at a time (a lock), from any thread: the CLI's worker, the folder watcher, reindex."""

    def __init__(self, store: DocumentStore, index: Callable[[], SearchIndex], max_file_mb: float) -> None:
        self.store = store
        self._index = index
        self.max_bytes = int(max_file_mb * 1_000_000)
        self.lock = threading.Lock()  # one sync at a time
        self._flush_lock = threading.RLock()  # searches flush too, without waiting for a whole sync

    def sync(self, progress: ProgressCallback | None = None, *, sources: Sequence[SourceRow] | None = None,
             force: bool = False, cancel: threading.Event | None = None) -> Progress:
        """Index new and changed files of these sources (all by default), drop files that are gone."""
        with self.lock:
            state = Progress()
            report = progress or (lambda p: None)
            self.flush_index()  # finish what a killed run left behind before adding more
            work: list[tuple[SourceRow, Path]] = []
            for source in sources if sources is not None else self.store.sources():
                paths, problem = scan_source(source)
                if problem:
                    state.errors.append(FileError(source.path, problem))
                work += [(source, p) for p in paths]
                on_disk = {str(p) for p in paths}
                for row in self.store.files(source.id):
                    if row.path not in on_disk:
                        self.store.remove_file(row.id)
                        state.removed += 1
            self.flush_index()
            state.total = len(work)
            report(state)
            for source, path in work:
                if cancel is not None and cancel.is_set():
                    state.cancelled = True
                    break
                state.current = str(path)
                report(state)
                self._sync_file(source, path, state, force)
                state.done += 1
                report(state)
            state.current = ""
            state.finished = True
            report(state)
            return state

    def _sync_file(self, source: SourceRow, path: Path, state: Progress, force: bool) -> None:
        row = self.store.ensure_file(source.id, path)
        refused = outside_reason(source, path)
        if refused:
            # Checked right before reading: a folder swapped for a link since the scan is refused too.
            self.store.fail_file(row.id, size=None, mtime_ns=None, sha256=None, error=refused)
            state.errors.append(FileError(str(path), refused))
            self.flush_index()  # chunks it had before (when it was a real file) leave the index
            return
        try:
            st = path.stat()
        except OSError as exc:
            self.store.fail_file(row.id, size=None, mtime_ns=None, sha256=None, error=f"cannot read: {exc.strerror}")
            state.errors.append(FileError(str(path), f"cannot read: {exc.strerror}"))
            return
        settled = row.status in ("indexed", "error") and not force
        if settled and row.size == st.st_size and row.mtime_ns == st.st_mtime_ns:
            self._count_unchanged(row, state)
            return
        try:
            digest = sha256_of(path)
        except OSError as exc:
            self.store.fail_file(row.id, size=st.st_size, mtime_ns=st.st_mtime_ns, sha256=None,
                                 error=f"cannot read: {exc.strerror}")
            state.errors.append(FileError(str(path), f"cannot read: {exc.strerror}"))
            return
        if settled and row.sha256 == digest and row.size == st.st_size:
            self.store.touch_file(row.id, st.st_size, st.st_mtime_ns)  # touched, not changed
            self._count_unchanged(row, state)
            return
        try:
            parsed = parse_file(path, self.max_bytes)
        except ParseError as exc:
            self.store.fail_file(row.id, size=st.st_size, mtime_ns=st.st_mtime_ns, sha256=digest, error=str(exc))
            state.errors.append(FileError(str(path), str(exc)))
            self.flush_index()
            return
        except Exception as exc:  # noqa: BLE001 - a parser bug on one file must not stop the others
            log.exception("parsing %s failed", path)
            reason = f"could not be read ({type(exc).__name__}: {exc})"
            self.store.fail_file(row.id, size=st.st_size, mtime_ns=st.st_mtime_ns, sha256=digest, error=reason)
            state.errors.append(FileError(str(path), reason))
            return
        chunks = chunk_sections(parsed.sections)
        warning = "; ".join(parsed.warnings) or None
        self.store.replace_file(row.id, size=st.st_size, mtime_ns=st.st_mtime_ns, sha256=digest,
                                kind=parsed.kind, chunks=chunks, tables=parsed.tables, warning=warning)
        if warning:
            state.warnings.append(FileError(str(path), warning))
        self.flush_index()
        state.indexed += 1
        state.chunks += len(chunks)

    def _count_unchanged(self, row: FileRow, state: Progress) -> None:
        state.unchanged += 1
        if row.status == "error" and row.error:
            state.errors.append(FileError(row.path, row.error))  # still broken: say so again

    def flush_index(self) -> None:
        """Apply queued deletions and upsert chunks not yet in the index (idempotent: safe after a crash)."""
        with self._flush_lock:
            self._flush()

    def _flush(self) -> None:
        deletes = self.store.pending_deletes()
        if deletes:
            index = self._index()
            for start in range(0, len(deletes), 512):
                index.delete(deletes[start:start + 512])
            self.store.clear_deletes(deletes)
        while True:
            rows = self.store.pending_chunks(UPSERT_BATCH)
            if not rows:
                return
            self._index().upsert([index_item(r) for r in rows])
            self.store.mark_in_index([r["id"] for r in rows])

    def rebuild(self, progress: ProgressCallback | None = None) -> int:
        """Drop the search index and fill it again from SQLite's chunks (no file is re-read)."""
        with self.lock, self._flush_lock:
            self.store.mark_all_out_of_index()
            items = _items(self.store.iter_chunks())
            self._index().rebuild(items)
            ids = [r["id"] for batch in self.store.iter_chunks() for r in batch]
            self.store.mark_in_index(ids)
            return len(ids)


def _items(batches: Iterable[list]) -> Iterable[IndexItem]:
    for batch in batches:
        for row in batch:
            yield index_item(row)


def index_item(row) -> IndexItem:
    """The chunk, searched together with its file name and heading (so "the lease" finds lease.pdf)."""
    name = Path(row["path"]).name
    head = name + (f" - {row['section']}" if row["section"] else "")
    metadata = {"kind": "document", "path": row["path"], "file": name, "file_id": int(row["file_id"]),
                "chunk": int(row["idx"]), CONTEXT_KEY: head}
    for key in ("page", "section", "sheet", "rows"):
        if row[key] is not None:
            metadata[key] = row[key]
    return IndexItem(id=row["id"], text=row["text"], metadata=metadata)
