"""The assistant answers with the adapter active for the conversation's persona, read fresh every turn."""

from __future__ import annotations

from pydantic import BaseModel  # noqa: F401, I001  (before PySide6's import hook; see tests/conftest.py)

from assistant.app import Assistant
from assistant.events import Final, Status
from assistant.learning.registry import scope_for
from assistant.personas import Persona
from assistant.settings import Settings


def adapter_backend(fake_backend, size: int = 1234):
    class WithAdapters(fake_backend):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.adapter = None
            self.switches = []
            self.path = _FakePath(size)

        def set_adapter(self, path, scale=1.0):
            key = str(path) if path is not None else None
            if key == self.adapter:
                return False
            if key and key.endswith("broken/v1/adapter.gguf"):
                raise RuntimeError("not a LoRA for this model")
            self.adapter = key
            self.switches.append(key)
            return True

    return WithAdapters(decisions=[{"tool": "none"}] * 10, answers=["ok"] * 10)


class _FakePath(str):
    def __new__(cls, size):
        return super().__new__(cls, "/models/base.gguf")

    def __init__(self, size):
        self.size = size


def make(registry, name, size=None):
    number, partial = registry.reserve(name)
    (partial / "adapter.gguf").write_bytes(b"x")
    meta = {"base_model": {"name": "base", "size": size}} if size else {}
    return registry.commit(name, number, partial, meta)


def run(assistant, cid):
    return list(assistant.chat("hello", cid))


def test_the_active_adapter_follows_the_persona_and_outside_changes(fake_backend, monkeypatch):
    backend = adapter_backend(fake_backend)
    assistant = Assistant(Settings(), backend=backend, builtin_plugins=())
    monkeypatch.setattr("assistant.app._adapter_mismatch", lambda version, path: "")
    registry = assistant.adapters
    personal, coder = make(registry, "personal"), make(registry, "coder")
    assistant.personas.save(Persona(name="Coder", system_prompt="You write code."))
    cid = assistant.new_conversation()
    events = run(assistant, cid)
    assert backend.adapter is None and not any(isinstance(e, Status) and "adapter" in e.text for e in events)

    registry.use(personal.ref)  # as `biseo adapters use` from another process would
    events = run(assistant, cid)
    assert backend.adapter == str(personal.gguf)
    assert any(isinstance(e, Status) and "personal/v1" in e.text for e in events)
    assert isinstance(events[-1], Final)

    registry.use(coder.ref, scope_for("Coder"))
    coder_chat = assistant.new_conversation(persona="Coder")
    run(assistant, coder_chat)
    assert backend.adapter == str(coder.gguf)
    run(assistant, cid)
    assert backend.adapter == str(personal.gguf)

    registry.off()
    run(assistant, cid)
    assert backend.adapter is None
    assistant.close()


def test_an_adapter_for_another_model_or_a_broken_one_is_skipped_with_a_note(fake_backend, tmp_path):
    backend = adapter_backend(fake_backend)
    assistant = Assistant(Settings(), backend=backend, builtin_plugins=())
    model = tmp_path / "base.gguf"
    model.write_bytes(b"0" * 100)
    backend.path = model
    registry = assistant.adapters
    other = make(registry, "other", size=999)
    registry.use(other.ref)
    cid = assistant.new_conversation()
    events = run(assistant, cid)
    assert backend.adapter is None
    assert any(isinstance(e, Status) and "trained for base" in e.text for e in events)
    assert isinstance(events[-1], Final) and events[-1].text == "ok"

    broken = make(registry, "broken", size=100)
    registry.use(broken.ref)
    events = run(assistant, cid)
    assert backend.adapter is None
    assert any(isinstance(e, Status) and "could not be applied" in e.text for e in events)
    assert isinstance(events[-1], Final)
    assistant.close()


def test_adapters_can_be_switched_off_in_settings(fake_backend, monkeypatch):
    backend = adapter_backend(fake_backend)
    settings = Settings()
    settings.learning.use_adapters = False
    assistant = Assistant(settings, backend=backend, builtin_plugins=())
    monkeypatch.setattr("assistant.app._adapter_mismatch", lambda version, path: "")
    assistant.adapters.use(make(assistant.adapters, "personal").ref)
    run(assistant, assistant.new_conversation())
    assert backend.adapter is None
    assistant.close()
