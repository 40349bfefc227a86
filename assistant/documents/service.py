"""The documents service: added sources, background indexing, folder watching, search, tables and context."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from assistant.context import ContextBlock, untrusted
from assistant.documents.indexer import Indexer, Progress, ProgressCallback
from assistant.documents.relevance import about_documents, judge_all, needs_table_computation, tables_named_in
from assistant.documents.store import DocumentStore, FileRow, SourceRow, TableRow
from assistant.documents.tables import TableAnswer, describe_tables, run_table_query
from assistant.documents.watcher import FolderWatcher
from assistant.index.base import Hit, IndexDamaged, IndexUnavailable, SearchIndex
from assistant.index.hybrid import CONTEXT_KEY

log = logging.getLogger("biseo.documents")
COLLECTION = "documents"
CANDIDATES = 12  # hits judged per message; the best `top_k` relevant ones reach the model
PASSAGE_CHARS = 1400  # a chunk is ~180 words; this only trims pathological ones (a table row dump)
SNIPPET_CHARS = 240

NOT_FOUND = ("(Searched the user's documents for this: nothing in them mentions it. Do not guess. Reply with "
             "exactly this sentence: \"I could not find that in your documents.\")")


class DocumentError(Exception):
    """A documents command cannot be done (path missing, not an added source); plain words."""


@dataclass
class Passage:
    """A retrieved chunk with where it is from and why it was judged relevant."""

    chunk_id: str
    path: str
    text: str
    page: int | None
    section: str | None
    score: float
    dense: float
    keywords: float
    relevant: bool

    @property
    def file(self) -> str:
        return Path(self.path).name

    @property
    def where(self) -> str:
        """"report.pdf, page 2" / "notes.md, section Setup" - how a citation reads."""
        parts = [self.file]
        if self.page is not None:
            parts.append(f"page {self.page}")
        if self.section:
            parts.append(f"section {self.section}" if not self.section.startswith("rows") else self.section)
        return ", ".join(parts)

    def citation(self) -> dict[str, Any]:
        """The structured citation (without its number) for ContextBlock and ctx.cite."""
        snippet = " ".join(self.text.split())
        return {"source": self.path, "file": self.file, "page": self.page, "section": self.section,
                "snippet": snippet[:SNIPPET_CHARS] + ("..." if len(snippet) > SNIPPET_CHARS else ""),
                "chunk_id": self.chunk_id}


IndexFactory = Callable[[Path], SearchIndex]
Similarity = Callable[[str, Sequence[str]], list[float]]


class DocumentService:
    """Everything about the user's documents; stores and index open lazily, on first use."""

    def __init__(self, data_dir: Path, settings: Any, *, index_factory: IndexFactory | None = None,
                 similarity: Similarity | None = None, watch: bool = False,
                 embedding_model: str | None = None, models_paths: Any = None) -> None:
        self.dir = data_dir / "documents"
        self.db_path = self.dir / "documents.sqlite3"
        self.index_dir = self.dir / "index"
        self.settings = settings  # DocumentSettings
        self._index_factory = index_factory
        self._similarity = similarity
        self._embedding_model = embedding_model
        self._models_paths = models_paths
        self._watch_wanted = watch
        self._store: DocumentStore | None = None
        self._index: SearchIndex | None = None
        self._indexer: Indexer | None = None
        self._watcher: FolderWatcher | None = None
        self._open_lock = threading.RLock()
        self._checked = False
        self._closing = threading.Event()

    # lazy parts
    @property
    def store(self) -> DocumentStore:
        with self._open_lock:
            if self._store is None:
                self._store = DocumentStore(self.db_path)
                if self._watch_wanted and self.settings.watch:
                    self._start_watcher()
            return self._store

    @property
    def indexer(self) -> Indexer:
        with self._open_lock:
            if self._indexer is None:
                self._indexer = Indexer(self.store, self.index, self.settings.max_file_mb)
            return self._indexer

    def index(self) -> SearchIndex:
        """The search index, opened on first use and checked against SQLite (rebuilt when they disagree)."""
        with self._open_lock:
            if self._index is None:
                self._index = self._open_index()
            if not self._checked:
                self._checked = True
                self._check_index()
            return self._index

    def _open_index(self) -> SearchIndex:
        factory = self._index_factory or default_index_factory(self._embedding_model, self._models_paths)
        index = None
        try:
            index = factory(self.index_dir)
            check = getattr(index, "check", None)  # HybridIndex: its parts readable and in step
            if check is not None:
                check()
            return index
        except IndexDamaged as exc:
            log.warning("document index damaged (%s); rebuilding it from SQLite", exc)
            if index is not None:
                index.close()
        discard = getattr(factory, "discard", None)
        if discard is not None:
            discard(self.index_dir)
        index = factory(self.index_dir)
        self.store.mark_all_out_of_index()  # _check_index below finds nothing indexed and re-adds all
        return index

    def _check_index(self) -> None:
        assert self._index is not None
        expected = self.store.indexed_chunk_count()
        have = self._index.count()
        if have != expected and not self.store.pending_deletes():
            # Chunks SQLite believes are indexed are missing (or extra ones linger): rebuild from the truth.
            log.warning("document index holds %s chunks, SQLite says %s; rebuilding", have, expected)
            self.store.mark_all_out_of_index()
            self._index.rebuild([])
        self.indexer.flush_index()  # re-adds every chunk not yet in the index, in batches

    def has_documents(self) -> bool:
        """Cheap: false without touching anything when nothing was ever added."""
        if self._store is None and not self.db_path.exists():
            return False
        return self.store.chunk_count() > 0

    # sources
    def add(self, paths: Sequence[str | Path]) -> tuple[list[SourceRow], list[str]]:
        """Register files or folders (indexed by the next sync); returns them and the paths that failed."""
        added, problems = [], []
        for raw in paths:
            if not str(raw).strip():
                problems.append(f"{raw!r}: an empty path (give a file or folder)")
                continue
            if "\x00" in str(raw):
                problems.append(f"{raw!r}: a path cannot contain a NUL character")
                continue
            path = Path(raw).expanduser()
            try:
                path = path.resolve(strict=True)
            except (FileNotFoundError, RuntimeError, ValueError):
                problems.append(f"{raw}: no such file or folder")
                continue
            except OSError as exc:
                problems.append(f"{raw}: {exc.strerror or exc}")
                continue
            if path.is_dir():
                added.append(self.store.add_source(path, "folder"))
            elif path.is_file():
                added.append(self.store.add_source(path, "file"))
            else:
                problems.append(f"{raw}: not a regular file or folder")
        return added, problems

    def sources(self) -> list[SourceRow]:
        return self.store.sources()

    def files(self, source: SourceRow | None = None) -> list[FileRow]:
        return self.store.files(source.id if source else None)

    def remove(self, raw: str | Path) -> SourceRow:
        """Forget an added file or folder: its chunks leave SQLite and the index, its tables are dropped."""
        path = Path(raw).expanduser()
        candidates = {str(path), str(path.absolute())}
        try:
            candidates.add(str(path.resolve()))
        except OSError:
            pass
        source = next((s for s in self.store.sources() if s.path in candidates), None)
        if source is None:
            raise DocumentError(f"{raw} is not an added file or folder; see `biseo docs list`")
        with self.indexer.lock:
            self.store.remove_source(source.id)
            self.indexer.flush_index()
        return source

    # indexing
    def sync(self, progress: ProgressCallback | None = None, *, sources: Sequence[SourceRow] | None = None,
             force: bool = False, cancel: threading.Event | None = None) -> Progress:
        return self.indexer.sync(progress, sources=sources, force=force, cancel=cancel)

    def start_sync(self, progress: ProgressCallback | None = None, **kwargs: Any) -> "SyncJob":
        """Run sync() in a background thread; the caller shows progress and may cancel."""
        job = SyncJob()
        job.thread = threading.Thread(target=job.run, args=(lambda: self.sync(progress, cancel=job.cancel,
                                                                               **kwargs),),
                                      name="biseo-docs-index", daemon=True)
        job.thread.start()
        return job

    def reindex(self, progress: ProgressCallback | None = None, *, force: bool = False) -> tuple[Progress, int]:
        """Re-read changed files (all with force), then rebuild the search index from SQLite."""
        state = self.sync(progress, force=force)
        return state, self.indexer.rebuild()

    # search
    def search(self, query: str, k: int | None = None) -> list[Passage]:
        """The best passages for the query, each judged relevant or not (see relevance.py)."""
        k = k or self.settings.top_k
        if not query.strip() or not self.has_documents():
            return []
        self.indexer.flush_index()
        try:
            hits = self.index().search(query, k=max(k, CANDIDATES))
        except IndexDamaged as exc:
            log.warning("document index damaged during search (%s); rebuilding from SQLite", exc)
            self.indexer.rebuild()
            hits = self.index().search(query, k=max(k, CANDIDATES))
        return self._passages(query, hits)[:k] if hits else []

    def _passages(self, query: str, hits: list[Hit]) -> list[Passage]:
        rows = self.store.chunks_by_id([h.id for h in hits])
        hits = [h for h in hits if h.id in rows]  # an index entry SQLite no longer has is never shown
        verdicts = judge_all(query, [rows[h.id]["text"] for h in hits], self._dense(query, hits))
        out = []
        for hit, verdict in zip(hits, verdicts):
            row = rows[hit.id]
            section = row["section"]
            if row["rows"]:
                section = f"{row['sheet'] + ', ' if row['sheet'] else ''}rows {row['rows']}"
            out.append(Passage(hit.id, row["path"], row["text"], row["page"], section, hit.score,
                               verdict.dense, verdict.keywords, verdict.relevant))
        # Relevant first, keeping the index's order among them.
        return [p for p in out if p.relevant] + [p for p in out if not p.relevant]

    def _dense(self, query: str, hits: list[Hit]) -> list[float]:
        """Cosine similarity of the message with each hit: the index's own when it has one, else computed."""
        missing = [h for h in hits if "dense" not in h.scores]
        computed: dict[str, float] = {}
        if missing:
            if self._similarity is None:
                self._similarity = embedder_similarity(self._embedding_model, self._models_paths)
            texts = [f"{h.metadata.get(CONTEXT_KEY, '')}\n{h.text}".strip() for h in missing]
            computed = dict(zip([h.id for h in missing], self._similarity(query, texts)))
        return [float(h.scores["dense"]) if "dense" in h.scores else computed[h.id] for h in hits]

    def relevant_passages(self, query: str, k: int | None = None) -> list[Passage]:
        return [p for p in self.search(query, k) if p.relevant]

    # tables
    def tables(self) -> list[TableRow]:
        return self.store.tables() if self.db_path.exists() else []

    def table_query(self, *, file: str | None, operation: str, column: str | None = None,
                    filter_column: str | None = None, filter_op: str | None = None,
                    filter_value: str | None = None) -> TableAnswer:
        """Compute over a spreadsheet (see assistant.documents.tables); raises TableQueryError."""
        return run_table_query(self.store, file=file, operation=operation, column=column,
                               filter_column=filter_column, filter_op=filter_op, filter_value=filter_value)

    # per-turn context
    def context(self, text: str, conversation_id: str = "") -> ContextBlock | None:
        """Relevant passages as [n]-numbered context with citations; a not-found note for document questions."""
        if not self.settings.enabled or not self.has_documents():
            return None
        try:
            passages = self.relevant_passages(text)
        except IndexUnavailable as exc:
            log.warning("documents not searched: %s", exc)
            return None
        # A count or sum over a known spreadsheet is computed by table_query, never guessed from rows.
        tables = self.tables()
        hint = ["table_query"] if needs_table_computation(text, tables) else []
        # Only the spreadsheets the message names: a small model copies the first file it is shown.
        note = f"The user's spreadsheets: {describe_tables(tables_named_in(text, tables))}" if hint else ""
        if not passages:
            if hint:
                return ContextBlock("", tools=hint, router_note=note, marked=True)
            return ContextBlock(NOT_FOUND, marked=True) if about_documents(text) else None
        quoted = []
        citations = []
        for n, p in enumerate(passages, start=1):
            body = " ".join(p.text.split())  # one line each: small models copy multi-line blocks verbatim
            body = body if len(body) <= PASSAGE_CHARS else body[:PASSAGE_CHARS] + " ..."
            quoted.append(f"[{n}] {p.where}: {body}")
            citations.append({"n": n, **p.citation()})
        lines = ["Passages from the user's documents:", untrusted("\n".join(quoted), "documents")]
        lines.append("\nAnswer briefly in your own words from these passages if they answer the question, and "
                     "cite the ones you used by number, like [1]. If they do not answer it, say it is not in "
                     "the user's documents.")
        return ContextBlock("\n".join(lines), citations, tools=hint, router_note=note, marked=True)

    # watching
    def _start_watcher(self) -> None:
        self._watcher = FolderWatcher(self._watch_sync, interval_s=self.settings.watch_interval_s)
        self._watcher.start()

    def _watch_sync(self) -> None:
        if not self.store.sources():
            return
        try:
            state = self.sync(cancel=self._closing)
        except IndexUnavailable as exc:
            log.warning("watching documents: %s", exc)
            return
        if state.indexed or state.removed:
            log.info("documents watcher: %s files re-indexed, %s removed", state.indexed, state.removed)

    def close(self) -> None:
        """Stop the watcher (waiting for a sync in progress), then close the index and the database."""
        self._closing.set()  # a watcher pass stops after its current file
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.stop()  # outside the open lock: the watcher's pass may need it to finish
        with self._open_lock:
            if self._index is not None:
                self._index.close()
                self._index = None
            if self._store is not None:
                self._store.close()
                self._store = None
            self._indexer = None
            self._checked = False
        self._closing = threading.Event()  # the service may be opened again after close()


