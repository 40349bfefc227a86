"""Superseded (regenerated or edited) turns, per-conversation personas, and opening older databases."""

from __future__ import annotations

import sqlite3

import pytest

from assistant.history.store import HistoryStore, MessageNotFound

# The schema of the first release, before personas and superseded turns.
OLD_SCHEMA = """
CREATE TABLE conversations (id TEXT PRIMARY KEY, title TEXT NOT NULL, created_at REAL NOT NULL,
    updated_at REAL NOT NULL, meta TEXT NOT NULL DEFAULT '{}');
CREATE TABLE turns (id TEXT PRIMARY KEY, conversation_id TEXT NOT NULL REFERENCES conversations(id)
    ON DELETE CASCADE, status TEXT NOT NULL CHECK (status IN ('open', 'done', 'cancelled', 'error')),
    error TEXT NOT NULL DEFAULT '', usage TEXT NOT NULL DEFAULT '{}', created_at REAL NOT NULL, finished_at REAL);
CREATE TABLE messages (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    turn_id TEXT NOT NULL REFERENCES turns(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'tool_call', 'tool_result')),
    content TEXT NOT NULL, raw TEXT, context TEXT NOT NULL DEFAULT '', tool_name TEXT, tool_args TEXT,
    tool_call_id TEXT, ok INTEGER, created_at REAL NOT NULL, meta TEXT NOT NULL DEFAULT '{}');
INSERT INTO conversations VALUES ('c0ffee00', 'Old chat', 1, 2, '{}');
INSERT INTO turns VALUES ('t1', 'c0ffee00', 'done', '', '{}', 1, 2);
INSERT INTO messages(id, conversation_id, turn_id, role, content, created_at)
    VALUES ('m1', 'c0ffee00', 't1', 'user', 'hello from the past', 1),
           ('m2', 'c0ffee00', 't1', 'assistant', 'hi back', 2);
"""


@pytest.fixture
def store(tmp_path):
    s = HistoryStore(tmp_path / "history.sqlite3")
    yield s
    s.close()


def turn(store: HistoryStore, cid: str, question: str, answer: str) -> tuple[str, str]:
    tid, uid = store.begin_turn(cid, question)
    aid = store.add_message(cid, tid, "assistant", answer)
    store.finish_turn(tid, "done")
    return uid, aid


def test_an_older_database_opens_keeps_its_messages_and_gains_the_new_columns(tmp_path):
    path = tmp_path / "history.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(OLD_SCHEMA)
    db.close()
    for _ in range(2):  # opening it again does not migrate twice
        store = HistoryStore(path)
        assert [m.content for m in store.messages("c0ffee00")] == ["hello from the past", "hi back"]
        assert store.get_conversation("c0ffee00").persona is None
        assert store.list_conversations()[0].message_count == 2
        store.close()
    store = HistoryStore(path)
    store.set_persona("c0ffee00", "Pirate")
    assert store.get_conversation("c0ffee00").persona == "Pirate"
    assert store.supersede_from("c0ffee00", "m1") == 1
    assert store.messages("c0ffee00") == []
    store.close()


def test_superseded_turns_are_hidden_but_kept(store):
    cid = store.create_conversation()
    turn(store, cid, "first question", "first answer")
    second_q, second_a = turn(store, cid, "second question", "second answer")
    turn(store, cid, "third question", "third answer")

    assert store.supersede_from(cid, second_a) == 2  # the turn of that message and every later one
    assert [m.content for m in store.messages(cid)] == ["first question", "first answer"]
    assert [m.content for m in store.messages(cid, completed_only=True)] == ["first question", "first answer"]
    everything = store.messages(cid, include_superseded=True)
    assert [m.content for m in everything][2:] == ["second question", "second answer", "third question",
                                                   "third answer"]
    assert [m.superseded for m in everything] == [False, False, True, True, True, True]
    assert store.list_conversations()[0].message_count == 2
    assert store.list_conversations(search="third answer") == []  # hidden text is not found
    assert [c.id for c in store.list_conversations(search="first answer")] == [cid]
    assert store.get_message(second_q).superseded  # still readable by id
    assert store.supersede_from(cid, second_q) == 0  # already hidden: nothing more to do
    with pytest.raises(MessageNotFound):
        store.supersede_from(cid, "no-such-message")
    with pytest.raises(MessageNotFound):
        store.supersede_from(store.create_conversation(), second_q)  # not a message of that conversation


def test_message_lookup_prompt_and_id_prefixes(store):
    cid = store.create_conversation()
    uid, aid = turn(store, cid, "what is two plus two", "four")
    assert store.get_message(aid).role == "assistant"
    assert store.prompt_for(aid) == "what is two plus two"
    assert store.resolve_message_id(aid[:8]) == aid
    with pytest.raises(MessageNotFound):
        store.get_message("missing")
    with pytest.raises(MessageNotFound):
        store.resolve_message_id("ab")  # too short to be a prefix


def test_conversations_remember_and_follow_their_persona(store):
    a = store.create_conversation(persona="Pirate")
    b = store.create_conversation()
    assert store.get_conversation(a).persona == "Pirate" and store.get_conversation(b).persona is None
    assert store.rename_persona("Pirate", "Captain") == 1
    assert store.get_conversation(a).persona == "Captain"
    store.rename_persona("Captain", None)  # deleted: back to the default
    assert store.get_conversation(a).persona is None
