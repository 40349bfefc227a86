"""The memory service: records in SQLite, a search index kept in step with them, recall and automatic facts."""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from assistant.context import ContextBlock, untrusted
from assistant.index.base import IndexUnavailable, SearchIndex
from assistant.memory.extract import LEAD_IN, extract_facts, first_person
from assistant.memory.keeper import IndexFactory, IndexKeeper, MemoryUnavailable
from assistant.memory.store import InvalidMemory, Memory, MemoryNotFound, MemoryStore, Source, Version, normalise

log = logging.getLogger("biseo.memory")

COLLECTION = "memories"
DB_NAME = "memory.sqlite3"
INDEX_DIR = "memory-index"
# Messages asking what the assistant knows about the user in general: no one memory matches them by
# meaning, so recall shows the newest memories instead.
ABOUT_ME = re.compile(r"\b(about me|know me|remember about me|know about me|my (details|profile|preferences))\b",
                      re.IGNORECASE)

__all__ = ["MemoryService", "MemoryUnavailable", "Remembered", "Recalled", "attach", "MemoryNotFound",
           "InvalidMemory", "Source"]


@dataclass(frozen=True)
class Remembered:
    """What `add` did: 'added', 'unchanged' (already known) or 'updated' (replaced `previous`)."""

    memory: Memory
    action: str
    previous: tuple[Memory, ...] = ()


@dataclass(frozen=True)
class Recalled:
    """A memory found by a search, with how well it matched (higher is better)."""

    memory: Memory
    score: float


