"""Feedback in SQLite (WAL, synchronous FULL): ratings, corrected answers and conversations marked for learning.

Each entry copies the prompt and the answer it is about, so an export stands alone even after the
conversation is deleted.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from assistant.sqlite_tx import Transaction

KINDS = ("rating", "correction", "conversation")

SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('rating', 'correction', 'conversation')),
    message_id TEXT NOT NULL DEFAULT '',
    conversation_id TEXT NOT NULL DEFAULT '',
    rating INTEGER NOT NULL DEFAULT 0,
    prompt TEXT NOT NULL DEFAULT '',
    original TEXT NOT NULL DEFAULT '',
    corrected TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL
);
-- One rating and one correction per message, one mark per conversation: giving it again replaces it.
CREATE UNIQUE INDEX IF NOT EXISTS feedback_one_per_message ON feedback(kind, message_id)
    WHERE kind IN ('rating', 'correction');
CREATE UNIQUE INDEX IF NOT EXISTS feedback_one_per_conversation ON feedback(conversation_id)
    WHERE kind = 'conversation';
CREATE INDEX IF NOT EXISTS feedback_by_time ON feedback(created_at);
"""


@dataclass
class Feedback:
    """One piece of feedback; `prompt`/`original` are copies of the user's message and the model's answer."""

    id: str
    kind: str
    message_id: str
    conversation_id: str
    rating: int
    prompt: str
    original: str
    corrected: str
    note: str
    created_at: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class FeedbackError(ValueError):
    """Feedback that cannot be stored (unknown message, a user message rated, an empty correction...)."""


