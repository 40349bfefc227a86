"""The documents' source of truth in SQLite: added sources, files, chunks, tables and index bookkeeping."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

from assistant.documents.chunking import Chunk
from assistant.documents.parsers import Table
from assistant.documents.tables import store_table
from assistant.sqlite_tx import Transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS sources (
    id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, added_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY, source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    path TEXT NOT NULL UNIQUE, size INTEGER, mtime_ns INTEGER, sha256 TEXT,
    status TEXT NOT NULL DEFAULT 'pending', error TEXT, warning TEXT, kind TEXT,
    chunk_count INTEGER NOT NULL DEFAULT 0, indexed_at REAL);
CREATE TABLE IF NOT EXISTS chunks (
    id TEXT PRIMARY KEY, file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL, text TEXT NOT NULL, page INTEGER, section TEXT, sheet TEXT, rows TEXT,
    start INTEGER, "end" INTEGER, in_index INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS chunks_file ON chunks(file_id);
CREATE INDEX IF NOT EXISTS chunks_pending ON chunks(in_index) WHERE in_index = 0;
-- Chunk ids removed from SQLite but maybe still in the search index: deleted there, then here.
CREATE TABLE IF NOT EXISTS index_deletes (id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS doc_tables (
    id INTEGER PRIMARY KEY, file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    sheet TEXT NOT NULL, name TEXT NOT NULL UNIQUE, columns TEXT NOT NULL, row_count INTEGER NOT NULL);
"""


@dataclass(frozen=True)
class FileRow:
    """One file under an added source, with its indexing status."""

    id: int
    source_id: int
    path: str
    size: int | None
    mtime_ns: int | None
    sha256: str | None
    status: str  # pending | indexed | error
    error: str | None
    warning: str | None
    kind: str | None
    chunk_count: int


@dataclass(frozen=True)
class SourceRow:
    id: int
    path: str
    kind: str  # folder | file
    added_at: float


@dataclass(frozen=True)
class TableRow:
    """A spreadsheet sheet or CSV loaded as the SQLite table `name`."""

    id: int
    file_id: int
    path: str
    sheet: str
    name: str
    columns: list[str]
    row_count: int


