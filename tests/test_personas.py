"""Personas: the store, and the per-conversation persona the model is given."""

from __future__ import annotations

# pydantic first: PySide6's import hook (pytest-qt) breaks pydantic's lazy imports when
# assistant.settings is the first to load it.
from pydantic import BaseModel  # noqa: F401, I001

import json

import pytest

from assistant.app import Assistant
from assistant.events import Final
from assistant.personas import DEFAULT_PERSONA, Persona, PersonaError, PersonaStore
from assistant.settings import ChatSettings, Settings

BISEO_PROMPT = "You are Biseo. Be brief."
PIRATE = Persona("Pirate", "You are a pirate. Talk like one.", "Arr")


@pytest.fixture
def personas(tmp_path):
    return PersonaStore(tmp_path / "personas.json", builtin_prompt=lambda: BISEO_PROMPT)


def test_biseo_is_always_there_and_cannot_be_changed_here(personas):
    assert [p.name for p in personas.list()] == [DEFAULT_PERSONA]
    biseo = personas.get("biseo")
    assert biseo.builtin and biseo.system_prompt == BISEO_PROMPT
    assert personas.default_name == DEFAULT_PERSONA
    for change in (lambda: personas.delete("Biseo"), lambda: personas.rename("Biseo", "Bob"),
                   lambda: personas.save(Persona("Biseo", "other prompt"))):
        with pytest.raises(PersonaError):
            change()


def test_save_get_rename_delete_survive_reopening(personas, tmp_path):
    personas.save(PIRATE)
    personas.save(Persona("  Tutor ", "You teach step by step."))
    assert personas.names() == ["Biseo", "Pirate", "Tutor"]
    personas.save(Persona("pirate", "You are a polite pirate."))  # same name, any case: replaced
    assert personas.get("PIRATE").system_prompt == "You are a polite pirate."
    assert len(personas.list()) == 3

    reopened = PersonaStore(tmp_path / "personas.json", builtin_prompt=lambda: BISEO_PROMPT)
    assert reopened.names() == ["Biseo", "pirate", "Tutor"]
    reopened.rename("Tutor", "Teacher")
    with pytest.raises(PersonaError):
        reopened.rename("Teacher", "Pirate")  # taken
    reopened.delete("pirate")
    assert reopened.names() == ["Biseo", "Teacher"]
    with pytest.raises(PersonaError):
        reopened.delete("nobody")
    for bad in (Persona("", "x"), Persona("Empty", "   "), Persona("x" * 61, "x")):
        with pytest.raises(PersonaError):
            reopened.save(bad)
    assert json.loads((tmp_path / "personas.json").read_text())["personas"][0]["name"] == "Teacher"
    assert not list(tmp_path.glob(".personas-*"))  # no temporary files left behind


def test_default_persona_and_an_unreadable_file(personas, tmp_path):
    personas.save(PIRATE)
    personas.set_default("pirate")
    assert personas.default_name == "Pirate"
    personas.delete("Pirate")
    assert personas.default_name == "Biseo"
    (tmp_path / "personas.json").write_text("{not json")
    assert personas.names() == ["Biseo"]  # still usable
    assert list(tmp_path.glob("personas.json.unreadable-*"))  # the user's file is kept aside


def make(fake_backend, answers):
    backend = fake_backend([], answers)
    app = Assistant(Settings(chat=ChatSettings(system_prompt=BISEO_PROMPT)), backend=backend, builtin_plugins=())
    return app, backend


def system_prompts(backend):
    return [c["messages"][0]["content"] for c in backend.calls if c["purpose"] == "chat"]


def drain(events):
    return [e for e in events if isinstance(e, Final)][-1]


def test_each_conversation_talks_to_its_persona(fake_backend):
    app, backend = make(fake_backend, ["Hello.", "Still hello.", "Arr, ahoy!", "Arr again."])
    try:
        app.personas.save(PIRATE)
        plain = drain(app.chat("hi")).conversation_id
        assert app.persona_of(plain) == "Biseo"
        drain(app.chat("hi again", plain))
        pirate = app.new_conversation(persona="pirate")
        assert app.persona_of(pirate) == "Pirate"
        drain(app.chat("hi", pirate))
        assert system_prompts(backend) == [BISEO_PROMPT, BISEO_PROMPT, PIRATE.system_prompt]
        app.set_persona(plain, "Pirate")  # switching applies from the next turn on
        drain(app.chat("and now?", plain))
        assert system_prompts(backend)[-1] == PIRATE.system_prompt
        with pytest.raises(ValueError):
            app.set_persona(plain, "Nobody")
        with pytest.raises(ValueError):
            app.new_conversation(persona="Nobody")
    finally:
        app.close()


def test_chat_persona_argument_renames_and_deletes(fake_backend):
    app, backend = make(fake_backend, ["one", "two", "three"])
    try:
        app.personas.save(PIRATE)
        cid = drain(app.chat("hi", persona="Pirate")).conversation_id
        assert app.persona_of(cid) == "Pirate"
        app.personas.rename("Pirate", "Captain")
        assert app.persona_of(cid) == "Captain"  # the conversation follows the rename
        drain(app.chat("still there?", cid))
        app.personas.delete("Captain")
        assert app.persona_of(cid) == "Biseo"  # back to the default persona
        drain(app.chat("and now?", cid))
        assert system_prompts(backend) == [PIRATE.system_prompt, PIRATE.system_prompt, BISEO_PROMPT]
    finally:
        app.close()


def test_the_prompt_prefix_stays_the_same_between_turns(fake_backend):
    """Turn 2's prompt starts with exactly turn 1's (system prompt and history), so the prefix cache holds."""
    app, backend = make(fake_backend, ["First answer.", "Second answer."])
    try:
        app.personas.save(PIRATE)
        cid = app.new_conversation(persona="Pirate")
        drain(app.chat("first", cid))
        drain(app.chat("second", cid))
        first, second = [c["messages"] for c in backend.calls if c["purpose"] == "chat"]
        assert second[: len(first)] == first
        assert second[len(first)] == {"role": "assistant", "content": "First answer."}
    finally:
        app.close()
