"""Hybrid search: BM25 keywords and MiniLM meaning over the same items, fused into one ranking."""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from assistant.index.base import Hit, IndexDamaged, IndexItem, IndexUnavailable
from assistant.index.lexical import LexicalIndex, open_index_db
from assistant.index.lock import FolderLock
from assistant.index.ranking import (add_scores, feedback_terms, fuse, keyword_query, matches, query_terms,
                                     search_text)
from assistant.index.vector import VectorIndex, wipe_folder

# Metadata keys for text that is searched with an item but is not its text (hits show only `text`).
# Measured on LoCoMo this is the largest single gain (docs/retrieval.md).
# CONTEXT_KEY: short labels that say what the text is about: a document's title and section, a memory's
# source and date, a chat turn's date. Searched by keywords and by meaning.
CONTEXT_KEY = "context"
# SURROUNDINGS_KEY: the text around the item (the previous turn, the neighbouring paragraph). Searched by
# keywords only: it brings in the words a question uses, but embedding it with the item blurs the
# item's meaning into its neighbour's (measured: fusion then gained under 1 point instead of 2.5).
SURROUNDINGS_KEY = "surroundings"
KEYWORDS_FILE = "keywords.sqlite3"
VECTORS_DIR = "vectors"
# Candidates taken from each side before fusion; deeper pools cost time and did not add recall.
DEFAULT_POOL = 100
# Share of the fused score given to BM25; fixed on 3 LoCoMo conversations, checked on the other 7.
DEFAULT_LEXICAL_WEIGHT = 0.5
# Pseudo-relevance feedback: words shared by the best FEEDBACK_DOCS keyword hits are searched as well,
# their BM25 scaled by FEEDBACK_WEIGHT. Chosen on the same 3 conversations (+0.2 / +0.4 points of
# recall@5 / @10 there); on the other 7 it is a wash (+0.6 / -0.5), see docs/retrieval.md.
FEEDBACK_DOCS = 2
FEEDBACK_TERMS = 5
FEEDBACK_WEIGHT = 0.3
_BATCH = 256


