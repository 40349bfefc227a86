"""The history store: conversations, ordered messages, durability settings and crash recovery."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from assistant.history.store import ConversationNotFound, HistoryStore

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "data" / "history.sqlite3"


@pytest.fixture
def store(db):
    s = HistoryStore(db)
    yield s
    s.close()


def finished_turn(store: HistoryStore, cid: str, question: str, answer: str) -> str:
    tid, _ = store.begin_turn(cid, question)
    store.add_message(cid, tid, "assistant", answer)
    store.finish_turn(tid, "done")
    return tid


def test_create_list_rename_delete(store):
    a = store.create_conversation()
    time.sleep(0.01)
    b = store.create_conversation("Trip plans")
    listed = store.list_conversations()
    assert [c.id for c in listed] == [b, a]  # most recently updated first
    assert listed[1].title == "New conversation" and listed[0].message_count == 0
    finished_turn(store, a, "What is the capital of France?", "Paris.")
    listed = store.list_conversations()
    assert listed[0].id == a  # activity moves it to the top
    assert listed[0].title == "What is the capital of France?"  # titled from the first message
    assert listed[0].message_count == 2
    store.rename_conversation(a, "Geography")
    assert store.get_conversation(a).title == "Geography"
    store.rename_conversation(b, "   ")
    assert store.get_conversation(b).title == "Untitled"
    store.delete_conversation(a)
    assert [c.id for c in store.list_conversations()] == [b]
    assert store.messages(a) == []
    with pytest.raises(ConversationNotFound):
        store.get_conversation(a)
    with pytest.raises(ConversationNotFound):
        store.rename_conversation(a, "x")
    with pytest.raises(ConversationNotFound):
        store.delete_conversation(a)
    with pytest.raises(ConversationNotFound):
        store.begin_turn(a, "hello?")


def test_long_first_message_gives_a_short_title(store):
    cid = store.create_conversation()
    store.begin_turn(cid, "word " * 40)
    title = store.get_conversation(cid).title
    assert len(title) <= 60 and title.endswith("...")


def test_search_finds_titles_and_message_text(store):
    a = store.create_conversation("Recipes")
    b = store.create_conversation()
    finished_turn(store, b, "How do I bake sourdough bread?", "Use a starter and a hot oven.")
    c = store.create_conversation("Unrelated")
    assert [x.id for x in store.list_conversations(search="recipe")] == [a]
    assert [x.id for x in store.list_conversations(search="starter")] == [b]  # in the answer
    assert store.list_conversations(search="nothing like this") == []
    assert {x.id for x in store.list_conversations()} == {a, b, c}
    # '%' and '_' typed by the user match literally, not as wildcards.
    assert [x.id for x in store.list_conversations(search="%")] == []
    d = store.create_conversation("Discount 50% on file_name.txt")
    assert [x.id for x in store.list_conversations(search="50%")] == [d]
    assert [x.id for x in store.list_conversations(search="file_name")] == [d]
    assert store.list_conversations(search="file_nam_") == []
    assert [x.id for x in store.list_conversations(search="SOURDOUGH")] == [b]  # case-insensitive


def test_resolve_id_accepts_a_unique_prefix(store):
    cid = store.create_conversation()
    assert store.resolve_id(cid[:8]) == cid
    assert store.resolve_id(cid) == cid
    with pytest.raises(ConversationNotFound):
        store.resolve_id(cid[:3])  # too short
    with pytest.raises(ConversationNotFound):
        store.resolve_id("zzzzzzzz")


def test_messages_come_back_in_order_with_roles_and_tool_details(store):
    cid = store.create_conversation()
    tid, _ = store.begin_turn(cid, "What is 2 + 2?")
    store.add_message(cid, tid, "tool_call", '{"expression": "2 + 2"}', raw='{"tool": "calculator"}',
                      tool_name="calculator", tool_args={"expression": "2 + 2"}, tool_call_id="c1")
    store.add_message(cid, tid, "tool_result", "2 + 2 = 4", tool_name="calculator", tool_call_id="c1", ok=True,
                      meta={"duration_s": 0.01})
    store.add_message(cid, tid, "assistant", "It is 4.")
    store.finish_turn(tid, "done", usage={"completion_tokens": 3})
    finished_turn(store, cid, "Und auf Koreanisch? 비서 🙂", "넷 (4).")
    msgs = store.messages(cid)
    assert [(m.role, m.content) for m in msgs] == [
        ("user", "What is 2 + 2?"), ("tool_call", '{"expression": "2 + 2"}'), ("tool_result", "2 + 2 = 4"),
        ("assistant", "It is 4."), ("user", "Und auf Koreanisch? 비서 🙂"), ("assistant", "넷 (4).")]
    call, result = msgs[1], msgs[2]
    assert call.tool_name == "calculator" and call.tool_args == {"expression": "2 + 2"}
    assert call.raw == '{"tool": "calculator"}' and call.tool_call_id == result.tool_call_id == "c1"
    assert result.ok is True and result.meta == {"duration_s": 0.01}
    assert all(m.turn_status == "done" for m in msgs)
    assert store.turn_status(tid) == "done"


def test_wal_and_full_sync_are_on(store, db):
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert store._db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    # WAL mode is persistent: any other connection sees it too.
    with sqlite3.connect(db) as other:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_an_open_turn_left_by_a_crash_is_marked_error_on_next_open(db):
    store = HistoryStore(db)
    cid = store.create_conversation()
    finished_turn(store, cid, "first question", "first answer")
    tid, _ = store.begin_turn(cid, "second question")
    store.add_message(cid, tid, "assistant", "half an ans")
    store.close()  # never finished: as if the app died here

    store = HistoryStore(db)
    try:
        assert store.turn_status(tid) == "error"
        everything = store.messages(cid)
        assert [m.content for m in everything] == ["first question", "first answer", "second question",
                                                   "half an ans"]
        assert [m.turn_status for m in everything][-2:] == ["error", "error"]
        # The model is never shown the interrupted turn again.
        shown = store.messages(cid, completed_only=True)
        assert [m.content for m in shown] == ["first question", "first answer"]
        error = store._db.execute("SELECT error FROM turns WHERE id=?", (tid,)).fetchone()[0]
        assert "interrupted" in error
    finally:
        store.close()


def test_cancelled_and_failed_turns_are_kept_but_not_shown_to_the_model(store):
    cid = store.create_conversation()
    t1, _ = store.begin_turn(cid, "stop this")
    store.finish_turn(t1, "cancelled")
    t2, _ = store.begin_turn(cid, "this breaks")
    store.finish_turn(t2, "error", error="the model crashed")
    finished_turn(store, cid, "ok question", "ok answer")
    assert len(store.messages(cid)) == 4
    assert [m.content for m in store.messages(cid, completed_only=True)] == ["ok question", "ok answer"]


CRASH_SCRIPT = textwrap.dedent("""
    import sys, time
    from assistant.history.store import HistoryStore
    store = HistoryStore(sys.argv[1])
    cid = store.create_conversation()
    for i in range(3):
        tid, _ = store.begin_turn(cid, f"question {i}")
        store.add_message(cid, tid, "assistant", f"answer {i}")
        store.finish_turn(tid, "done")
    tid, _ = store.begin_turn(cid, "the question being answered when the power went")
    store.add_message(cid, tid, "tool_call", "{}", tool_name="clock", tool_args={})
    print(cid, tid, flush=True)
    # Keep writing (each write its own transaction) until killed mid-turn.
    n = 0
    while True:
        store.add_message(cid, tid, "tool_result", "x" * 2000 + str(n), tool_name="clock", ok=True)
        print(n, flush=True)
        n += 1
