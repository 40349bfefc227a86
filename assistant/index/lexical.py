"""Keyword search (BM25) over one named collection in an SQLite FTS5 table; any user text is a safe query."""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from assistant.index.base import IndexDamaged, IndexUnavailable

# porter: "birthdays" finds "birthday" (English stemming, harmless on other scripts); unicode61 splits on
# Unicode letter/number classes, so accented, Cyrillic, Hangul words are tokens and emoji/punctuation are
# not; remove_diacritics 2 makes "cafe" find "café" (2 also folds the diacritics the older 1 missed).
TOKENIZER = "porter unicode61 remove_diacritics 2"
MAX_QUERY_TERMS = 64
_NAME = re.compile(r"^[A-Za-z0-9_]{1,48}$")
# Word characters as unicode61 sees them (letters, digits, private use); an optional '*' asks for a prefix.
_TERM = re.compile(r"(\w+)(\*?)")


def fts_query(text: str) -> str:
    """User text as an FTS5 expression: each word quoted (operators lose their meaning), OR-ed together.

    'word*' keeps its prefix meaning; everything else (quotes, AND, -, :, parentheses, emoji) is only a
    separator. Empty when the text has no words.
    """
    terms: list[str] = []
    seen: set[str] = set()
    for word, star in _TERM.findall(_plain(text).replace("_", " ")):
        term = f'"{word.lower()}"' + ("*" if star else "")
        if term not in seen:
            seen.add(term)
            terms.append(term)
        if len(terms) == MAX_QUERY_TERMS:  # a pasted page would make the query slow, not better
            break
    return " OR ".join(terms)