class HybridIndex:
    """One collection searched by keywords and by meaning; implements `SearchIndex`.

    `folder` holds the keyword index and the item table (`keywords.sqlite3`) and, unless `server_url`
    points at a Chroma server, the vectors (`vectors/`). The folder belongs to this object: another
    process (or a second HybridIndex on it) gets IndexLocked. Give each collection its own folder.
    """

    def __init__(self, folder: str | os.PathLike[str], collection: str, embedder: Any,
                 server_url: str | None = None, *, lexical_weight: float = DEFAULT_LEXICAL_WEIGHT,
                 pool: int = DEFAULT_POOL) -> None:
        if not 0.0 <= lexical_weight <= 1.0:
            raise ValueError("lexical_weight must be between 0 and 1")
        self.folder = Path(folder)
        self.collection = collection
        self.embedder = embedder
        self.server_url = server_url
        self.lexical_weight = lexical_weight
        self.pool = max(1, int(pool))
        # Switches for measuring each part (bench/bench_locomo.py ablations); the defaults are the product.
        self.drop_stop_words = True
        self.feedback_docs = FEEDBACK_DOCS
        self._mutex = threading.RLock()
        self._items = f"hyb_{collection}_items"
        self._lock: FolderLock | None = FolderLock(self.folder).acquire()
        self._conn: sqlite3.Connection | None = None
        self._lexical: LexicalIndex | None = None
        self._vector: VectorIndex | None = None
        try:
            self._conn = open_index_db(self.folder / KEYWORDS_FILE, "index")
            self._lexical = LexicalIndex(self._conn, collection)  # validates the collection name
            self._create_items()
            if server_url:
                self._vector = VectorIndex(collection, server_url=server_url, embedder=embedder)
            else:
                self._vector = VectorIndex(collection, folder=self.folder / VECTORS_DIR, embedder=embedder)
        except BaseException:
            self.close()
            raise

    @staticmethod
    def discard(folder: str | os.PathLike[str]) -> None:
        """Delete a (damaged) index's files so a new HybridIndex starts empty; IndexLocked if in use."""
        folder = Path(folder)
        with FolderLock(folder):
            for name in (KEYWORDS_FILE, KEYWORDS_FILE + "-wal", KEYWORDS_FILE + "-shm"):
                (folder / name).unlink(missing_ok=True)
            wipe_folder(folder / VECTORS_DIR)

    # writes

    def upsert(self, items: Sequence[IndexItem]) -> None:
        """Add or replace items by id; a bad item raises ValueError before anything is written."""
        rows = _validate(items)
        if not rows:
            return
        with self._mutex:
            for start in range(0, len(rows), _BATCH):
                self._write(rows[start:start + _BATCH])

    def _write(self, rows: list[tuple[str, str, dict[str, Any]]]) -> None:
        ids = [r[0] for r in rows]
        texts = [search_text(r[1], r[2].get(CONTEXT_KEY)) for r in rows]
        keyword_texts = [_keyword_text(r[1], r[2]) for r in rows]
        vectors = self.embedder.embed(texts)
        # Vectors first: if we die between the two writes, Chroma holds vectors the item table does not
        # know, and search ignores those; the opposite order would leave items unfindable by meaning.
        self._vec.upsert(ids, texts, [_chroma_metadata(r[2]) for r in rows], embeddings=vectors)
        conn = self._db
        try:
            conn.execute("BEGIN IMMEDIATE")
            self._lex.upsert(ids, keyword_texts)
            conn.executemany(f'INSERT OR REPLACE INTO "{self._items}"(id, text, metadata) VALUES (?, ?, ?)',
                             [(r[0], r[1], json.dumps(r[2], ensure_ascii=False)) for r in rows])
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            raise

    def delete(self, ids: Sequence[str]) -> None:
        """Remove items; unknown ids are ignored."""
        if isinstance(ids, str):
            raise TypeError("delete() takes a list of ids")
        ids = list(dict.fromkeys(str(i) for i in ids))
        if not ids:
            return
        with self._mutex:
            conn = self._db
            try:
                # The item table first: once it forgets an id, no search returns it, whatever happens next.
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(f'DELETE FROM "{self._items}" WHERE id = ?', [(i,) for i in ids])
                self._lex.delete(ids)
                conn.execute("COMMIT")
            except BaseException:
                _rollback(conn)
                raise
            self._vec.delete(ids)

    def rebuild(self, items: Iterable[IndexItem]) -> None:
        """Drop everything and index these items again (used when the index is damaged)."""
        with self._mutex:
            self._vec.reset()
            self._lex.reset()
            self._db.execute(f'DELETE FROM "{self._items}"')
            batch: list[IndexItem] = []
            for item in items:
                batch.append(item)
                if len(batch) == _BATCH:
                    self.upsert(batch)
                    batch = []
            self.upsert(batch)

    # reads

    def search(self, query: str, k: int = 10, where: dict[str, Any] | None = None) -> list[Hit]:
        """The best `k` items for the query, best first; `where` filters on metadata equality."""
        if not isinstance(query, str):
            raise TypeError(f"the query must be text, not {type(query).__name__}")
        _check_where(where)
        if k <= 0 or not query.strip():
            return []
        with self._mutex:
            depth = max(k, self.pool)
            terms = keyword_query(query) if self.drop_stop_words else query
            allowed: dict[str, set[str]] = {}
            lexical = self._lexical_hits(terms, depth, where, allowed)
            if self.feedback_docs > 0 and lexical:
                top = [item_id for item_id, _ in lexical[:self.feedback_docs]]
                best = self._load(top)
                extra = feedback_terms(query_terms(query), [_keyword_text(*best[i]) for i in top if i in best],
                                       FEEDBACK_TERMS)
                if extra:
                    lexical = add_scores(lexical, self._lexical_hits(" ".join(extra), depth, where, allowed),
                                         FEEDBACK_WEIGHT)[:depth]
            dense = self._dense_hits(query, depth, where) if self.lexical_weight < 1.0 else []
            ranked = fuse(lexical, dense, self.lexical_weight)
            hits: list[Hit] = []
            stored: dict[str, tuple[str, dict[str, Any]]] = {}
            # Rows are read in small chunks: a vector whose item row is gone (an interrupted write) or
            # that fails the filter is skipped and the next candidate takes its place.
            for start in range(0, len(ranked), k + 10):
                chunk = ranked[start:start + k + 10]
                stored.update(self._load([f.id for f in chunk if f.id not in stored]))
                for fused in chunk:
                    row = stored.get(fused.id)
                    if row is not None and matches(row[1], where):
                        hits.append(Hit(fused.id, fused.score, row[0], row[1], fused.parts))
                if len(hits) >= k:
                    break
            return hits[:k]

    def _lexical_hits(self, terms: str, depth: int, where: Mapping[str, Any] | None,
                      allowed: dict[str, set[str]]) -> list[tuple[str, float]]:
        """BM25 candidates passing `where`, best first; `allowed` caches the filter's ids per search."""
        if not terms.strip():
            return []
        if not where:
            return self._lex.search(terms, depth)
        # The keyword index has no metadata, so ask it for enough hits that `depth` of them pass the
        # filter (sized by how many items the filter keeps), and ask again deeper if that was too few.
        if "ids" not in allowed:
            allowed["ids"] = self._ids_where(where)
        keep = allowed["ids"]
        if not keep:
            return []
        total = self.count()
        fetch = min(total, math.ceil(depth * total / len(keep) * 1.25) + depth)
        while True:
            raw = self._lex.search(terms, fetch)
            passed = [(i, s) for i, s in raw if i in keep]
            if len(passed) >= depth or len(raw) < fetch or fetch >= total:
                return passed[:depth]
            fetch = min(total, fetch * 4)

    def _dense_hits(self, query: str, depth: int, where: Mapping[str, Any] | None) -> list[tuple[str, float]]:
        vector = self.embedder.embed_query(query)
        return self._vec.query(vector, depth, dict(where) if where else None)

    def _load(self, ids: Sequence[str]) -> dict[str, tuple[str, dict[str, Any]]]:
        """id -> (text, metadata) for the ids the item table holds."""
        found: dict[str, tuple[str, dict[str, Any]]] = {}
        for start in range(0, len(ids), 500):
            chunk = list(ids[start:start + 500])
            marks = ",".join("?" * len(chunk))
            try:
                rows = self._db.execute(f'SELECT id, text, metadata FROM "{self._items}" WHERE id IN ({marks})',
                                        chunk).fetchall()
            except sqlite3.DatabaseError as exc:
                raise IndexDamaged(f"the item table of {self.collection!r} is unreadable ({exc}); "
                                   f"it will be rebuilt") from exc
            for item_id, text, meta in rows:
                found[item_id] = (text, json.loads(meta))
        return found

    def _where_sql(self, where: Mapping[str, Any]) -> tuple[str, list[Any]]:
        # Approximate in one case: SQL sees JSON true as 1, so {"n": 1} also keeps flag items; the
        # exact `matches` check on the final hits removes those.
        clauses, params = [], []
        for key, value in where.items():
            clauses.append("json_extract(metadata, ?) = ?")
            params += ['$."' + str(key).replace('"', '""') + '"', value]
        return " AND ".join(clauses), params

    def _ids_where(self, where: Mapping[str, Any]) -> set[str]:
        """Ids of the items whose metadata satisfies `where` (one pass inside SQLite)."""
        condition, params = self._where_sql(where)
        try:
            return {row[0] for row in self._db.execute(f'SELECT id FROM "{self._items}" WHERE {condition}', params)}
        except sqlite3.DatabaseError as exc:
            raise IndexDamaged(f"the item table of {self.collection!r} is unreadable ({exc})") from exc

    def count(self) -> int:
        """How many items the index holds."""
        with self._mutex:
            try:
                return int(self._db.execute(f'SELECT count(*) FROM "{self._items}"').fetchone()[0])
            except sqlite3.DatabaseError as exc:
                raise IndexDamaged(f"the item table of {self.collection!r} is unreadable ({exc})") from exc

    def check(self) -> None:
        """Raise IndexDamaged when a part is unreadable or the parts disagree; then call rebuild()."""
        with self._mutex:
            self._lex.check()
            self._vec.check()
            items, keywords, vectors = self.count(), self._lex.count(), self._vec.count()
            if not items == keywords == vectors:
                raise IndexDamaged(f"index {self.collection!r} is out of step ({items} items, {keywords} "
                                   f"keyword rows, {vectors} vectors); rebuild it")

    def close(self) -> None:
        """Release files, locks and connections; safe to call twice."""
        with self._mutex:
            vector, self._vector = self._vector, None
            lexical, self._lexical = self._lexical, None
            conn, self._conn = self._conn, None
            lock, self._lock = self._lock, None
            if vector is not None:
                vector.close()
            if lexical is not None:
                lexical.close()
            if conn is not None:
                conn.close()
            if lock is not None:
                lock.release()

    def __enter__(self) -> "HybridIndex":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # parts

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise IndexUnavailable(f"index {self.collection!r} is closed")
        return self._conn

    @property
    def _lex(self) -> LexicalIndex:
        if self._lexical is None:
            raise IndexUnavailable(f"index {self.collection!r} is closed")
        return self._lexical

    @property
    def _vec(self) -> VectorIndex:
        if self._vector is None:
            raise IndexUnavailable(f"index {self.collection!r} is closed")
        return self._vector

    def _create_items(self) -> None:
        try:
            self._db.execute(f'CREATE TABLE IF NOT EXISTS "{self._items}" '
                             f"(id TEXT PRIMARY KEY, text TEXT NOT NULL, metadata TEXT NOT NULL)")
        except sqlite3.DatabaseError as exc:
            raise IndexDamaged(f"the index file in {self.folder} is unreadable ({exc}); it will be rebuilt") from exc


