"""Regenerating the last answer and editing an earlier message: old turns are hidden, never lost."""

from __future__ import annotations

# pydantic first: PySide6's import hook (pytest-qt) breaks pydantic's lazy imports when
# assistant.settings is the first to load it.
from pydantic import BaseModel  # noqa: F401, I001

import pytest

from assistant.app import Assistant
from assistant.cancel import CancelToken
from assistant.events import ErrorEvent, Final, Token
from assistant.settings import Settings


@pytest.fixture
def app_and_backend(fake_backend):
    backend = fake_backend([], [])
    app = Assistant(Settings(), backend=backend, builtin_plugins=())
    yield app, backend
    app.close()


def say(app, backend, text, answer, cid=None):
    backend.answers.append(answer)
    return [e for e in app.chat(text, cid) if isinstance(e, Final)][0]


def visible(app, cid):
    return [(m.role, m.content) for m in app.store.messages(cid)]


def last_prompt(backend):
    return [(m["role"], m["content"]) for m in [c for c in backend.calls if c["purpose"] == "chat"][-1]["messages"]]


def test_regenerate_replaces_the_last_answer_and_keeps_the_old_one(app_and_backend):
    app, backend = app_and_backend
    cid = say(app, backend, "tell me a joke", "Joke one.").conversation_id
    say(app, backend, "another one", "Joke two.", cid)

    backend.answers.append("A better joke two.")
    events = list(app.regenerate(cid))
    assert "".join(e.text for e in events if isinstance(e, Token)) == "A better joke two."
    assert visible(app, cid) == [("user", "tell me a joke"), ("assistant", "Joke one."),
                                 ("user", "another one"), ("assistant", "A better joke two.")]
    hidden = [m.content for m in app.store.messages(cid, include_superseded=True) if m.superseded]
    assert hidden == ["another one", "Joke two."]  # nothing silently lost
    # The model saw the conversation without the replaced answer.
    assert last_prompt(backend)[-3:] == [("user", "tell me a joke"), ("assistant", "Joke one."),
                                         ("user", "another one")]
    assert "Joke two." not in str(last_prompt(backend))

    say(app, backend, "thanks", "You're welcome.", cid)  # later turns see the new answer only
    assert ("assistant", "A better joke two.") in last_prompt(backend)
    assert "Joke two." not in [c for _, c in last_prompt(backend)]


def test_regenerate_after_a_failed_turn_and_when_never_started(app_and_backend):
    app, backend = app_and_backend
    cid = say(app, backend, "hello", "Hi.").conversation_id
    backend.fail_on = "chat"
    assert any(isinstance(e, ErrorEvent) for e in app.chat("are you there?", cid))
    backend.fail_on = None

    pending = app.regenerate(cid)  # not started: nothing hidden yet
    assert visible(app, cid)[-1] == ("user", "are you there?")
    del pending
    backend.answers.append("Yes, I am.")
    final = [e for e in app.regenerate(cid) if isinstance(e, Final)][0]
    assert final.text == "Yes, I am."
    assert visible(app, cid) == [("user", "hello"), ("assistant", "Hi."), ("user", "are you there?"),
                                 ("assistant", "Yes, I am.")]


def test_edit_and_resend_hides_that_message_and_everything_after(app_and_backend):
    app, backend = app_and_backend
    cid = say(app, backend, "recipe for pancakes", "Flour, eggs, milk.").conversation_id
    say(app, backend, "for 2 people", "Half the amounts.", cid)
    say(app, backend, "vegan?", "Use oat milk.", cid)
    second = [m for m in app.store.messages(cid) if m.content == "for 2 people"][0]

    backend.answers.append("Double the amounts.")
    final = [e for e in app.edit_and_resend(cid, second.id, "for 8 people") if isinstance(e, Final)][0]
    assert final.text == "Double the amounts."
    assert visible(app, cid) == [("user", "recipe for pancakes"), ("assistant", "Flour, eggs, milk."),
                                 ("user", "for 8 people"), ("assistant", "Double the amounts.")]
    seen = str(last_prompt(backend))
    assert "for 2 people" not in seen and "vegan?" not in seen and "Use oat milk." not in seen
    assert len(app.store.messages(cid, include_superseded=True)) == 8


def test_edit_and_regenerate_errors_are_plain(app_and_backend):
    app, backend = app_and_backend
    final = say(app, backend, "hi", "Hello.")
    cid = final.conversation_id
    user_id = app.store.messages(cid)[0].id
    with pytest.raises(ValueError, match="Only your own messages"):
        app.edit_and_resend(cid, final.message_id, "x")
    with pytest.raises(ValueError, match="does not exist"):
        app.edit_and_resend(cid, "no-such-id", "x")
    with pytest.raises(ValueError, match="empty"):
        app.edit_and_resend(cid, user_id, "   ")
    with pytest.raises(ValueError, match="another conversation"):
        app.edit_and_resend(app.new_conversation(), user_id, "x")
    with pytest.raises(ValueError, match="no message"):
        app.regenerate(app.new_conversation())
    with pytest.raises(ValueError, match="does not exist"):
        app.regenerate("no-such-conversation")
    list(app.edit_and_resend(cid, user_id, "hi there"))
    with pytest.raises(ValueError, match="already replaced"):
        app.edit_and_resend(cid, user_id, "hey")
    assert visible(app, cid)[-1][0] == "assistant"  # the failed calls hid nothing


def test_cancelled_regeneration_keeps_what_was_said(app_and_backend):
    app, backend = app_and_backend
    cid = say(app, backend, "count to three", "One two three.").conversation_id
    backend.answers.append("One, two, three, and more words here.")
    cancel = CancelToken()
    for event in app.regenerate(cid, cancel=cancel):
        if isinstance(event, Token):
            cancel.cancel()
    messages = app.store.messages(cid)
    assert messages[-1].role == "assistant" and messages[-1].turn_status == "cancelled"
    assert messages[-1].content == "One,"
