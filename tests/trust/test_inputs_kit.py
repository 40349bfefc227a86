"""Shared harness of the bad-input trust cases (no tests here): an Assistant on a scripted model, fast indexes,
and a snapshot of everything the user has (history, memories, documents index, files) to compare before/after."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import pytest

from assistant.app import Assistant
from assistant.events import ApprovalRequested, ErrorEvent, Event, Final, Token, ToolResult
from assistant.settings import DocumentSettings, MemorySettings, Settings, ToolSettings
from tests.documents.docfixtures import FakeIndex as DocIndex
from tests.documents.docfixtures import bag_cosine
from tests.memory.fakes import FakeIndex as MemoryIndex


@dataclass
class Turn:
    """The events of one turn, sorted by what a user would look at."""

    events: list[Event]

    @property
    def final(self) -> Final | None:
        return next((e for e in self.events if isinstance(e, Final)), None)

    @property
    def error(self) -> ErrorEvent | None:
        return next((e for e in self.events if isinstance(e, ErrorEvent)), None)

    @property
    def results(self) -> list[ToolResult]:
        return [e for e in self.events if isinstance(e, ToolResult)]

    @property
    def tokens(self) -> list[str]:
        return [e.text for e in self.events if isinstance(e, Token)]


@dataclass
class Snapshot:
    """What the user had: every stored message, memory, indexed document file and file on disk."""

    history: dict[str, list[tuple]] = field(default_factory=dict)
    memories: list[tuple] = field(default_factory=list)
    documents: list[tuple] = field(default_factory=list)
    chunks: int = 0
    disk: dict[str, str] = field(default_factory=dict)


def tree(folder: Path | None) -> dict[str, str]:
    """{relative path: sha256 (or link target)} of every entry under folder, links not followed."""
    if folder is None or not folder.exists():
        return {}
    out: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink():
            out[rel] = "link->" + str(path.readlink())
        elif path.is_dir():
            out[rel + "/"] = "dir"
        else:
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


class Harness:
    """An Assistant on the scripted FakeBackend with fast memory and documents indexes."""

    def __init__(self, app: Assistant, backend: Any, disk: list[Path]) -> None:
        self.app = app
        self.backend = backend
        self.disk = disk

    def turn(self, text: str, cid: str | None = None, *, approve: bool = True) -> Turn:
        events = []
        for event in self.app.chat(text, cid):
            if isinstance(event, ApprovalRequested):
                event.approve() if approve else event.deny("no")
            events.append(event)
        return Turn(events)

    def snapshot(self) -> Snapshot:
        store = self.app.store
        history = {c.id: [(m.id, m.role, m.content, m.superseded)
                          for m in store.messages(c.id, include_superseded=True)]
                   for c in store.list_conversations()}
        memories = [(m.id, m.text) for m in self.app.memory.list()]
        docs = self.app.documents
        files = [(f.path, f.status, f.sha256) for f in docs.files()] if docs.db_path.exists() else []
        chunks = docs.store.chunk_count() if docs.db_path.exists() else 0
        disk = {}
        for folder in self.disk:
            disk.update({f"{folder}/{k}": v for k, v in tree(folder).items()})
        return Snapshot(history, memories, files, chunks, disk)

    def assert_nothing_lost(self, before: Snapshot) -> None:
        """Every earlier message is still there, unchanged and in order; memories, documents, files are equal."""
        after = self.snapshot()
        for cid, messages in before.history.items():
            assert after.history.get(cid, [])[:len(messages)] == messages, f"history of {cid} changed"
        assert after.memories == before.memories
        assert after.documents == before.documents and after.chunks == before.chunks
        assert after.disk == before.disk

    def assert_answers_next(self, cid: str | None = None, answer: str = "Still here and fine.") -> Final:
        """The same Assistant answers a plain follow-up (in the same conversation when given)."""
        self.backend.decisions.insert(0, {"tool": "none"})
        self.backend.answers.insert(0, answer)
        turn = self.turn("Are you still there?", cid)
        assert turn.error is None, turn.error
        assert turn.final is not None and turn.final.text == answer
        return turn.final


def seed(h: Harness) -> str:
    """A conversation, a memory and (when a folder is given) indexed documents the user already has."""
    h.backend.decisions.insert(0, {"tool": "none"})
    h.backend.answers.insert(0, "Nice to meet you, Mina.")
    cid = h.turn("Hello, I am Mina and I like green tea.").final.conversation_id
    h.app.memory.add("My favourite colour is teal.", "cli")
    return cid


@pytest.fixture
def harness(fake_backend, monkeypatch, tmp_path):
    """`harness(decisions=[...], answers=[...], roots=[...], plugins=(...), **settings)` -> Harness."""
    memory_index = MemoryIndex()
    monkeypatch.setattr("assistant.memory.service.default_index", lambda *args, **kwargs: memory_index)
    doc_index = DocIndex()

    def factory(*args, **kwargs):
        return lambda folder: doc_index

    monkeypatch.setattr("assistant.documents.service.default_index_factory", factory)
    monkeypatch.setattr("assistant.documents.service.embedder_similarity",
                        lambda *a, **k: (lambda q, texts: [bag_cosine(q, t) for t in texts]))
    made: list[Harness] = []

    def make(decisions: Iterable[Any] = (), answers: Iterable[str] = (), *, roots: list[Path] | None = None,
             plugins: tuple[str, ...] = ("plugins.files", "plugins.calculator", "plugins.memory"),
             tools: dict[str, Any] | None = None, documents: dict[str, Any] | None = None, backend: Any = None,
             **settings: Any) -> Harness:
        backend = backend or fake_backend(list(decisions), list(answers))
        config = Settings(tools=ToolSettings(file_roots=[str(r) for r in roots or []], **(tools or {})),
                          memory=MemorySettings(auto_extract=False),
                          documents=DocumentSettings(**{"watch": False, **(documents or {})}), **settings)
        app = Assistant(config, backend=backend, builtin_plugins=plugins)
        h = Harness(app, backend, list(roots or []) + [tmp_path / "outside"])
        made.append(h)
        return h

    yield make
    for h in made:
        h.app.close()