class MemoryService:
    """Long-term memory of the user; opens its database on first use and the search index on first search."""

    def __init__(self, data_dir: Path, settings: Any = None, *, index_factory: IndexFactory | None = None,
                 discard: Callable[[], None] | None = None, paths: Any = None) -> None:
        self.data_dir = Path(data_dir)
        self.settings = settings
        if index_factory is None:
            index_factory = lambda: default_index(self.data_dir, self.settings, paths)  # noqa: E731
            discard = discard or (lambda: discard_index(self.data_dir))
        self._store: MemoryStore | None = None
        self._lock = threading.RLock()
        self._keeper = IndexKeeper(lambda: self.store, index_factory, discard)
        self._warned = False

    # settings
    def _memory_settings(self) -> Any:
        return getattr(self.settings, "memory", None)

    def _setting(self, name: str, default: Any) -> Any:
        return getattr(self._memory_settings(), name, default)

    @property
    def store(self) -> MemoryStore:
        """The SQLite records (opened on first use; cheap, loads no model)."""
        with self._lock:
            if self._store is None:
                self._store = MemoryStore(self.data_dir / DB_NAME)
            return self._store

    @property
    def index(self) -> SearchIndex:
        """The search index, opened on first use and brought in step with SQLite (raises MemoryUnavailable)."""
        return self._keeper.index

    def sync(self) -> None:
        """Bring the search index in step with the database now (opening it if needed)."""
        self._keeper.sync()

    # the API used by tools and the CLI
    def add(self, text: str, source: Source | dict[str, Any] | str | None = None, *, subject: str | None = None,
            value: str | None = None, index_now: bool = True) -> Remembered:
        """Remember a fact: the same fact twice is one memory; a changed fact replaces the old one."""
        source = _source(source)
        store = self.store
        text = _strip_request(text)
        if subject is None:
            facts = extract_facts(first_person(text))
            subject, value = (facts[0].subject, facts[0].value) if len(facts) == 1 else ("", "")
        with self._lock:
            same = store.find_same(text)
            if same is not None:
                return Remembered(store.touch(same.id), "unchanged")
            olds = store.active_with_subject(subject)
            for old in olds:
                if value and normalise(old.text).endswith(normalise(value)):
                    return Remembered(store.touch(old.id), "unchanged")  # same value in other words
            memory = store.add(text, subject, source, replaces=[o.id for o in olds])
        self._after_change(index_now)
        return Remembered(memory, "updated" if olds else "added", tuple(olds))

    def search(self, query: str, k: int = 5, min_score: float | None = None) -> list[Recalled]:
        """Active memories by relevance to the query, best first (raises MemoryUnavailable)."""
        query = " ".join((query or "").split())
        if not query or k <= 0:
            return []
        if self.store.count("active") == 0:
            return []  # nothing to find: do not load the embedding model
        hits = self._keeper.search(query, max(k * 2, k + 4))
        found = self.store.get_many([h.id for h in hits])
        out: list[Recalled] = []
        for hit in hits:
            memory = found.get(hit.id)
            # SQLite decides: a memory edited or forgotten by another process is never shown stale.
            if memory is None or memory.status != "active":
                continue
            score = relevance(hit)
            if min_score is not None and score < min_score:
                continue
            out.append(Recalled(memory, score))
        return out[:k]

    def list(self, status: str | None = "active", limit: int | None = None) -> list[Memory]:
        """Memories, most recently changed first ('active', 'superseded', 'forgotten', or None for all)."""
        return self.store.list(status=status, limit=limit)

    def get(self, memory_id: str) -> Memory:
        """A memory by id or unique id prefix (raises MemoryNotFound)."""
        return self.store.get(self.store.resolve(memory_id))

    def edit(self, memory_id: str, text: str, source: Source | dict[str, Any] | str | None = None) -> Memory:
        """Change a memory's wording; the old wording stays in its history."""
        current = self.get(memory_id)
        text = _strip_request(text)
        if text == current.text:
            return current  # nothing changed: no new version
        facts = extract_facts(first_person(text))
        subject = facts[0].subject if len(facts) == 1 else current.subject
        memory = self.store.edit(current.id, text, subject, _source(source))
        self._after_change(True)
        return memory

    def forget(self, memory_id: str, source: Source | dict[str, Any] | str | None = None) -> Memory:
        """Erase a memory (and the older versions it replaced) from the database, the index and answers."""
        current = self.get(memory_id)
        memory = self.store.forget(current.id, _source(source))
        self._after_change(True)
        return memory

    def history(self, memory_id: str) -> list[Version]:
        """Every wording of this memory and of the facts it replaced, oldest first."""
        return self.store.history(self.get(memory_id).id)

    def find(self, description: str, min_score: float | None = None) -> list[Recalled]:
        """Memories an id prefix or a description ('my sister's birthday') points to, best first."""
        description = description.strip()
        if re.fullmatch(r"[0-9a-fA-F]{4,32}", description):
            try:
                return [Recalled(self.get(description), 1.0)]
            except MemoryNotFound:
                pass
        same = self.store.find_same(_strip_request(description))
        if same is not None:
            return [Recalled(same, 1.0)]
        threshold = self._setting("recall_min_score", DEFAULT_MIN_SCORE) if min_score is None else min_score
        return self.search(description, k=5, min_score=threshold)

    def _after_change(self, index_now: bool) -> None:
        if not index_now:
            self._keeper.sync_soon()
            return
        try:
            self.sync()
        except MemoryUnavailable as exc:
            # The change is safe in SQLite and queued; whoever holds the index applies it on its next search.
            log.info("memory saved; index update deferred: %s", exc)
        except IndexUnavailable as exc:  # the index broke mid-write: still queued, repaired on reopening
            self._keeper.drop()
            log.warning("memory saved; index update deferred: %s", exc)

    # recall before a turn
    def recall_context(self, text: str, conversation_id: str = "") -> ContextBlock | None:
        """The memories relevant to the user's message as a short block for the model, or None."""
        if not self._setting("enabled", True):
            return None
        k = int(self._setting("recall_k", 5))
        if k <= 0 or self.store.count("active") == 0:
            return None
        try:
            if ABOUT_ME.search(text):
                found = [Recalled(m, 1.0) for m in self.store.list(limit=k)]
            else:
                found = self.search(text, k=k, min_score=self._setting("recall_min_score", DEFAULT_MIN_SCORE))
        except MemoryUnavailable as exc:
            if not self._warned:  # once: the same reason would repeat on every turn
                log.warning("%s", exc)
                self._warned = True
            return None
        if not found:
            return None
        return ContextBlock(format_memories([r.memory for r in found]), marked=True)

    # automatic facts after a turn
    def learn_from_turn(self, turn: Any, tool_names: Iterable[str] = ()) -> list[Remembered]:
        """Store the facts the user stated about themselves in this turn (when auto_extract is on)."""
        if not self._setting("auto_extract", True):
            return []
        if set(tool_names) & {"remember", "forget"}:
            return []  # the user asked explicitly (and may have refused): the tool's outcome stands
        source = Source("conversation", turn.conversation_id, turn.user_message_id)
        done = []
        for fact in extract_facts(turn.user_text):
            try:
                done.append(self.add(fact.text, source, subject=fact.subject, value=fact.value, index_now=False))
            except InvalidMemory:
                continue
        return done

    def close(self) -> None:
        """Finish a background index update, then release the index (its folder lock) and the database."""
        self._keeper.close()
        with self._lock:
            store, self._store = self._store, None
        if store is not None:
            store.close()