def _validate(items: Sequence[IndexItem]) -> list[tuple[str, str, dict[str, Any]]]:
    """(id, text, metadata) per item, the last one winning for a repeated id."""
    if isinstance(items, (str, bytes, IndexItem)):
        raise TypeError("upsert() takes a list of IndexItem")
    rows: dict[str, tuple[str, str, dict[str, Any]]] = {}
    for item in items:
        if not isinstance(item, IndexItem):
            raise TypeError(f"upsert() takes IndexItem objects, not {type(item).__name__}")
        if not isinstance(item.id, str) or not item.id:
            raise ValueError(f"item id must be a non-empty string, got {item.id!r}")
        if not isinstance(item.text, str):
            raise ValueError(f"item {item.id!r}: text must be a string, not {type(item.text).__name__}")
        meta: dict[str, Any] = {}
        for key, value in (item.metadata or {}).items():
            if value is None:
                continue
            if not isinstance(key, str) or not key or key.startswith("$"):
                raise ValueError(f"item {item.id!r}: metadata key {key!r} must be a name not starting with $")
            if not isinstance(value, (str, int, float, bool)) or (isinstance(value, float)
                                                                  and not math.isfinite(value)):
                raise ValueError(f"item {item.id!r}: metadata {key!r} must be a str, int, finite float or bool, "
                                 f"not {value!r}")
            meta[key] = _clean(value) if isinstance(value, str) else value
        for key in (CONTEXT_KEY, SURROUNDINGS_KEY):
            if not isinstance(meta.get(key, ""), str):
                raise ValueError(f"item {item.id!r}: metadata {key!r} must be text")
        rows.pop(item.id, None)
        rows[item.id] = (item.id, _clean(item.text), meta)
    return list(rows.values())


