"""Chat history in SQLite (WAL, synchronous FULL): conversations, turns, messages, tool calls.

Regenerated or edited turns are never deleted: they are marked superseded and hidden by default.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.sqlite_tx import Transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    meta TEXT NOT NULL DEFAULT '{}',
    persona TEXT
);
CREATE TABLE IF NOT EXISTS turns (
    id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    status TEXT NOT NULL CHECK (status IN ('open', 'done', 'cancelled', 'error')),
    error TEXT NOT NULL DEFAULT '',
    usage TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    finished_at REAL,
    superseded_at REAL
);
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    turn_id TEXT NOT NULL REFERENCES turns(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'tool_call', 'tool_result')),
    content TEXT NOT NULL,
    raw TEXT,
    context TEXT NOT NULL DEFAULT '',
    tool_name TEXT,
    tool_args TEXT,
    tool_call_id TEXT,
    ok INTEGER,
    created_at REAL NOT NULL,
    meta TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS messages_by_conversation ON messages(conversation_id, seq);
CREATE INDEX IF NOT EXISTS turns_by_conversation ON turns(conversation_id, created_at);
"""

# Columns added after the first release: (table, column, declaration). Older databases get them in place.
MIGRATIONS = [
    ("conversations", "persona", "TEXT"),
    ("turns", "superseded_at", "REAL"),
]


@dataclass
class Conversation:
    """A conversation's summary row."""

    id: str
    title: str
    created_at: float
    updated_at: float
    message_count: int = 0
    persona: str | None = None  # the persona's name; None means the default persona


@dataclass
class Message:
    """One stored message; `raw` is exactly what the model saw or wrote, when it differs from `content`."""

    id: str
    conversation_id: str
    turn_id: str
    role: str
    content: str
    raw: str | None
    context: str
    tool_name: str | None
    tool_args: dict[str, Any] | None
    tool_call_id: str | None
    ok: bool | None
    created_at: float
    turn_status: str = "done"
    meta: dict[str, Any] = field(default_factory=dict)
    superseded: bool = False  # replaced by a regenerated answer or an edited message; hidden by default


class ConversationNotFound(KeyError):
    """No conversation has that id (or id prefix)."""


class MessageNotFound(KeyError):
    """No message has that id (or id prefix)."""


