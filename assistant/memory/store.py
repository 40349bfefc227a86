"""Memories in SQLite (WAL, synchronous FULL): the source of truth the search index is rebuilt from."""

from __future__ import annotations

import re
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from assistant.sqlite_tx import Transaction
from assistant.text import clean_text

SCHEMA = """
CREATE TABLE IF NOT EXISTS memories (
    id TEXT PRIMARY KEY,
    text TEXT NOT NULL,
    norm TEXT NOT NULL DEFAULT '',
    subject TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ('active', 'superseded', 'forgotten')),
    superseded_by TEXT,
    source_kind TEXT NOT NULL CHECK (source_kind IN ('conversation', 'cli', 'tool')),
    conversation_id TEXT,
    message_id TEXT,
    source_detail TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    version INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS memories_by_status ON memories(status, updated_at);
CREATE INDEX IF NOT EXISTS memories_by_subject ON memories(subject, status);
CREATE INDEX IF NOT EXISTS memories_by_norm ON memories(norm, status);
CREATE TABLE IF NOT EXISTS memory_versions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    memory_id TEXT NOT NULL REFERENCES memories(id),
    version INTEGER NOT NULL,
    text TEXT NOT NULL,
    change TEXT NOT NULL,
    source_kind TEXT NOT NULL,
    conversation_id TEXT,
    message_id TEXT,
    changed_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS versions_by_memory ON memory_versions(memory_id, seq);
-- Memories whose search-index entry may be stale; written in the same transaction as the change, so
-- a crash between SQLite and the index is repaired the next time the index is opened.
CREATE TABLE IF NOT EXISTS index_pending (
    memory_id TEXT PRIMARY KEY,
    queued_at REAL NOT NULL
);
"""

SOURCE_KINDS = ("conversation", "cli", "tool")
MAX_TEXT_CHARS = 2000


class MemoryProblem(Exception):
    """Base for memory faults shown to the user as one plain line."""


