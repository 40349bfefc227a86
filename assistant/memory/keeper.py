"""Keeps the memory search index in step with the SQLite records: queued changes, checks, rebuilds, reopening."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

from assistant.index.base import IndexDamaged, IndexItem, IndexUnavailable, SearchIndex
from assistant.memory.store import Memory, MemoryStore

log = logging.getLogger("biseo.memory")

IndexFactory = Callable[[], SearchIndex]


class MemoryUnavailable(RuntimeError):
    """Memory search cannot be used right now (another Biseo process holds the index, or it cannot load)."""


class IndexKeeper:
    """Opens the index on first use, repairs it from SQLite, and applies the changes SQLite queued for it."""

    def __init__(self, store: Callable[[], MemoryStore], factory: IndexFactory,
                 discard: Callable[[], None] | None = None) -> None:
        self._store = store
        self._index_factory = factory
        self._discard = discard
        self._index: SearchIndex | None = None
        self._lock = threading.RLock()
        self._sync_threads: list[threading.Thread] = []
        self._closed = False

    @property
    def store(self) -> MemoryStore:
        return self._store()

    @property
    def index(self) -> SearchIndex:
        """The index, opened and brought in step with SQLite on first use (raises MemoryUnavailable)."""
        with self._lock:
            if self._index is None:
                self._index = self._open_index()
            return self._index

    def _open_index(self) -> SearchIndex:
        index = self._new_index()
        try:
            try:
                check = getattr(index, "check", None)
                if check is not None:
                    check()  # unreadable files, or parts out of step after a crash
                self._reconcile(index)
            except IndexDamaged as exc:
                log.warning("memory index damaged (%s); rebuilding it from the database", exc)
                try:
                    self._rebuild(index)
                except IndexUnavailable:
                    # Too damaged to rebuild in place: start from empty files and index everything again.
                    index.close()
                    if self._discard is None:
                        raise MemoryUnavailable(f"the memory index is damaged and cannot be rebuilt: {exc}") from exc
                    self._discard()
                    index = self._new_index()
                    self._rebuild(index)
        except BaseException as exc:
            index.close()  # never keep the folder locked by an index this process cannot use
            if isinstance(exc, IndexUnavailable):
                raise MemoryUnavailable(f"memory search is unavailable: {exc}") from exc
            raise
        return index

    def drop(self) -> None:
        """Close an index that failed mid-use; the next search opens it again (and repairs it)."""
        with self._lock:
            index, self._index = self._index, None
        if index is not None:
            try:
                index.close()
            except Exception:  # noqa: BLE001 - it is already broken; closing is best effort
                log.debug("closing a failed memory index", exc_info=True)

    def _new_index(self) -> SearchIndex:
        try:
            return self._index_factory()
        except IndexDamaged:
            if self._discard is None:
                raise
            log.warning("memory index unreadable; starting it again from the database")
            self._discard()
            return self._index_factory()
        except IndexUnavailable as exc:  # includes IndexLocked: another Biseo process owns the folder
            raise MemoryUnavailable(f"memory search is unavailable: {exc}") from exc
        except RuntimeError as exc:  # the embedding model cannot load (EmbeddingError)
            raise MemoryUnavailable(f"memory search is unavailable: {exc}") from exc

    def _reconcile(self, index: SearchIndex) -> None:
        """Apply changes a crash left unindexed, then rebuild if the index still disagrees with SQLite."""
        self._apply_pending(index)
        held, truth = index.count(), self.store.count("active")
        if held != truth:
            log.warning("memory index holds %d items but the database has %d memories; rebuilding", held, truth)
            self._rebuild(index)

    def _rebuild(self, index: SearchIndex) -> None:
        started = time.time()
        index.rebuild(item(m) for m in self.store.iter_active())
        self.store.clear_all_pending(before=started)

    def _apply_pending(self, index: SearchIndex) -> None:
        """Upsert or delete the memories whose index entries are stale (changed since the last sync)."""
        store = self.store
        while True:
            started = time.time()
            ids = store.pending(limit=500)
            if not ids:
                return
            found = store.get_many(ids)
            live = [found[i] for i in ids if i in found and found[i].status == "active"]
            gone = [i for i in ids if i not in found or found[i].status != "active"]
            if live:
                index.upsert([item(m) for m in live])
            if gone:
                index.delete(gone)
            store.clear_pending(ids, before=started)
            if len(ids) < 500:
                return

    def sync(self) -> None:
        """Bring the search index in step with the database now (opening it if needed)."""
        with self._lock:
            self._apply_pending(self.index)

    def sync_soon(self) -> None:
        """Index changes in the background when the index is already open; otherwise the next opening does."""
        if self._index is None or self._closed:
            return

        def work() -> None:
            try:
                with self._lock:
                    if self._index is not None and not self._closed:
                        self._apply_pending(self._index)
            except Exception:  # noqa: BLE001 - the rows stay pending and are retried on the next search
                log.exception("memory index update failed; it is retried later")

        thread = threading.Thread(target=work, name="biseo-memory-sync", daemon=True)
        self._sync_threads = [t for t in self._sync_threads if t.is_alive()] + [thread]
        thread.start()

    def search(self, query: str, k: int) -> list[Any]:
        """Raw hits; an index that breaks mid-use is reopened (and rebuilt) once before giving up."""
        for attempt in (1, 2):
            try:
                with self._lock:
                    index = self.index
                    self._apply_pending(index)
                    return index.search(query, k=k)
            except IndexUnavailable as exc:  # damaged files, a Chroma server that went away
                self.drop()
                if attempt == 2 or not isinstance(exc, IndexDamaged):
                    raise MemoryUnavailable(f"memory search is unavailable: {exc}") from exc
                log.warning("memory index failed (%s); reopening it", exc)
        return []

    def close(self) -> None:
        """Finish background updates, then release the index (and its folder lock)."""
        for thread in self._sync_threads:
            thread.join(timeout=30)
        with self._lock:
            self._closed = True
            index, self._index = self._index, None
        if index is not None:
            index.close()


def item(memory: Memory) -> IndexItem:
    """What the index holds for a memory: its id, its words, and its subject."""
    return IndexItem(memory.id, memory.text, {"subject": memory.subject, "updated_at": memory.updated_at})