class SyncJob:
    """A sync running in a background thread: wait() for its Progress; cancel stops between files."""

    def __init__(self) -> None:
        self.cancel = threading.Event()
        self.thread: threading.Thread | None = None
        self.result: Progress | None = None
        self.error: BaseException | None = None
        self._done = threading.Event()

    def run(self, work: Callable[[], Progress]) -> None:
        try:
            self.result = work()
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread, which reports it
            self.error = exc
        finally:
            self._done.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def outcome(self) -> Progress:
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


def default_index_factory(embedding_model: str | None, paths: Any) -> IndexFactory:
    """The real hybrid index (BM25 + vectors in Chroma) for the "documents" collection, in its own folder."""
    from assistant.embeddings import DEFAULT_EMBEDDING_MODEL, load_embedder
    from assistant.index.hybrid import HybridIndex

    def open_index(folder: Path) -> SearchIndex:
        embedder = load_embedder(embedding_model or DEFAULT_EMBEDDING_MODEL, paths)
        return HybridIndex(folder, COLLECTION, embedder)

    open_index.discard = HybridIndex.discard  # type: ignore[attr-defined]
    return open_index


def embedder_similarity(embedding_model: str | None, paths: Any) -> Similarity:
    """Cosine similarity under the embedding model (vectors are unit length, so a dot product)."""
    from assistant.embeddings import DEFAULT_EMBEDDING_MODEL, load_embedder

    embedder = load_embedder(embedding_model or DEFAULT_EMBEDDING_MODEL, paths)

    def similarity(query: str, texts: Sequence[str]) -> list[float]:
        vectors = embedder.embed([query, *texts])
        return [float(v) for v in vectors[1:] @ vectors[0]]

    return similarity


def attach(assistant) -> None:
    """Give the assistant its DocumentService and, when documents are on, the per-turn context provider."""
    settings = assistant.settings
    service = DocumentService(assistant.paths.data_dir, settings.documents, watch=True,
                              embedding_model=settings.memory.embedding_model, models_paths=assistant.paths)
    assistant.documents = service
    if settings.documents.enabled:
        assistant.agent.context_providers.append(service.context)