class LexicalIndex:
    """BM25 keyword index for one collection; lives in its own or a shared SQLite file (WAL)."""

    def __init__(self, db: str | os.PathLike[str] | sqlite3.Connection, collection: str) -> None:
        if not _NAME.match(collection):
            raise ValueError(f"collection name {collection!r} must be 1-48 letters, digits or _")
        self.collection = collection
        self._ids = f"lex_{collection}_ids"
        self._fts = f"lex_{collection}_fts"
        self._mutex = threading.RLock()
        self._own = not isinstance(db, sqlite3.Connection)
        if isinstance(db, sqlite3.Connection):
            self._conn: sqlite3.Connection | None = db
            self.path = None
        else:
            self.path = Path(db)
            self._conn = open_index_db(self.path)
        try:
            self._create()
        except IndexUnavailable:
            self.close()
            raise
        except sqlite3.DatabaseError as exc:
            self.close()
            raise IndexDamaged(f"the keyword index in {self.path or 'the database'} cannot be opened ({exc}); "
                               f"it will be rebuilt") from exc

    def _create(self) -> None:
        # A savepoint, not `with conn`, which would commit a transaction a shared connection's owner has open.
        with self._mutex, self._write("create"):
            self._create_tables()

    def _create_tables(self) -> None:
        self.conn.execute(f'CREATE TABLE IF NOT EXISTS "{self._ids}" '
                          f"(n INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE)")
        # The FTS rowid is the id table's n, so deleting by id is an index lookup, not a scan.
        self.conn.execute(f'CREATE VIRTUAL TABLE IF NOT EXISTS "{self._fts}" USING fts5(body, '
                          f"tokenize = '{TOKENIZER}')")

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise IndexUnavailable(f"keyword index {self.collection!r} is closed")
        return self._conn

    def upsert(self, ids: Sequence[str], texts: Sequence[str]) -> None:
        """Add or replace items by id, all or nothing."""
        if len(ids) != len(texts):
            raise ValueError("upsert needs one text per id")
        rows = [(str(i), _plain(t)) for i, t in zip(ids, texts)]
        with self._mutex, self._write("write to"):
            for item_id, text in rows:
                self.conn.execute(f'INSERT OR IGNORE INTO "{self._ids}"(id) VALUES (?)', (item_id,))
                (n,) = self.conn.execute(f'SELECT n FROM "{self._ids}" WHERE id = ?', (item_id,)).fetchone()
                self.conn.execute(f'DELETE FROM "{self._fts}" WHERE rowid = ?', (n,))
                self.conn.execute(f'INSERT INTO "{self._fts}"(rowid, body) VALUES (?, ?)', (n, text))

    def delete(self, ids: Sequence[str]) -> None:
        """Remove items; unknown ids are ignored."""
        with self._mutex, self._write("delete from"):
            for item_id in ids:
                row = self.conn.execute(f'SELECT n FROM "{self._ids}" WHERE id = ?', (str(item_id),)).fetchone()
                if row:
                    self.conn.execute(f'DELETE FROM "{self._fts}" WHERE rowid = ?', row)
                    self.conn.execute(f'DELETE FROM "{self._ids}" WHERE n = ?', row)

    def search(self, query: str, k: int = 10) -> list[tuple[str, float]]:
        """The `k` best matches as (id, score), best first; score is -bm25 (higher is better, > 0)."""
        expression = fts_query(query)
        if not expression or k <= 0:
            return []
        sql = (f'SELECT i.id, -bm25("{self._fts}") FROM "{self._fts}" AS f JOIN "{self._ids}" AS i '
               f'ON i.n = f.rowid WHERE "{self._fts}" MATCH ? ORDER BY rank LIMIT ?')
        with self._mutex:
            try:
                rows = self.conn.execute(sql, (expression, int(k))).fetchall()
            except sqlite3.DatabaseError as exc:
                raise self._damaged("search", exc) from exc
        return [(item_id, float(score)) for item_id, score in rows]

    def count(self) -> int:
        """How many items the collection holds."""
        with self._mutex:
            try:
                return int(self.conn.execute(f'SELECT count(*) FROM "{self._ids}"').fetchone()[0])
            except sqlite3.DatabaseError as exc:
                raise self._damaged("count", exc) from exc

    def ids(self) -> list[str]:
        """Every id in the collection."""
        with self._mutex:
            return [row[0] for row in self.conn.execute(f'SELECT id FROM "{self._ids}" ORDER BY n')]

    def reset(self) -> None:
        """Drop every item of this collection (other collections in the file are untouched)."""
        with self._mutex, self._write("reset"):
            self.conn.execute(f'DROP TABLE IF EXISTS "{self._fts}"')
            self.conn.execute(f'DROP TABLE IF EXISTS "{self._ids}"')
            self._create_tables()

    def check(self) -> None:
        """Raise IndexDamaged when the FTS index disagrees with its rows or the file is corrupt."""
        with self._mutex:
            try:
                self.conn.execute(f'INSERT INTO "{self._fts}"("{self._fts}") VALUES (\'integrity-check\')')
                ids = self.conn.execute(f'SELECT count(*) FROM "{self._ids}"').fetchone()[0]
                docs = self.conn.execute(f'SELECT count(*) FROM "{self._fts}"').fetchone()[0]
            except sqlite3.DatabaseError as exc:
                raise self._damaged("check", exc) from exc
        if ids != docs:
            raise IndexDamaged(f"keyword index {self.collection!r} has {ids} ids but {docs} texts; rebuild it")

    def close(self) -> None:
        """Close the connection if this index opened it; safe to call twice."""
        conn, self._conn = self._conn, None
        if conn is not None and self._own:
            conn.close()

    def __enter__(self) -> "LexicalIndex":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self, action: str) -> "_Transaction":
        return _Transaction(self, action)

    def _damaged(self, action: str, exc: sqlite3.Error) -> IndexUnavailable:
        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
            return IndexUnavailable(f"keyword index {self.collection!r} is busy ({exc}); try again")
        return IndexDamaged(f"keyword index {self.collection!r} failed to {action} ({exc}); it will be rebuilt")


class _Transaction:
    """A SAVEPOINT around one write: all or nothing, and nestable inside a caller's own transaction.

    On a shared connection the caller may write its source-of-truth row and the index in one commit.
    """

    def __init__(self, index: LexicalIndex, action: str) -> None:
        self.index, self.action = index, action

    def __enter__(self) -> None:
        self.index.conn.execute("SAVEPOINT lexical_write")

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        conn = self.index.conn
        if exc is None:
            conn.execute("RELEASE lexical_write")  # commits unless the caller has a transaction open
            return
        conn.execute("ROLLBACK TO lexical_write")
        conn.execute("RELEASE lexical_write")
        if isinstance(exc, sqlite3.DatabaseError):
            raise self.index._damaged(self.action, exc) from exc


def open_index_db(path: Path, what: str = "keyword index") -> sqlite3.Connection:
    """An index's SQLite file, opened for one owner; damage and permission problems in plain words."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=10, check_same_thread=False, isolation_level=None)
        # WAL: a crash (even kill -9) mid-write loses at most the unfinished transaction.
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn
    except sqlite3.DatabaseError as exc:
        raise IndexDamaged(f"the {what} file {path} cannot be opened ({exc}); it will be rebuilt") from exc
    except OSError as exc:
        raise IndexUnavailable(f"cannot create the {what} file {path}: {exc.strerror or exc}") from exc


def _plain(text: object) -> str:
    """Text SQLite can store: lone surrogates (from undecodable file names) become U+FFFD."""
    return str(text).encode("utf-8", errors="replace").decode("utf-8")