""")


def test_sigkill_mid_turn_keeps_earlier_turns_and_the_database_healthy(db):
    db.parent.mkdir(parents=True)
    proc = subprocess.Popen([sys.executable, "-c", CRASH_SCRIPT, str(db)], stdout=subprocess.PIPE, text=True,
                            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        cid, tid = proc.stdout.readline().split()
        committed = -1
        for _ in range(50):  # let it commit a few writes of the open turn, then kill it mid-stream
            committed = int(proc.stdout.readline())
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL

    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    store = HistoryStore(db)
    try:
        shown = store.messages(cid, completed_only=True)
        assert [(m.role, m.content) for m in shown] == [
            (role, f"{word} {i}") for i in range(3) for role, word in (("user", "question"), ("assistant", "answer"))]
        assert store.turn_status(tid) == "error"
        everything = store.messages(cid)
        results = [m for m in everything if m.role == "tool_result"]
        # Every write reported as done before the kill is there (durable), and in order.
        assert len(results) >= committed + 1
        assert [int(m.content[2000:]) for m in results] == list(range(len(results)))
        # The store works normally afterwards.
        finished_turn(store, cid, "are you back?", "yes")
        assert store.messages(cid, completed_only=True)[-1].content == "yes"
        assert store.list_conversations()[0].message_count == 9  # user and assistant messages
    finally:
        store.close()