DEFAULT_MIN_SCORE = 0.3


def relevance(hit: Any) -> float:
    """How close in meaning a hit is (cosine similarity); 0 for one found by keywords alone.

    The fused score orders hits but says nothing absolute (the best hit of an unrelated query still
    scores 1), so the recall threshold is on meaning.
    """
    scores = getattr(hit, "scores", {}) or {}
    return float(scores.get("dense", 0.0))


def format_memories(memories: list[Memory]) -> str:
    """The block the model sees: the user's own words, marked as facts about the user."""
    facts = "\n".join(f"- {m.text}" for m in memories)
    return "\n".join(["[What you know about the user (from earlier conversations; the user said these):]",
                      untrusted(facts, "memory"), "[End of what you know about the user]"])


def _source(source: Source | dict[str, Any] | str | None) -> Source:
    """A Source from a Source, a kind ('cli', 'tool', 'conversation') or a dict of Source's fields."""
    if source is None:
        return Source("cli")
    if isinstance(source, Source):
        return source
    if isinstance(source, dict):
        return Source(**{k: v for k, v in source.items() if k in ("kind", "conversation_id", "message_id",
                                                                    "detail")})
    return Source(source)


def _strip_request(text: str) -> str:
    """'remember that my dog is Bori' and 'btw, my dog is Bori' are stored as 'my dog is Bori'."""
    text = " ".join(str(text).split())
    stripped = LEAD_IN.sub("", text).strip()
    return stripped if stripped else text


def default_index(data_dir: Path, settings: Any, paths: Any = None) -> SearchIndex:
    """The hybrid (keywords + meaning) index in the data folder; vectors on a Chroma server if set so."""
    from assistant.embeddings import load_embedder
    from assistant.index.hybrid import HybridIndex
    from assistant.paths import resolve_paths

    memory = getattr(settings, "memory", None)
    embedder = load_embedder(getattr(memory, "embedding_model", "all-minilm-l6-v2"), paths or resolve_paths())
    server = memory.server_url if getattr(memory, "index", "embedded") == "server" else None
    return HybridIndex(Path(data_dir) / INDEX_DIR, COLLECTION, embedder, server_url=server)


def discard_index(data_dir: Path) -> None:
    """Delete the memory index's files (it is rebuilt from the database)."""
    from assistant.index.hybrid import HybridIndex

    HybridIndex.discard(Path(data_dir) / INDEX_DIR)


def attach(assistant: Any) -> None:
    """Give the assistant its memory: the service, recall before each turn, and facts after each turn."""
    service = MemoryService(assistant.paths.data_dir, assistant.settings, paths=assistant.paths)
    assistant.memory = service
    settings = getattr(assistant.settings, "memory", None)
    if getattr(settings, "enabled", True):
        assistant.agent.context_providers.append(service.recall_context)

    def learn(turn: Any) -> None:
        calls = [m for m in assistant.store.messages(turn.conversation_id)
                 if m.turn_id == turn.turn_id and m.role == "tool_call" and m.tool_name]
        for call in calls:
            if call.tool_name in ("remember", "forget") and call.tool_call_id:
                # A tool knows only its call id; the turn knows the conversation and message it belongs to.
                service.store.link_tool_call(call.tool_call_id, turn.conversation_id, call.id)
        service.learn_from_turn(turn, [c.tool_name for c in calls])

    assistant.agent.after_turn.append(learn)