class HistoryStore:
    """Thread-safe access to the history database; every write is its own durable transaction."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None,
                                   timeout=10.0)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        with self._lock:
            self._db.executescript(SCHEMA)  # executescript manages its own transaction
        self._migrate()
        self._recover_open_turns()

    def _tx(self):
        return Transaction(self._db, self._lock)

    def _migrate(self) -> None:
        """Add the columns newer versions need to a database made by an older one (data kept as is)."""
        with self._tx():  # BEGIN IMMEDIATE: two processes opening an old database do not both add a column
            for table, column, decl in MIGRATIONS:
                have = {r["name"] for r in self._db.execute(f"PRAGMA table_info({table})")}
                if column not in have:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")

    def _recover_open_turns(self) -> None:
        """Turns left open by a crash are marked as errors, so they are shown but never replayed."""
        with self._tx():
            self._db.execute("UPDATE turns SET status='error', error='interrupted (the app stopped "
                             "during this turn)', finished_at=? WHERE status='open'", (time.time(),))

    # conversations
    def create_conversation(self, title: str = "New conversation", persona: str | None = None) -> str:
        cid = uuid.uuid4().hex
        now = time.time()
        with self._tx():
            self._db.execute("INSERT INTO conversations(id, title, created_at, updated_at, persona) "
                             "VALUES (?,?,?,?,?)", (cid, title, now, now, persona))
        return cid

    def set_persona(self, cid: str, persona: str | None) -> None:
        """Record which persona a conversation talks to (None: the default one)."""
        with self._tx():
            cur = self._db.execute("UPDATE conversations SET persona=? WHERE id=?", (persona, cid))
        if cur.rowcount == 0:
            raise ConversationNotFound(cid)

    def rename_persona(self, old: str, new: str | None) -> int:
        """Point every conversation of persona `old` at `new` (None: back to the default); returns how many."""
        with self._tx():
            return self._db.execute("UPDATE conversations SET persona=? WHERE persona=?", (new, old)).rowcount

    def resolve_id(self, id_or_prefix: str) -> str:
        """Accept a full id or a unique prefix of at least 4 characters."""
        with self._lock:
            rows = self._db.execute("SELECT id FROM conversations WHERE id LIKE ? LIMIT 2",
                                    (id_or_prefix.replace("%", "").replace("_", "") + "%",)).fetchall()
        if len(id_or_prefix) < 4 or len(rows) != 1:
            raise ConversationNotFound(f"no single conversation matches {id_or_prefix!r}")
        return rows[0]["id"]

    def list_conversations(self, search: str | None = None, limit: int = 200) -> list[Conversation]:
        sql = ("SELECT c.*, (SELECT COUNT(*) FROM messages m JOIN turns t ON t.id=m.turn_id WHERE "
               "m.conversation_id=c.id AND t.superseded_at IS NULL AND m.role IN ('user','assistant')) AS n "
               "FROM conversations c")
        args: list[Any] = []
        if search:
            # The user's text is matched literally: '%' and '_' are not wildcards.
            literal = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            sql += (" WHERE c.title LIKE ? ESCAPE '\\' OR EXISTS (SELECT 1 FROM messages m JOIN turns t ON "
                    "t.id=m.turn_id WHERE m.conversation_id=c.id AND t.superseded_at IS NULL AND "
                    "m.content LIKE ? ESCAPE '\\')")  # hidden (superseded) text is not matched
            args += [f"%{literal}%", f"%{literal}%"]
        sql += " ORDER BY c.updated_at DESC LIMIT ?"
        args.append(limit)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [Conversation(r["id"], r["title"], r["created_at"], r["updated_at"], r["n"], r["persona"])
                for r in rows]

    def get_conversation(self, cid: str) -> Conversation:
        with self._lock:
            row = self._db.execute("SELECT * FROM conversations WHERE id=?", (cid,)).fetchone()
        if row is None:
            raise ConversationNotFound(cid)
        return Conversation(row["id"], row["title"], row["created_at"], row["updated_at"],
                            persona=row["persona"])

    def rename_conversation(self, cid: str, title: str) -> None:
        with self._tx():
            cur = self._db.execute("UPDATE conversations SET title=?, updated_at=? WHERE id=?",
                                   (title.strip() or "Untitled", time.time(), cid))
        if cur.rowcount == 0:
            raise ConversationNotFound(cid)

    def delete_conversation(self, cid: str) -> None:
        with self._tx():
            cur = self._db.execute("DELETE FROM conversations WHERE id=?", (cid,))
        if cur.rowcount == 0:
            raise ConversationNotFound(cid)

    # turns and messages
    def begin_turn(self, cid: str, user_text: str, context: str = "") -> tuple[str, str]:
        """Store the user's message at once (it is never lost); returns (turn_id, message_id)."""
        tid, mid = uuid.uuid4().hex, uuid.uuid4().hex
        now = time.time()
        with self._tx():
            row = self._db.execute("SELECT title, (SELECT COUNT(*) FROM messages WHERE conversation_id=?) "
                                   "AS n FROM conversations WHERE id=?", (cid, cid)).fetchone()
            if row is None:
                raise ConversationNotFound(cid)
            self._db.execute("INSERT INTO turns(id, conversation_id, status, created_at) VALUES (?,?,'open',?)",
                             (tid, cid, now))
            self._db.execute("INSERT INTO messages(id, conversation_id, turn_id, role, content, context, "
                             "created_at) VALUES (?,?,?,?,?,?,?)", (mid, cid, tid, "user", user_text, context, now))
            title = row["title"]
            if row["n"] == 0 and title == "New conversation":
                title = _title_from(user_text)
            self._db.execute("UPDATE conversations SET updated_at=?, title=? WHERE id=?", (now, title, cid))
        return tid, mid

    def add_message(self, cid: str, tid: str, role: str, content: str, *, raw: str | None = None,
                    tool_name: str | None = None, tool_args: dict[str, Any] | None = None,
                    tool_call_id: str | None = None, ok: bool | None = None,
                    meta: dict[str, Any] | None = None) -> str:
        mid = uuid.uuid4().hex
        with self._tx():
            self._db.execute(
                "INSERT INTO messages(id, conversation_id, turn_id, role, content, raw, tool_name, tool_args, "
                "tool_call_id, ok, created_at, meta) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (mid, cid, tid, role, content, raw, tool_name,
                 json.dumps(tool_args, ensure_ascii=False) if tool_args is not None else None,
                 tool_call_id, None if ok is None else int(ok), time.time(), json.dumps(meta or {})))
        return mid

    def finish_turn(self, tid: str, status: str, *, error: str = "", usage: dict[str, Any] | None = None) -> None:
        with self._tx():
            self._db.execute("UPDATE turns SET status=?, error=?, usage=?, finished_at=? WHERE id=?",
                             (status, error, json.dumps(usage or {}), time.time(), tid))

    def messages(self, cid: str, *, completed_only: bool = False,
                 include_superseded: bool = False) -> list[Message]:
        """Messages in order; `completed_only` keeps turns that finished (what the model is shown).

        Superseded turns (regenerated or edited away) are left out unless `include_superseded`.
        """
        sql = _MESSAGE_SELECT + " WHERE m.conversation_id=?"
        if completed_only:
            sql += " AND t.status='done'"
        if not include_superseded:
            sql += " AND t.superseded_at IS NULL"
        sql += " ORDER BY m.seq"
        with self._lock:
            rows = self._db.execute(sql, (cid,)).fetchall()
        return [_message(r) for r in rows]

    def get_message(self, message_id: str) -> Message:
        """One message by id (superseded ones too); raises MessageNotFound."""
        with self._lock:
            row = self._db.execute(_MESSAGE_SELECT + " WHERE m.id=?", (message_id,)).fetchone()
        if row is None:
            raise MessageNotFound(message_id)
        return _message(row)

    def resolve_message_id(self, id_or_prefix: str) -> str:
        """Accept a full message id or a unique prefix of at least 4 characters."""
        with self._lock:
            rows = self._db.execute("SELECT id FROM messages WHERE id LIKE ? LIMIT 2",
                                    (id_or_prefix.replace("%", "").replace("_", "") + "%",)).fetchall()
        if len(id_or_prefix) < 4 or len(rows) != 1:
            raise MessageNotFound(f"no single message matches {id_or_prefix!r}")
        return rows[0]["id"]

    def prompt_for(self, message_id: str) -> str:
        """The user's message that a message answers (the user message of its turn), or ''."""
        with self._lock:
            row = self._db.execute("SELECT u.content FROM messages a JOIN messages u ON u.turn_id=a.turn_id "
                                   "AND u.role='user' WHERE a.id=? ORDER BY u.seq LIMIT 1",
                                   (message_id,)).fetchone()
        return row["content"] if row else ""

    def supersede_from(self, cid: str, message_id: str) -> int:
        """Hide the turn holding `message_id` and every later turn of the conversation; returns how many."""
        now = time.time()
        with self._tx():
            row = self._db.execute("SELECT MIN(s.seq) AS start FROM messages m JOIN messages s "
                                   "ON s.turn_id=m.turn_id WHERE m.id=? AND m.conversation_id=?",
                                   (message_id, cid)).fetchone()
            if row is None or row["start"] is None:
                raise MessageNotFound(message_id)
            cur = self._db.execute(
                "UPDATE turns SET superseded_at=? WHERE superseded_at IS NULL AND id IN "
                "(SELECT DISTINCT turn_id FROM messages WHERE conversation_id=? AND seq>=?)",
                (now, cid, row["start"]))
            self._db.execute("UPDATE conversations SET updated_at=? WHERE id=?", (now, cid))
        return cur.rowcount

    def turn_status(self, tid: str) -> str:
        with self._lock:
            row = self._db.execute("SELECT status FROM turns WHERE id=?", (tid,)).fetchone()
        return row["status"] if row else ""

    def close(self) -> None:
        with self._lock:
            self._db.close()


_MESSAGE_SELECT = ("SELECT m.*, t.status AS turn_status, t.superseded_at AS superseded_at "
                   "FROM messages m JOIN turns t ON t.id=m.turn_id")


def _message(r: sqlite3.Row) -> Message:
    return Message(id=r["id"], conversation_id=r["conversation_id"], turn_id=r["turn_id"], role=r["role"],
                   content=r["content"], raw=r["raw"], context=r["context"], tool_name=r["tool_name"],
                   tool_args=json.loads(r["tool_args"]) if r["tool_args"] else None,
                   tool_call_id=r["tool_call_id"], ok=None if r["ok"] is None else bool(r["ok"]),
                   created_at=r["created_at"], turn_status=r["turn_status"],
                   meta=json.loads(r["meta"] or "{}"), superseded=r["superseded_at"] is not None)


def _title_from(text: str) -> str:
    line = " ".join(text.split())
    return (line[:57] + "...") if len(line) > 60 else (line or "New conversation")