class DocumentStore:
    """Thread-safe access to documents.sqlite3 (WAL, synchronous FULL: a crash loses no committed file)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _tx(self):
        return Transaction(self._db, self._lock)

    def _all(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # sources
    def add_source(self, path: Path, kind: str) -> SourceRow:
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO sources(path, kind, added_at) VALUES (?, ?, ?)",
                       (str(path), kind, time.time()))
        return self.source(path)  # type: ignore[return-value]

    def source(self, path: Path | str) -> SourceRow | None:
        rows = self._all("SELECT * FROM sources WHERE path = ?", (str(path),))
        return SourceRow(**dict(rows[0])) if rows else None

    def sources(self) -> list[SourceRow]:
        return [SourceRow(**dict(r)) for r in self._all("SELECT * FROM sources ORDER BY path")]

    def remove_source(self, source_id: int) -> None:
        """Forget a source, its files, chunks and tables; their index entries are queued for deletion."""
        with self._tx() as db:
            for f in db.execute("SELECT id FROM files WHERE source_id = ?", (source_id,)).fetchall():
                self._drop_file_contents(db, f["id"])
            db.execute("DELETE FROM files WHERE source_id = ?", (source_id,))
            db.execute("DELETE FROM sources WHERE id = ?", (source_id,))

    # files
    def files(self, source_id: int | None = None) -> list[FileRow]:
        if source_id is None:
            rows = self._all("SELECT * FROM files ORDER BY path")
        else:
            rows = self._all("SELECT * FROM files WHERE source_id = ? ORDER BY path", (source_id,))
        return [_file_row(r) for r in rows]

    def file(self, path: Path | str) -> FileRow | None:
        rows = self._all("SELECT * FROM files WHERE path = ?", (str(path),))
        return _file_row(rows[0]) if rows else None

    def file_by_id(self, file_id: int) -> FileRow | None:
        rows = self._all("SELECT * FROM files WHERE id = ?", (file_id,))
        return _file_row(rows[0]) if rows else None

    def ensure_file(self, source_id: int, path: Path) -> FileRow:
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO files(source_id, path) VALUES (?, ?)", (source_id, str(path)))
        return self.file(path)  # type: ignore[return-value]

    def touch_file(self, file_id: int, size: int, mtime_ns: int) -> None:
        """The content is unchanged (same hash) though mtime moved: remember the new stat only."""
        with self._tx() as db:
            db.execute("UPDATE files SET size = ?, mtime_ns = ? WHERE id = ?", (size, mtime_ns, file_id))

    def replace_file(self, file_id: int, *, size: int, mtime_ns: int, sha256: str, kind: str,
                     chunks: Sequence[Chunk], tables: Sequence[Table], warning: str | None) -> list[str]:
        """Swap in a file's new chunks and tables in one transaction; returns the new chunk ids."""
        ids = [chunk_id(file_id, sha256, c.index) for c in chunks]
        with self._tx() as db:
            self._drop_file_contents(db, file_id)
            db.executemany(
                'INSERT OR REPLACE INTO chunks(id, file_id, idx, text, page, section, sheet, rows, start, "end", '
                "in_index) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
                [(i, file_id, c.index, c.text, c.page, c.section, c.sheet, c.rows, c.start, c.end)
                 for i, c in zip(ids, chunks)])
            # A chunk id that is queued for deletion and re-created (same content) must survive.
            db.executemany("DELETE FROM index_deletes WHERE id = ?", [(i,) for i in ids])
            for table in tables:
                store_table(db, file_id, table)
            db.execute("UPDATE files SET size = ?, mtime_ns = ?, sha256 = ?, kind = ?, status = 'indexed', "
                       "error = NULL, warning = ?, chunk_count = ?, indexed_at = ? WHERE id = ?",
                       (size, mtime_ns, sha256, kind, warning, len(chunks), time.time(), file_id))
        return ids

    def fail_file(self, file_id: int, *, size: int | None, mtime_ns: int | None, sha256: str | None,
                  error: str) -> None:
        """Record why a file cannot be indexed; its old chunks (if any) go, so answers never cite it."""
        with self._tx() as db:
            self._drop_file_contents(db, file_id)
            db.execute("UPDATE files SET size = ?, mtime_ns = ?, sha256 = ?, status = 'error', error = ?, "
                       "warning = NULL, chunk_count = 0, indexed_at = ? WHERE id = ?",
                       (size, mtime_ns, sha256, error, time.time(), file_id))

    def remove_file(self, file_id: int) -> None:
        with self._tx() as db:
            self._drop_file_contents(db, file_id)
            db.execute("DELETE FROM files WHERE id = ?", (file_id,))

    def _drop_file_contents(self, db: sqlite3.Connection, file_id: int) -> None:
        db.execute("INSERT OR IGNORE INTO index_deletes(id) SELECT id FROM chunks WHERE file_id = ?", (file_id,))
        db.execute("DELETE FROM chunks WHERE file_id = ?", (file_id,))
        for t in db.execute("SELECT name FROM doc_tables WHERE file_id = ?", (file_id,)).fetchall():
            db.execute(f'DROP TABLE IF EXISTS "{t["name"]}"')
        db.execute("DELETE FROM doc_tables WHERE file_id = ?", (file_id,))

    # chunks and the search index's bookkeeping
    def chunks_by_id(self, ids: Sequence[str]) -> dict[str, sqlite3.Row]:
        out: dict[str, sqlite3.Row] = {}
        for start in range(0, len(ids), 500):
            part = list(ids[start:start + 500])
            marks = ",".join("?" * len(part))
            for r in self._all(f"SELECT c.*, f.path FROM chunks c JOIN files f ON f.id = c.file_id "
                               f"WHERE c.id IN ({marks})", part):
                out[r["id"]] = r
        return out

    def pending_chunks(self, limit: int = 256) -> list[sqlite3.Row]:
        """Chunks committed to SQLite but not yet confirmed in the search index (resumed after a crash)."""
        return self._all("SELECT c.*, f.path FROM chunks c JOIN files f ON f.id = c.file_id "
                         "WHERE c.in_index = 0 ORDER BY c.file_id, c.idx LIMIT ?", (limit,))

    def iter_chunks(self, batch: int = 512) -> Iterator[list[sqlite3.Row]]:
        last = ""
        while True:
            rows = self._all("SELECT c.*, f.path FROM chunks c JOIN files f ON f.id = c.file_id "
                             "WHERE c.id > ? ORDER BY c.id LIMIT ?", (last, batch))
            if not rows:
                return
            yield rows
            last = rows[-1]["id"]

    def mark_in_index(self, ids: Sequence[str], value: int = 1) -> None:
        with self._tx() as db:
            db.executemany("UPDATE chunks SET in_index = ? WHERE id = ?", [(value, i) for i in ids])

    def mark_all_out_of_index(self) -> None:
        with self._tx() as db:
            db.execute("UPDATE chunks SET in_index = 0")
            db.execute("DELETE FROM index_deletes")

    def pending_deletes(self) -> list[str]:
        return [r["id"] for r in self._all("SELECT id FROM index_deletes")]

    def clear_deletes(self, ids: Sequence[str]) -> None:
        with self._tx() as db:
            db.executemany("DELETE FROM index_deletes WHERE id = ?", [(i,) for i in ids])

    def chunk_count(self) -> int:
        return int(self._all("SELECT COUNT(*) AS n FROM chunks")[0]["n"])

    def indexed_chunk_count(self) -> int:
        return int(self._all("SELECT COUNT(*) AS n FROM chunks WHERE in_index = 1")[0]["n"])

    # tables
    def tables(self) -> list[TableRow]:
        rows = self._all("SELECT t.*, f.path FROM doc_tables t JOIN files f ON f.id = t.file_id "
                         "ORDER BY f.path, t.id")
        return [TableRow(r["id"], r["file_id"], r["path"], r["sheet"], r["name"], json.loads(r["columns"]),
                         r["row_count"]) for r in rows]

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Run a read-only query built by assistant.documents.tables (never text from the model)."""
        return self._all(sql, args)


def chunk_id(file_id: int, sha256: str, index: int) -> str:
    """Stable for the same file content, so a resumed run re-upserts the same ids instead of adding twins."""
    return f"d{file_id}-{sha256[:12]}-{index}"


def _file_row(r: sqlite3.Row) -> FileRow:
    return FileRow(r["id"], r["source_id"], r["path"], r["size"], r["mtime_ns"], r["sha256"], r["status"],
                   r["error"], r["warning"], r["kind"], r["chunk_count"])


