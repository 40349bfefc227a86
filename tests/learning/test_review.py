"""Each answer records how unsure the model was; the review queue offers the least sure unreviewed ones first."""

from __future__ import annotations

# pydantic first: PySide6's import hook (pytest-qt) breaks pydantic's lazy imports when
# assistant.settings is the first to load it.
from pydantic import BaseModel  # noqa: F401, I001

import json

import pytest

from assistant.agent.loop import Agent, LoopConfig
from assistant.api import ToolContext, hookimpl, tool
from assistant.app import Assistant
from assistant.cancel import CancelToken
from assistant.events import Final, Token, ToolResult
from assistant.extensions.manager import PluginManager
from assistant.history.store import HistoryStore
from assistant.learning.review import ReviewItem, ReviewQueue
from assistant.settings import Settings
from assistant.tools.executor import ToolExecutor


@pytest.fixture
def measured_backend(fake_backend):
    """The fake backend, measuring like the real one: answers get `entropies` in order, decisions get None."""

    class Measured(fake_backend):
        def __init__(self, *args, entropies=(), **kwargs):
            super().__init__(*args, **kwargs)
            self.entropies = list(entropies)
            self.last_uncertainty = None

        def stream(self, messages, *, json_schema=None, **kwargs):
            self.last_uncertainty = None
            yield from super().stream(messages, json_schema=json_schema, **kwargs)
            if json_schema is None and self.entropies:  # set when the stream ends, cancelled or not
                mean = self.entropies.pop(0)
                if mean is not None:  # None: nothing was generated
                    self.last_uncertainty = {"mean_entropy": mean, "max_entropy": mean * 3, "tokens": 7}

    return Measured


@pytest.fixture
def app_and_backend(measured_backend):
    backend = measured_backend()
    app = Assistant(Settings(), backend=backend, builtin_plugins=())
    yield app, backend
    app.close()


def say(app, backend, text, answer, entropy, cid=None, cancel=None):
    backend.answers.append(answer)
    backend.entropies.append(entropy)
    return [e for e in app.chat(text, cid, cancel=cancel) if isinstance(e, Final)][0]


def queue_of(app) -> ReviewQueue:
    return ReviewQueue(app.store, app.feedback)


def test_the_answer_and_its_final_event_carry_the_measurement(app_and_backend):
    app, backend = app_and_backend
    final = say(app, backend, "What is my cat's name?", "Maybe Max.", 1.25)
    expected = {"mean_entropy": 1.25, "max_entropy": 3.75, "tokens": 7}
    assert final.uncertainty == expected
    assert final.to_dict()["uncertainty"] == expected
    stored = app.store.get_message(final.message_id)
    assert stored.meta["uncertainty"] == expected


def test_an_unmeasured_answer_has_no_measurement_and_is_not_queued(app_and_backend, fake_backend):
    app, backend = app_and_backend
    final = say(app, backend, "hello", "Hi!", None)  # None: this answer was not measured
    assert final.uncertainty is None and final.to_dict()["uncertainty"] is None
    assert "uncertainty" not in app.store.get_message(final.message_id).meta
    assert queue_of(app).pending() == [] and queue_of(app).count_pending() == 0

    plain = Assistant(Settings(), backend=fake_backend([], ["Fine."]), builtin_plugins=())  # no meter at all
    try:
        final = [e for e in plain.chat("how are you?") if isinstance(e, Final)][0]
        assert final.uncertainty is None and plain.store.get_message(final.message_id).meta == {}
    finally:
        plain.close()


def test_pending_lists_the_least_sure_first_and_ties_newest_first(app_and_backend):
    app, backend = app_and_backend
    cid = say(app, backend, "capital of France?", "Paris.", 0.1).conversation_id
    say(app, backend, "my cat's name?", "Max?", 2.0, cid)
    say(app, backend, "what did I eat?", "A banana?", 1.0)
    say(app, backend, "my sister's colour?", "Blue?", 1.0)

    items = queue_of(app).pending()
    assert [(i.prompt, i.answer, i.uncertainty) for i in items] == [
        ("my cat's name?", "Max?", 2.0), ("my sister's colour?", "Blue?", 1.0),
        ("what did I eat?", "A banana?", 1.0), ("capital of France?", "Paris.", 0.1)]
    assert items[0].max_entropy == 6.0 and items[0].tokens == 7 and items[0].conversation_id == cid
    assert [i.prompt for i in queue_of(app).pending(limit=2)] == ["my cat's name?", "my sister's colour?"]
    assert queue_of(app).count_pending() == 4
    assert json.loads(json.dumps(items[0].to_dict()))["uncertainty"] == 2.0