class MemoryNotFound(MemoryProblem, KeyError):
    """No memory has that id or id prefix."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "no such memory"


class InvalidMemory(MemoryProblem, ValueError):
    """The text cannot be stored as a memory (empty, too long)."""


@dataclass(frozen=True)
class Source:
    """Where a memory came from: a conversation message, the user typing it in the CLI, or a tool call."""

    kind: str = "cli"
    conversation_id: str | None = None
    message_id: str | None = None
    detail: str = ""

    def __post_init__(self) -> None:
        if self.kind not in SOURCE_KINDS:
            raise ValueError(f"source kind must be one of {', '.join(SOURCE_KINDS)}, not {self.kind!r}")

    def describe(self) -> str:
        """Plain words: 'conversation 1a2b3c4d, message 5e6f7a8b' or 'typed in the CLI'."""
        if self.kind == "conversation":
            where = f"conversation {(self.conversation_id or '?')[:8]}"
            return where + (f", message {self.message_id[:8]}" if self.message_id else "")
        if self.kind == "tool":  # detail: "remember, call 1a2b3c" (the call is in the conversation's history)
            name, _, call = (self.detail or "remember").partition(", call ")
            where = f"the {name} tool"
            if self.conversation_id:
                where += f" in conversation {self.conversation_id[:8]}"
                return where + (f", message {self.message_id[:8]}" if self.message_id else "")
            return where + (f" (call {call[:12]})" if call else "")
        return "typed by you" + (f" ({self.detail})" if self.detail else " in the CLI")


@dataclass(frozen=True)
class Memory:
    """One memory as stored; `subject` is the normalised key that a changed fact replaces ('' if none)."""

    id: str
    text: str
    subject: str
    status: str
    superseded_by: str | None
    source: Source
    created_at: float
    updated_at: float
    version: int

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "subject": self.subject, "status": self.status,
                "superseded_by": self.superseded_by,
                "source": {"kind": self.source.kind, "conversation_id": self.source.conversation_id,
                           "message_id": self.source.message_id, "detail": self.source.detail,
                           "description": self.source.describe()},
                "created_at": self.created_at, "updated_at": self.updated_at, "version": self.version}


@dataclass(frozen=True)
class Version:
    """One earlier (or the current) wording of a memory, and why it changed."""

    memory_id: str
    version: int
    text: str
    change: str  # created | edited | superseded | forgotten
    source: Source
    changed_at: float

    def to_dict(self) -> dict[str, Any]:
        return {"memory_id": self.memory_id, "version": self.version, "text": self.text, "change": self.change,
                "source": self.source.describe(), "changed_at": self.changed_at}


def normalise(text: str) -> str:
    """Comparison key for duplicates: case, punctuation and spacing ignored ("My dog is Bori." == "my dog is bori")."""
    text = text.replace("\u2019", "'").casefold()
    text = re.sub(r"[^\w'\s]+", " ", text)
    return " ".join(text.split())


def clean_memory_text(text: str) -> str:
    """Collapse whitespace and check the length; raises InvalidMemory with the reason."""
    if not isinstance(text, str):
        raise InvalidMemory("a memory must be text")
    cleaned = " ".join(clean_text(text).split())  # NUL, lone surrogates and control characters go
    if not cleaned:
        raise InvalidMemory("a memory cannot be empty")
    if len(cleaned) > MAX_TEXT_CHARS:
        raise InvalidMemory(f"a memory is at most {MAX_TEXT_CHARS} characters (this one has {len(cleaned)}); "
                            "store long text as a document instead")
    return cleaned


class MemoryStore:
    """Thread-safe access to the memory database; each change is one durable transaction."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=10.0)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        with self._lock:
            self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _tx(self) -> "Transaction":
        return Transaction(self._db, self._lock)

    # reads
    def get(self, memory_id: str) -> Memory:
        with self._lock:
            row = self._db.execute("SELECT * FROM memories WHERE id=?", (memory_id,)).fetchone()
        if row is None:
            raise MemoryNotFound(f"no memory with id {memory_id!r}")
        return _memory(row)

    def get_many(self, ids: list[str]) -> dict[str, Memory]:
        """The memories with these ids (missing ones left out), in one query per 500 ids."""
        out: dict[str, Memory] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            with self._lock:
                rows = self._db.execute(f"SELECT * FROM memories WHERE id IN ({marks})", chunk).fetchall()
            out.update((r["id"], _memory(r)) for r in rows)
        return out

    def resolve(self, id_or_prefix: str) -> str:
        """A full id from an id or a unique prefix of at least 4 characters."""
        raw = (id_or_prefix or "").strip().lower()
        if len(raw) < 4 or not re.fullmatch(r"[0-9a-f]+", raw):
            raise MemoryNotFound(f"{id_or_prefix!r} is not a memory id (ids are hex, give at least 4 characters; "
                                 "see `biseo memory list`)")
        with self._lock:
            rows = self._db.execute("SELECT id FROM memories WHERE id LIKE ? LIMIT 2", (raw + "%",)).fetchall()
        if not rows:
            raise MemoryNotFound(f"no memory has an id starting with {raw!r}")
        if len(rows) > 1:
            raise MemoryNotFound(f"more than one memory has an id starting with {raw!r}; give more characters")
        return rows[0]["id"]

    def list(self, status: str | None = "active", limit: int | None = None, offset: int = 0) -> list[Memory]:
        """Memories, newest change first; status None lists every status."""
        sql, args = "SELECT * FROM memories", []
        if status:
            sql += " WHERE status=?"
            args.append(status)
        sql += " ORDER BY updated_at DESC, id LIMIT ? OFFSET ?"
        args += [-1 if limit is None else limit, offset]
        with self._lock:
            return [_memory(r) for r in self._db.execute(sql, args).fetchall()]

    def iter_active(self, batch: int = 1000) -> Iterator[Memory]:
        """Every active memory, in id order, a batch at a time (for rebuilding the index)."""
        last = ""
        while True:
            with self._lock:
                rows = self._db.execute("SELECT * FROM memories WHERE status='active' AND id>? ORDER BY id LIMIT ?",
                                        (last, batch)).fetchall()
            if not rows:
                return
            for row in rows:
                yield _memory(row)
            last = rows[-1]["id"]

    def count(self, status: str = "active") -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM memories WHERE status=?", (status,)).fetchone()[0])

    def find_same(self, text: str) -> Memory | None:
        """An active memory that says the same thing (ignoring case, punctuation and spacing)."""
        with self._lock:
            row = self._db.execute("SELECT * FROM memories WHERE status='active' AND norm=? LIMIT 1",
                                   (normalise(text),)).fetchone()
        return _memory(row) if row else None

    def active_with_subject(self, subject: str) -> list[Memory]:
        if not subject:
            return []
        with self._lock:
            rows = self._db.execute("SELECT * FROM memories WHERE status='active' AND subject=? "
                                    "ORDER BY updated_at DESC", (subject,)).fetchall()
        return [_memory(r) for r in rows]

    def versions(self, memory_id: str) -> list[Version]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM memory_versions WHERE memory_id=? ORDER BY seq",
                                    (memory_id,)).fetchall()
        return [Version(r["memory_id"], r["version"], r["text"], r["change"],
                        Source(r["source_kind"], r["conversation_id"], r["message_id"]), r["changed_at"])
                for r in rows]

    def superseded(self, memory_id: str) -> list[Memory]:
        """Memories that this one replaced (a changed fact), newest first."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM memories WHERE superseded_by=? ORDER BY updated_at DESC",
                                    (memory_id,)).fetchall()
        return [_memory(r) for r in rows]

    # writes
    def add(self, text: str, subject: str, source: Source, *, replaces: list[str] = ()) -> Memory:
        """Store a new active memory; the ids in `replaces` become superseded by it (kept in history)."""
        text = clean_memory_text(text)
        now = time.time()
        mid = uuid.uuid4().hex
        with self._tx():
            self._db.execute(
                "INSERT INTO memories(id, text, norm, subject, status, source_kind, conversation_id, message_id, "
                "source_detail, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (mid, text, normalise(text), subject, "active", source.kind, source.conversation_id, source.message_id,
                 source.detail, now, now))
            self._version(mid, 1, text, "created", source, now)
            for old in replaces:
                self._db.execute("UPDATE memories SET status='superseded', superseded_by=?, updated_at=? "
                                 "WHERE id=? AND status='active'", (mid, now, old))
                self._db.execute("INSERT INTO memory_versions(memory_id, version, text, change, source_kind, "
                                 "conversation_id, message_id, changed_at) SELECT id, version, text, 'superseded', "
                                 "?, ?, ?, ? FROM memories WHERE id=?",
                                 (source.kind, source.conversation_id, source.message_id, now, old))
                self._pending(old, now)
            self._pending(mid, now)
        return self.get(mid)

    def touch(self, memory_id: str) -> Memory:
        """Mark a memory as confirmed again (the same fact was stated once more)."""
        with self._tx():
            self._db.execute("UPDATE memories SET updated_at=? WHERE id=?", (time.time(), memory_id))
        return self.get(memory_id)

    def edit(self, memory_id: str, text: str, subject: str, source: Source) -> Memory:
        """Change an active memory's text; the earlier wording stays in its history."""
        text = clean_memory_text(text)
        current = self.get(memory_id)
        if current.status != "active":
            raise InvalidMemory(f"memory {memory_id[:8]} is {current.status}; only active memories can be edited")
        now = time.time()
        with self._tx():
            self._db.execute("UPDATE memories SET text=?, norm=?, subject=?, updated_at=?, version=version+1 "
                             "WHERE id=?", (text, normalise(text), subject, now, memory_id))
            self._version(memory_id, current.version + 1, text, "edited", source, now)
            self._pending(memory_id, now)
        return self.get(memory_id)

    def forget(self, memory_id: str, source: Source = Source("cli")) -> Memory:
        """Erase a memory's text and every earlier wording of it; a tombstone (id, times, source) remains."""
        current = self.get(memory_id)
        if current.status == "forgotten":
            return current
        now = time.time()
        chain = [memory_id] + [m.id for m in self._superseded_chain(memory_id)]
        with self._tx():
            for mid in chain:
                self._db.execute("UPDATE memories SET text='', norm='', subject='', status='forgotten', "
                                 "updated_at=? WHERE id=?", (now, mid))
                self._db.execute("DELETE FROM memory_versions WHERE memory_id=?", (mid,))
                self._version(mid, 0, "", "forgotten", source, now)
                self._pending(mid, now)
        return self.get(memory_id)

    def _superseded_chain(self, memory_id: str) -> list[Memory]:
        out, todo, seen = [], [memory_id], {memory_id}
        while todo:
            for older in self.superseded(todo.pop()):
                if older.id not in seen:
                    seen.add(older.id)
                    out.append(older)
                    todo.append(older.id)
        return out

    def history(self, memory_id: str) -> list[Version]:
        """Every wording of this fact, oldest first: the memories it replaced, then its own edits."""
        versions: list[Version] = []
        for older in reversed(self._superseded_chain(memory_id)):
            versions += self.versions(older.id)
        versions += self.versions(memory_id)
        return sorted(versions, key=lambda v: v.changed_at)

    def link_tool_call(self, call_id: str, conversation_id: str, message_id: str) -> int:
        """Fill in the message of memories a tool call saved (the tool runs before its call is stored)."""
        detail = f"%, call {call_id}"
        with self._tx():
            cur = self._db.execute("UPDATE memories SET conversation_id=?, message_id=? WHERE source_kind='tool' "
                                   "AND message_id IS NULL AND source_detail LIKE ?",
                                   (conversation_id, message_id, detail))
            self._db.execute("UPDATE memory_versions SET conversation_id=?, message_id=? WHERE source_kind='tool' "
                             "AND message_id IS NULL AND memory_id IN (SELECT id FROM memories WHERE "
                             "source_detail LIKE ?)", (conversation_id, message_id, detail))
        return cur.rowcount

    # the search index's to-do list
    def _pending(self, memory_id: str, now: float) -> None:
        self._db.execute("INSERT OR REPLACE INTO index_pending(memory_id, queued_at) VALUES (?, ?)",
                         (memory_id, now))

    def pending(self, limit: int = 1000) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT memory_id FROM index_pending ORDER BY queued_at LIMIT ?",
                                                   (limit,)).fetchall()]

    def has_pending(self) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM index_pending LIMIT 1").fetchone() is not None

    def clear_pending(self, ids: list[str], before: float | None = None) -> None:
        """Mark index entries as up to date (only those queued before `before`, if given)."""
        with self._tx():
            for mid in ids:
                if before is None:
                    self._db.execute("DELETE FROM index_pending WHERE memory_id=?", (mid,))
                else:
                    self._db.execute("DELETE FROM index_pending WHERE memory_id=? AND queued_at<=?", (mid, before))

    def clear_all_pending(self, before: float) -> None:
        with self._tx():
            self._db.execute("DELETE FROM index_pending WHERE queued_at<=?", (before,))

    def _version(self, memory_id: str, version: int, text: str, change: str, source: Source, now: float) -> None:
        self._db.execute("INSERT INTO memory_versions(memory_id, version, text, change, source_kind, conversation_id, "
                         "message_id, changed_at) VALUES (?,?,?,?,?,?,?,?)",
                         (memory_id, version, text, change, source.kind, source.conversation_id,
                          source.message_id, now))


def _memory(row: sqlite3.Row) -> Memory:
    return Memory(row["id"], row["text"], row["subject"], row["status"], row["superseded_by"],
                  Source(row["source_kind"], row["conversation_id"], row["message_id"], row["source_detail"]),
                  row["created_at"], row["updated_at"], row["version"])


