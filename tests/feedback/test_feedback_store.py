"""The feedback store: ratings, corrections, marked conversations, and the training export."""

from __future__ import annotations

import json

import pytest

from assistant.feedback.store import FeedbackError, FeedbackStore
from assistant.history.store import HistoryStore


@pytest.fixture
def history(tmp_path):
    store = HistoryStore(tmp_path / "history.sqlite3")
    yield store
    store.close()


@pytest.fixture
def feedback(tmp_path, history):
    store = FeedbackStore(tmp_path / "feedback.db", history=history)
    yield store
    store.close()


def turn(history, cid, question, answer):
    tid, uid = history.begin_turn(cid, question, context="[memories the user never typed]")
    aid = history.add_message(cid, tid, "assistant", answer)
    history.finish_turn(tid, "done")
    return uid, aid


def test_a_rating_copies_the_prompt_and_answer_and_rating_again_replaces_it(history, feedback):
    cid = history.create_conversation()
    uid, aid = turn(history, cid, "capital of Australia?", "Sydney.")
    first = feedback.rate(aid, cid, +1)
    assert (first.kind, first.prompt, first.original, first.rating) == ("rating", "capital of Australia?",
                                                                        "Sydney.", 1)
    again = feedback.rate(aid, "", -1, note="it is Canberra")  # the conversation is looked up
    assert again.id == first.id and again.conversation_id == cid
    assert [(f.rating, f.note) for f in feedback.list()] == [(-1, "it is Canberra")]
    assert feedback.for_message(aid)["rating"] == -1
    assert feedback.rate(aid, cid, 0) is None  # 0 clears
    assert feedback.for_message(aid) is None and feedback.list() == []

    with pytest.raises(FeedbackError, match="your own messages"):
        feedback.rate(uid, cid, 1)
    with pytest.raises(FeedbackError, match="no message"):
        feedback.rate("missing", cid, 1)
    with pytest.raises(FeedbackError):
        feedback.rate(aid, cid, 5)
    with pytest.raises(FeedbackError, match="another conversation"):
        feedback.rate(aid, history.create_conversation(), 1)


def test_corrections_marks_listing_and_delete(history, feedback):
    cid = history.create_conversation()
    _, aid = turn(history, cid, "capital of Australia?", "Sydney.")
    fix = feedback.correct(aid, cid, "capital of Australia?", "Sydney.", "Canberra.")
    assert (fix.kind, fix.corrected) == ("correction", "Canberra.")
    feedback.correct(aid, cid, corrected="Canberra is the capital.")  # prompt and answer looked up; replaces
    feedback.rate(aid, cid, -1)
    summary = feedback.for_message(aid)
    assert summary["rating"] == -1 and summary["correction"] == "Canberra is the capital."
    assert set(feedback.for_conversation(cid)) == {aid}
    with pytest.raises(FeedbackError, match="empty"):
        feedback.correct(aid, cid, corrected="  ")

    feedback.mark_conversation(cid, True)
    assert feedback.is_marked(cid)
    assert [f.kind for f in feedback.list()] == ["conversation", "rating", "correction"]  # newest first
    assert [f.kind for f in feedback.list("correction")] == ["correction"]
    assert len(feedback.list(limit=1)) == 1
    with pytest.raises(FeedbackError):
        feedback.list("nonsense")
    feedback.mark_conversation(cid, False)
    assert not feedback.is_marked(cid)
    with pytest.raises(FeedbackError):
        feedback.mark_conversation("no-such-conversation", True)

    rating = feedback.list("rating")[0]
    feedback.delete(rating.id[:6])
    assert feedback.for_message(aid)["rating"] is None
    with pytest.raises(FeedbackError):
        feedback.delete(rating.id)


def test_export_stands_alone_after_the_conversation_is_deleted(tmp_path, history, feedback):
    cid = history.create_conversation()
    _, good = turn(history, cid, "say hi", "Hi!")
    _, bad = turn(history, cid, "capital of Australia?", "Sydney.")
    feedback.rate(good, cid, 1)
    feedback.correct(bad, cid, corrected="Canberra.")
    marked = history.create_conversation()
    turn(history, marked, "two plus two?", "Four.")
    turn(history, marked, "times three?", "Twelve.")
    feedback.mark_conversation(marked, True)
    history.delete_conversation(cid)

    out = tmp_path / "export" / "feedback.jsonl"
    assert feedback.export(out) == 3
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["kind"] for r in records] == ["rating", "correction", "conversation"]
    assert records[0]["messages"] == [{"role": "user", "content": "say hi"},
                                      {"role": "assistant", "content": "Hi!"}]
    assert records[0]["rating"] == 1
    assert records[1]["messages"][-1]["content"] == "Canberra." and records[1]["rejected"] == "Sydney."
    assert [m["content"] for m in records[2]["messages"]] == ["two plus two?", "Four.", "times three?", "Twelve."]
    assert "memories the user never typed" not in out.read_text()  # only what the user wrote

    assert feedback.export(tmp_path / "all.json", fmt="json") == 3
    assert len(json.loads((tmp_path / "all.json").read_text())) == 3
    with pytest.raises(FeedbackError):
        feedback.export(tmp_path / "x.csv", fmt="csv")


def test_feedback_survives_reopening(tmp_path, history):
    cid = history.create_conversation()
    _, aid = turn(history, cid, "q", "a")
    store = FeedbackStore(tmp_path / "feedback.db", history=history)
    store.rate(aid, cid, 1)
    store.close()
    store = FeedbackStore(tmp_path / "feedback.db")  # without history: what was stored is enough
    assert store.for_message(aid)["rating"] == 1 and store.list()[0].original == "a"
    store.close()


def test_assistant_feedback_is_opened_lazily(fake_backend):
    from assistant.app import Assistant
    from assistant.events import Final
    from assistant.settings import Settings

    app = Assistant(Settings(), backend=fake_backend([], ["Paris."]), builtin_plugins=())
    try:
        assert app._feedback is None and not (app.paths.data_dir / "feedback.db").exists()
        final = [e for e in app.chat("capital of France?") if isinstance(e, Final)][0]
        app.feedback.rate(final.message_id, final.conversation_id, 1)
        assert app.feedback is app.feedback
        assert app.feedback.list()[0].prompt == "capital of France?"
        assert (app.paths.data_dir / "feedback.db").exists()
    finally:
        app.close()
