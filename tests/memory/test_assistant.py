"""Memory wired into the Assistant (scripted model, fast index): facts learned after a turn, recalled in the next."""

from __future__ import annotations

import pytest

from assistant.app import Assistant
from assistant.events import ApprovalRequested, Final
from assistant.settings import Settings
from tests.memory.fakes import FakeIndex


@pytest.fixture
def index(monkeypatch):
    shared = FakeIndex()
    monkeypatch.setattr("assistant.memory.service.default_index", lambda *args: shared)
    return shared


def make(fake_backend, settings=None, **script):
    backend = fake_backend(**script)
    app = Assistant(settings or Settings(), backend=backend, builtin_plugins=("plugins.memory",))
    return app, backend


def run(app, text, approve=True):
    final = None
    for event in app.chat(text):
        if isinstance(event, ApprovalRequested):
            event.approve() if approve else event.deny("no")
        if isinstance(event, Final):
            final = event
    return final


def chat_prompt(backend) -> str:
    return [c for c in backend.calls if c["purpose"] == "chat"][-1]["messages"][-1]["content"]


def test_a_fact_told_in_one_conversation_is_recalled_in_another(fake_backend, index):
    app, backend = make(fake_backend, answers=["Happy to know!", "It is on May 3."])
    run(app, "By the way, my sister's birthday is May 3.")
    [memory] = app.memory.list()
    assert memory.text == "My sister's birthday is May 3" and memory.source.kind == "conversation"
    run(app, "When is my sister's birthday?")  # a new conversation
    prompt = chat_prompt(backend)
    assert prompt.startswith("When is my sister's birthday?\n\n(Text inside <untrusted> tags")
    assert "[What you know about the user" in prompt
    assert "- My sister's birthday is May 3" in prompt
    app.close()


def test_unrelated_messages_get_no_memories(fake_backend, index):
    app, backend = make(fake_backend)
    run(app, "I live in Busan.")
    run(app, "Write a haiku about autumn.")
    assert chat_prompt(backend) == "Write a haiku about autumn."
    app.close()


def test_the_remember_tool_stores_once_and_the_turn_is_not_learned_twice(fake_backend, index):
    decisions = [{"tool": "remember", "arguments": {"fact": "I'm allergic to peanuts"}}, {"tool": "none"}]
    app, backend = make(fake_backend, decisions=decisions, answers=["I'll remember that."])
    final = run(app, "Remember that I'm allergic to peanuts")
    assert final.text == "I'll remember that."
    assert [m.text for m in app.memory.list()] == ["I'm allergic to peanuts"]
    source = app.memory.list()[0].source
    assert source.kind == "tool" and source.conversation_id == final.conversation_id
    call = [m for m in app.store.messages(final.conversation_id) if m.role == "tool_call"][0]
    assert source.message_id == call.id
    assert source.describe() == f"the remember tool in conversation {final.conversation_id[:8]}, message {call.id[:8]}"
    app.close()


def test_a_refused_forget_keeps_the_memory(fake_backend, index):
    decisions = [{"tool": "forget", "arguments": {"what": "I live in Busan"}}]
    app, _ = make(fake_backend, decisions=decisions)
    app.memory.add("I live in Busan")
    run(app, "forget that I live in Busan", approve=False)
    assert [m.text for m in app.memory.list()] == ["I live in Busan"]
    app.close()


def test_switched_off_memory_neither_learns_nor_recalls(fake_backend, index):
    settings = Settings()
    settings.memory.enabled = False
    settings.memory.auto_extract = False
    app, backend = make(fake_backend, settings=settings)
    app.memory.add("I live in Busan")
    run(app, "I live in Busan now, where is a good cafe in Busan?")
    run(app, "My dog is called Bori.")
    assert chat_prompt(backend) == "My dog is called Bori."
    assert [m.text for m in app.memory.list()] == ["I live in Busan"]
    app.close()


def test_the_assistant_starts_without_opening_memory(fake_backend, index, monkeypatch):
    opened = []
    monkeypatch.setattr("assistant.memory.service.default_index", lambda *a: opened.append(1) or index)
    app, _ = make(fake_backend)
    assert app.memory is not None and opened == []
    app.close()
