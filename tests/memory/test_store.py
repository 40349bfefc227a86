"""The memory database: sources and times kept, edits and replacements in history, forgetting erases."""

from __future__ import annotations

import sqlite3

import pytest

from assistant.memory.store import InvalidMemory, MemoryNotFound, MemoryStore, Source


@pytest.fixture
def store(tmp_path):
    s = MemoryStore(tmp_path / "memory.sqlite3")
    yield s
    s.close()


def test_a_memory_keeps_where_and_when_it_came_from(store):
    m = store.add("My dog is called Bori", "dog's name", Source("conversation", "c" * 32, "m" * 32))
    got = store.get(m.id)
    assert got.text == "My dog is called Bori" and got.status == "active"
    assert got.source.describe() == "conversation cccccccc, message mmmmmmmm"
    assert got.created_at == got.updated_at > 0
    assert store.get(m.id).to_dict()["source"]["description"].startswith("conversation")
    assert Source("cli").describe() == "typed by you in the CLI"


def test_the_database_is_durable(store, tmp_path):
    store.add("I live in Busan", "home", Source())
    db = sqlite3.connect(tmp_path / "memory.sqlite3")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("SELECT text FROM memories").fetchone()[0] == "I live in Busan"


def test_replacing_keeps_the_old_fact_in_history(store):
    old = store.add("My sister's birthday is May 3", "sister's birthday", Source())
    new = store.add("My sister's birthday is June 3", "sister's birthday", Source("tool"), replaces=[old.id])
    assert store.get(old.id).status == "superseded" and store.get(old.id).superseded_by == new.id
    assert [m.id for m in store.list()] == [new.id]
    history = store.history(new.id)
    assert [v.text for v in history if v.change in ("created", "superseded")][:1] == ["My sister's birthday is May 3"]
    assert history[-1].text == "My sister's birthday is June 3"


def test_edit_keeps_earlier_wordings(store):
    m = store.add("I live in Busan", "home", Source())
    edited = store.edit(m.id, "I live in Seoul", "home", Source())
    assert edited.text == "I live in Seoul" and edited.version == 2 and edited.id == m.id
    assert [(v.version, v.text, v.change) for v in store.versions(m.id)] == [
        (1, "I live in Busan", "created"), (2, "I live in Seoul", "edited")]


def test_forget_erases_the_text_and_every_older_version(store, tmp_path):
    old = store.add("My sister's birthday is May 3", "sister's birthday", Source())
    new = store.add("My sister's birthday is June 3", "sister's birthday", Source(), replaces=[old.id])
    store.forget(new.id)
    assert store.get(new.id).status == "forgotten" and store.get(old.id).status == "forgotten"
    assert store.list() == []
    raw = sqlite3.connect(tmp_path / "memory.sqlite3")
    dump = "\n".join(raw.iterdump())
    assert "May 3" not in dump and "June 3" not in dump


def test_ids_resolve_from_unique_prefixes(store):
    m = store.add("I like tea", "", Source())
    assert store.resolve(m.id[:6]) == m.id
    assert store.resolve(m.id.upper()[:8]) == m.id
    with pytest.raises(MemoryNotFound, match="at least 4"):
        store.resolve("ab")
    with pytest.raises(MemoryNotFound, match="no memory"):
        store.resolve("ffffffff" if not m.id.startswith("ffff") else "00000000")


def test_bad_text_is_refused_with_the_reason(store):
    with pytest.raises(InvalidMemory, match="empty"):
        store.add("   ", "", Source())
    with pytest.raises(InvalidMemory, match="at most"):
        store.add("x" * 5000, "", Source())
    with pytest.raises(ValueError, match="source kind"):
        Source("email")


def test_every_change_is_queued_for_the_index_in_the_same_transaction(store):
    m = store.add("I like tea", "", Source())
    assert store.pending() == [m.id]
    store.clear_pending([m.id])
    store.forget(m.id)
    assert store.pending() == [m.id]


def test_odd_characters_are_cleaned_not_fatal(store):
    m = store.add("I live in\x00 Busan \ud800 \u00e9t\u00e9", "", Source())
    assert "\x00" not in m.text and "\ud800" not in m.text and m.text.startswith("I live in Busan")