class FeedbackNotFound(FeedbackError, KeyError):
    """No feedback entry has that id (or id prefix)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class FeedbackStore:
    """Thread-safe access to feedback.db; every write is its own durable transaction.

    With a `history` (HistoryStore) it looks up the prompt and answer of a rated message itself.
    """

    def __init__(self, path: Path, history: Any = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.history = history
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=10.0)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        with self._lock:
            self._db.executescript(SCHEMA)

    # giving feedback
    def rate(self, message_id: str, conversation_id: str = "", rating: int = 1, note: str = "") -> Feedback | None:
        """Thumbs up (+1) or down (-1) on an answer; rating again replaces it, 0 clears it (returns None)."""
        if rating not in (-1, 0, 1):
            raise FeedbackError("A rating is +1 (good), -1 (bad) or 0 (clear).")
        if rating == 0:
            with self._tx():
                self._db.execute("DELETE FROM feedback WHERE kind='rating' AND message_id=?", (message_id,))
            return None
        conversation_id, prompt, answer = self._exchange(message_id, conversation_id)
        return self._upsert("rating", message_id, conversation_id, rating=rating, prompt=prompt,
                            original=answer, note=note.strip())

    def correct(self, message_id: str, conversation_id: str = "", prompt: str = "", original: str = "",
                corrected: str = "", note: str = "") -> Feedback:
        """Record the right answer the user wrote for a wrong one (the "wrong-answer notebook")."""
        if not corrected.strip():
            raise FeedbackError("The corrected answer is empty.")
        if not (prompt and original) or not conversation_id:
            known_cid, known_prompt, known_answer = self._exchange(message_id, conversation_id)
            conversation_id = conversation_id or known_cid
            prompt, original = prompt or known_prompt, original or known_answer
        return self._upsert("correction", message_id, conversation_id, prompt=prompt, original=original,
                            corrected=corrected.strip(), note=note.strip())

    def mark_conversation(self, conversation_id: str, for_learning: bool = True, note: str = "") -> Feedback | None:
        """Mark (or unmark) a whole conversation as a good example to learn from."""
        if not for_learning:
            with self._tx():
                self._db.execute("DELETE FROM feedback WHERE kind='conversation' AND conversation_id=?",
                                 (conversation_id,))
            return None
        if self.history is not None:
            from assistant.history.store import ConversationNotFound

            try:
                self.history.get_conversation(conversation_id)
            except ConversationNotFound:
                raise FeedbackError(f"There is no conversation {conversation_id!r}.") from None
        return self._upsert("conversation", "", conversation_id, note=note.strip())

    # reading
    def for_message(self, message_id: str) -> dict[str, Any] | None:
        """{"rating", "note", "correction", "rating_id", "correction_id"} for a message, or None without any."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM feedback WHERE message_id=? AND kind IN ('rating','correction')",
                                    (message_id,)).fetchall()
        return _summary(rows)

    def for_conversation(self, conversation_id: str) -> dict[str, dict[str, Any]]:
        """for_message() of every message of a conversation that has feedback, keyed by message id."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM feedback WHERE conversation_id=? AND kind IN "
                                    "('rating','correction')", (conversation_id,)).fetchall()
        by_message: dict[str, list[sqlite3.Row]] = {}
        for r in rows:
            by_message.setdefault(r["message_id"], []).append(r)
        return {mid: _summary(group) for mid, group in by_message.items()}  # type: ignore[misc]

    def is_marked(self, conversation_id: str) -> bool:
        with self._lock:
            row = self._db.execute("SELECT 1 FROM feedback WHERE kind='conversation' AND conversation_id=?",
                                   (conversation_id,)).fetchone()
        return row is not None

    def list(self, kind: str | None = None, limit: int | None = None) -> list[Feedback]:
        """Feedback, newest first; `kind` is "rating", "correction" or "conversation"."""
        if kind is not None and kind not in KINDS:
            raise FeedbackError(f"Unknown kind {kind!r}: use one of {', '.join(KINDS)}.")
        sql, args = "SELECT * FROM feedback", []
        if kind:
            sql += " WHERE kind=?"
            args.append(kind)
        sql += " ORDER BY created_at DESC, rowid DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [_feedback(r) for r in rows]

    def get(self, feedback_id: str) -> Feedback:
        """One entry by id or a unique prefix of at least 4 characters."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM feedback WHERE id LIKE ? LIMIT 2",
                                    (feedback_id.replace("%", "").replace("_", "") + "%",)).fetchall()
        if len(rows) != 1 or (len(feedback_id) < 4 and rows[0]["id"] != feedback_id):
            raise FeedbackNotFound(f"No single feedback entry matches {feedback_id!r}.")
        return _feedback(rows[0])

    def delete(self, feedback_id: str) -> None:
        entry = self.get(feedback_id)
        with self._tx():
            self._db.execute("DELETE FROM feedback WHERE id=?", (entry.id,))

    # export
    def export(self, path: Path | str, fmt: str = "jsonl") -> int:
        """Write prompt/answer records for training (JSON lines, or one JSON list); returns how many."""
        if fmt not in ("jsonl", "json"):
            raise FeedbackError(f"Unknown export format {fmt!r}: use jsonl or json.")
        records = list(self.records())
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                if fmt == "json":
                    json.dump(records, f, ensure_ascii=False, indent=2)
                else:
                    for record in records:
                        f.write(json.dumps(record, ensure_ascii=False) + "\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)  # a half-written export never replaces a good one
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return len(records)

    def import_records(self, records: Iterable[dict[str, Any]]) -> int:
        """Add exported records (this store's export format) back: ratings and corrections of exchanges that
        need not be in this computer's history. Importing the same record again replaces it."""
        rows: list[tuple[str, str, str, dict[str, Any]]] = []
        for n, r in enumerate(records, 1):  # check everything first: a bad record imports nothing
            if not isinstance(r, dict):
                raise FeedbackError(f"Record {n} is not an object.")
            kind = r.get("kind")
            prompt, answer = str(r.get("prompt") or ""), str(r.get("answer") or "")
            corrected = str(r.get("corrected") or "")
            if kind not in ("rating", "correction") or not prompt.strip():
                raise FeedbackError(f"Record {n} is not a rating or correction with a prompt "
                                    "(conversations are imported as their exchanges).")
            digest = hashlib.sha1(f"{prompt}\0{answer}".encode("utf-8", "replace")).hexdigest()[:20]
            message_id = str(r.get("message_id") or "") or f"import:{digest}"
            values: dict[str, Any] = {"prompt": prompt, "original": answer, "note": str(r.get("note") or "")}
            if kind == "rating":
                if r.get("rating") not in (-1, 1) or not answer.strip():
                    raise FeedbackError(f"Record {n}: a rating needs an answer and a rating of 1 or -1.")
                values["rating"] = r["rating"]
            elif not corrected.strip():
                raise FeedbackError(f"Record {n}: a correction needs the corrected answer.")
            else:
                values["corrected"] = corrected.strip()
            rows.append((kind, message_id, str(r.get("conversation_id") or ""), values))
        for kind, message_id, conversation_id, values in rows:
            self._upsert(kind, message_id, conversation_id, **values)
        return len(rows)

    def records(self) -> Iterator[dict[str, Any]]:
        """Training records, oldest first: `messages` holds the exchange to learn (the corrected answer when
        there is one); `rating` is +1/-1 for ratings, `rejected` the wrong answer of a correction."""
        for f in reversed(self.list()):
            if f.kind == "conversation":
                yield from self._conversation_records(f)
                continue
            target = f.corrected if f.kind == "correction" else f.original
            if not (f.prompt.strip() and target.strip()):
                continue  # nothing a trainer could use
            yield {"kind": f.kind, "prompt": f.prompt, "answer": f.original,
                   "rating": f.rating if f.kind == "rating" else None,
                   "corrected": f.corrected if f.kind == "correction" else None,
                   "rejected": f.original if f.kind == "correction" else None,
                   "messages": [{"role": "user", "content": f.prompt}, {"role": "assistant", "content": target}],
                   "note": f.note, "message_id": f.message_id, "conversation_id": f.conversation_id,
                   "feedback_id": f.id, "created_at": f.created_at}

    def _conversation_records(self, mark: Feedback) -> Iterator[dict[str, Any]]:
        if self.history is None:
            return
        messages: list[dict[str, str]] = []
        for m in self.history.messages(mark.conversation_id, completed_only=True):
            if m.role == "user":
                messages.append({"role": "user", "content": m.content})
            elif m.role == "assistant" and messages and messages[-1]["role"] == "user" and m.content.strip():
                messages.append({"role": "assistant", "content": m.content})
        if messages and messages[-1]["role"] == "user":
            messages.pop()
        if messages:
            yield {"kind": "conversation", "prompt": messages[-2]["content"], "answer": messages[-1]["content"],
                   "rating": None, "corrected": None, "rejected": None, "messages": messages, "note": mark.note,
                   "message_id": "", "conversation_id": mark.conversation_id, "feedback_id": mark.id,
                   "created_at": mark.created_at}

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # internals
    def _exchange(self, message_id: str, conversation_id: str) -> tuple[str, str, str]:
        """(conversation id, prompt, answer) of an answer, from the history store when there is one."""
        if self.history is None:
            return conversation_id, "", ""
        from assistant.history.store import MessageNotFound

        try:
            message = self.history.get_message(message_id)
        except MessageNotFound:
            raise FeedbackError(f"There is no message {message_id!r}.") from None
        if message.role != "assistant":
            raise FeedbackError("Only Biseo's answers can be rated or corrected, not your own messages.")
        if conversation_id and conversation_id != message.conversation_id:
            raise FeedbackError("That message belongs to another conversation.")
        return message.conversation_id, self.history.prompt_for(message_id), message.content

    def _upsert(self, kind: str, message_id: str, conversation_id: str, **values: Any) -> Feedback:
        now = time.time()
        key, arg = ("conversation_id", conversation_id) if kind == "conversation" else ("message_id", message_id)
        with self._tx():
            row = self._db.execute(f"SELECT id FROM feedback WHERE kind=? AND {key}=?", (kind, arg)).fetchone()
            fid = row["id"] if row else uuid.uuid4().hex
            self._db.execute("DELETE FROM feedback WHERE id=?", (fid,))
            self._db.execute(
                "INSERT INTO feedback(id, kind, message_id, conversation_id, rating, prompt, original, corrected, "
                "note, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (fid, kind, message_id, conversation_id, values.get("rating", 0), values.get("prompt", ""),
                 values.get("original", ""), values.get("corrected", ""), values.get("note", ""), now))
        return self.get(fid)

    def _tx(self):
        return Transaction(self._db, self._lock)


def _feedback(r: sqlite3.Row) -> Feedback:
    return Feedback(id=r["id"], kind=r["kind"], message_id=r["message_id"], conversation_id=r["conversation_id"],
                    rating=r["rating"], prompt=r["prompt"], original=r["original"], corrected=r["corrected"],
                    note=r["note"], created_at=r["created_at"])


def _summary(rows: list[sqlite3.Row]) -> dict[str, Any] | None:
    if not rows:
        return None
    out: dict[str, Any] = {"rating": None, "note": "", "correction": None, "rating_id": None,
                           "correction_id": None}
    for r in rows:
        if r["kind"] == "rating":
            out.update(rating=r["rating"], note=r["note"], rating_id=r["id"])
        else:
            out.update(correction=r["corrected"], correction_id=r["id"])
    return out


