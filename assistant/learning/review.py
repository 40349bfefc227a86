"""The review queue: answers the model was least sure of, offered to the user for a rating or a correction first."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import asdict, dataclass
from typing import Any

from assistant.feedback.store import FeedbackStore
from assistant.history.store import HistoryStore


@dataclass
class ReviewItem:
    """One measured answer; `uncertainty` is its mean token entropy (nats), higher means less sure."""

    message_id: str
    conversation_id: str
    prompt: str
    answer: str
    uncertainty: float
    max_entropy: float
    tokens: int
    created_at: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# Visible (not superseded), finished answers that carry a measurement. Deleted conversations are gone
# from the table (ON DELETE CASCADE), so they need no test here.
_MEASURED = """
SELECT a.id, a.conversation_id, a.content, a.created_at,
       json_extract(a.meta, '$.uncertainty.mean_entropy') AS mean_entropy,
       json_extract(a.meta, '$.uncertainty.max_entropy') AS max_entropy,
       json_extract(a.meta, '$.uncertainty.tokens') AS tokens
FROM messages a JOIN turns t ON t.id = a.turn_id
WHERE a.role = 'assistant' AND t.status IN ('done', 'cancelled') AND t.superseded_at IS NULL
  AND a.meta LIKE '%"uncertainty"%'
  AND json_extract(a.meta, '$.uncertainty.mean_entropy') IS NOT NULL
ORDER BY mean_entropy DESC, a.created_at DESC, a.seq DESC
"""

# The user's message of an answer's turn. Walking back from the answer along (conversation_id, seq) stops
# after a few rows (the turn's tool calls); messages has no index on turn_id.
_PROMPT = """
SELECT u.content FROM messages u
WHERE u.conversation_id = ? AND u.seq < (SELECT seq FROM messages WHERE id = ?)
  AND u.turn_id = (SELECT turn_id FROM messages WHERE id = ?) AND u.role = 'user'
ORDER BY u.seq DESC LIMIT 1
"""


class ReviewQueue:
    """Unreviewed answers ranked by how unsure the model was (most unsure first).

    Reads the history database through its own read-only connection, so a long listing never holds the
    history store's lock while a turn is being written.
    """

    def __init__(self, history: HistoryStore, feedback: FeedbackStore) -> None:
        self.history = history
        self.feedback = feedback

    def pending(self, limit: int | None = 20) -> list[ReviewItem]:
        """Measured answers not yet rated or corrected, most uncertain first (ties: newest first)."""
        if limit is not None and limit < 0:
            raise ValueError("The limit must be 0 or more.")
        reviewed = self._reviewed()
        with self._read() as db:
            rows = [r for r in db.execute(_MEASURED) if r["id"] not in reviewed]
            if limit is not None:
                rows = rows[:limit]
            return [self._item(db, r) for r in rows]

    def measured(self) -> list[ReviewItem]:
        """Every measured answer, reviewed or not (for choosing training examples), most uncertain first."""
        with self._read() as db:
            return [self._item(db, r) for r in db.execute(_MEASURED).fetchall()]

    def count_pending(self) -> int:
        """How many measured answers wait for a review."""
        reviewed = self._reviewed()
        with self._read() as db:
            return sum(1 for r in db.execute(_MEASURED) if r["id"] not in reviewed)

    def _reviewed(self) -> set[str]:
        """Ids of answers the user already rated or corrected."""
        return {f.message_id for kind in ("rating", "correction") for f in self.feedback.list(kind)}

    def _read(self) -> closing[sqlite3.Connection]:
        db = sqlite3.connect(str(self.history.path), timeout=10.0)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA query_only=ON")  # a reader: it can never change the user's history
        return closing(db)

    @staticmethod
    def _item(db: sqlite3.Connection, r: sqlite3.Row) -> ReviewItem:
        prompt = db.execute(_PROMPT, (r["conversation_id"], r["id"], r["id"])).fetchone()
        return ReviewItem(message_id=r["id"], conversation_id=r["conversation_id"],
                          prompt=prompt[0] if prompt else "", answer=r["content"],
                          uncertainty=float(r["mean_entropy"]), max_entropy=float(r["max_entropy"] or 0.0),
                          tokens=int(r["tokens"] or 0), created_at=float(r["created_at"]))