def test_rated_and_corrected_answers_leave_the_queue_but_stay_measured(app_and_backend):
    app, backend = app_and_backend
    rated = say(app, backend, "q1", "a1", 3.0)
    corrected = say(app, backend, "q2", "a2", 2.0)
    say(app, backend, "q3", "a3", 1.0)
    app.feedback.rate(rated.message_id, rating=-1)
    app.feedback.correct(corrected.message_id, corrected="the right a2")

    queue = queue_of(app)
    assert [i.prompt for i in queue.pending()] == ["q3"] and queue.count_pending() == 1
    assert [i.prompt for i in queue.measured()] == ["q1", "q2", "q3"]  # training selection sees them all

    app.feedback.rate(rated.message_id, rating=0)  # clearing the rating puts it back
    assert [i.prompt for i in queue.pending()] == ["q1", "q3"]


def test_a_regenerated_answer_replaces_the_old_one_in_the_queue(app_and_backend):
    app, backend = app_and_backend
    cid = say(app, backend, "tell me a joke", "Joke one.", 2.5).conversation_id
    backend.answers.append("A better joke.")
    backend.entropies.append(0.5)
    list(app.regenerate(cid))
    assert [(i.answer, i.uncertainty) for i in queue_of(app).pending()] == [("A better joke.", 0.5)]
    assert [i.answer for i in queue_of(app).measured()] == ["A better joke."]


def test_a_cancelled_answer_keeps_its_measurement_and_is_queued(app_and_backend):
    app, backend = app_and_backend
    backend.answers.append("one two three four")
    backend.entropies.append(1.5)
    cancel = CancelToken()
    events = []
    for event in app.chat("count", cancel=cancel):
        events.append(event)
        if isinstance(event, Token):
            cancel.cancel()
    final = events[-1]
    assert isinstance(final, Final) and final.cancelled and final.text == "one"
    assert final.uncertainty["mean_entropy"] == 1.5
    assert app.store.get_message(final.message_id).meta["uncertainty"]["mean_entropy"] == 1.5
    assert [(i.answer, i.uncertainty) for i in queue_of(app).pending()] == [("one", 1.5)]


def test_a_deleted_conversation_leaves_the_queue(app_and_backend):
    app, backend = app_and_backend
    gone = say(app, backend, "secret", "Hush.", 4.0)
    say(app, backend, "kept", "Yes.", 1.0)
    app.store.delete_conversation(gone.conversation_id)
    assert [i.prompt for i in queue_of(app).pending()] == ["kept"]


def test_the_assistant_offers_the_queue(app_and_backend):
    app, backend = app_and_backend
    say(app, backend, "q", "a", 1.0)
    assert [i.prompt for i in app.review.pending()] == ["q"]


@tool
def lookup(word: str) -> str:
    """Look a word up."""
    return f"{word}: a small domestic cat"


def test_router_decisions_around_the_answer_do_not_hide_its_measurement(tmp_path, measured_backend):
    class Module:
        @hookimpl
        def register_tools(self, register):
            register(lookup)

    pm = PluginManager()
    pm.load_module("test", Module())
    backend = measured_backend([{"tool": "lookup", "arguments": {"word": "kitten"}}, {"tool": "none"}],
                               ["A young cat."], entropies=[0.75])
    store = HistoryStore(tmp_path / "history.sqlite3")
    agent = Agent(backend=lambda: backend, store=store, registry=pm.registry,
                  executor=ToolExecutor(pm.registry, timeout_s=5), config=LoopConfig(persona="You help."),
                  tool_context=lambda name, cid, cancel: ToolContext(name, cid, cancel))
    cid = store.create_conversation()
    events = list(agent.run(cid, "what is a kitten?"))
    assert any(isinstance(e, ToolResult) and e.ok for e in events)
    final = events[-1]
    assert isinstance(final, Final) and final.uncertainty["mean_entropy"] == 0.75
    assert [c["purpose"] for c in backend.calls] == ["router", "router", "chat"]

    from assistant.feedback.store import FeedbackStore

    feedback = FeedbackStore(tmp_path / "feedback.db", history=store)
    try:
        [item] = ReviewQueue(store, feedback).pending()
        assert isinstance(item, ReviewItem)
        assert (item.prompt, item.answer, item.uncertainty) == ("what is a kitten?", "A young cat.", 0.75)
    finally:
        feedback.close()
        store.close()