def _keyword_text(text: str, meta: Mapping[str, Any]) -> str:
    """What the keyword index holds for an item: surroundings, context, then the text."""
    return search_text(search_text(text, meta.get(CONTEXT_KEY)), meta.get(SURROUNDINGS_KEY))


def _chroma_metadata(meta: dict[str, Any]) -> dict[str, Any]:
    # Context texts can be long and are never filtered on: keep them out of Chroma's metadata index.
    return {key: value for key, value in meta.items() if key not in (CONTEXT_KEY, SURROUNDINGS_KEY)}


def _check_where(where: Mapping[str, Any] | None) -> None:
    if where is None:
        return
    if not isinstance(where, Mapping):
        raise TypeError("where must be a dict of metadata key -> value")
    for key, value in where.items():
        if not isinstance(key, str) or key.startswith("$"):
            raise ValueError(f"where takes plain metadata equality (key: value), not {key!r}")
        if not isinstance(value, (str, int, float, bool)):
            raise ValueError(f"where value for {key!r} must be a str, int, float or bool")


def _clean(text: str) -> str:
    """Text SQLite and the tokenizer accept: lone surrogates (from odd file names) become U+FFFD."""
    return text.encode("utf-8", errors="replace").decode("utf-8")


def _rollback(conn: sqlite3.Connection) -> None:
    try:
        conn.execute("ROLLBACK")
    except sqlite3.Error:
        pass  # no transaction was open (BEGIN itself failed): nothing to undo
