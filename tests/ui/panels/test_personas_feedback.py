"""Personas and Feedback panels: create a persona and use it in a conversation; ratings are listed."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import pytest

from ui.panels import common
from ui.panels.feedback import FeedbackPanel
from ui.panels.personas import PersonasPanel


@dataclass
class Persona:
    name: str
    description: str = ""
    system_prompt: str = ""


class StandInPersonaStore:
    """Used only while the core's PersonaStore is not there (same agreed methods)."""

    def __init__(self) -> None:
        self.items = {"Biseo": Persona("Biseo", "The default", "You are Biseo.")}

    def list(self):
        return list(self.items.values())

    def get(self, name):
        return self.items[name]

    def save(self, persona):
        self.items[persona.name] = persona
        return persona

    def delete(self, name):
        del self.items[name]


class StandInFeedbackStore:
    def __init__(self) -> None:
        self.items = []

    def list(self, kind=None):
        return [i for i in self.items if kind in (None, i["kind"])]

    def delete(self, entry_id):
        self.items = [i for i in self.items if i["id"] != entry_id]

    def export(self, path):
        with open(path, "w", encoding="utf-8") as fh:
            for item in self.items:
                fh.write(json.dumps(item) + "\n")


@pytest.fixture
def core(services, monkeypatch):
    """The assistant's personas and feedback: the core's own, or stand-ins with the agreed methods."""
    app = services.assistant
    if not hasattr(app, "personas"):
        chosen = {}
        app.personas = StandInPersonaStore()
        app.set_persona = lambda cid, name: chosen.__setitem__(cid, name)
        app.chosen_personas = chosen
    if not hasattr(app, "feedback"):
        app.feedback = StandInFeedbackStore()
    return app


def persona_of(app, cid):
    if hasattr(app, "chosen_personas"):
        return app.chosen_personas.get(cid)
    return app.persona_for(cid)  # the core's name for it, if it has one


def test_create_a_persona_and_use_it_in_the_current_conversation(qtbot, services, core, idle, monkeypatch):
    panel = PersonasPanel(services)
    qtbot.addWidget(panel)
    panel.refresh()
    idle(panel)
    assert panel.selected_name() == "Biseo"
    assert not panel.delete_button.isEnabled()  # the default persona cannot be deleted

    panel.new_button.click()
    assert panel.name.text() == ""
    panel.save_button.click()
    assert "needs a name and a system prompt" in panel.error.message.text()
    panel.name.setText("Tutor")
    panel.description.setText("Explains step by step")
    panel.prompt.setPlainText("You are a patient maths tutor.")
    panel.save_button.click()
    idle(panel)
    assert [panel.list.item(i).text() for i in range(panel.list.count())] == ["Biseo", "Tutor"]
    assert panel.selected_name() == "Tutor" and panel.delete_button.isEnabled()
    assert core.personas.get("Tutor").system_prompt == "You are a patient maths tutor."

    panel.use_button.click()  # no conversation open yet
    assert "Open or start a conversation first" in panel.error.message.text()
    cid = core.new_conversation()
    services.current_conversation_id = cid
    chosen = []
    panel.use_persona.connect(chosen.append)
    panel.use_button.click()
    assert chosen == ["Tutor"]
    assert "now answers as Tutor" in panel.notice.text()

    monkeypatch.setattr(common, "confirm", lambda *a, **k: True)
    panel.delete_button.click()
    idle(panel)
    assert [panel.list.item(i).text() for i in range(panel.list.count())] == ["Biseo"]


def test_feedback_lists_a_rating_and_a_correction_and_exports(qtbot, services, core, idle, tmp_path, monkeypatch):
    panel = FeedbackPanel(services)
    qtbot.addWidget(panel)
    panel.refresh()
    idle(panel)
    assert panel.stack.currentWidget() is panel.empty and "thumbs up" in panel.empty.text()

    cid = core.new_conversation()
    if isinstance(core.feedback, StandInFeedbackStore):
        core.feedback.items = [
            {"id": "f1", "kind": "rating", "rating": 1, "conversation_id": cid, "message_id": "m1",
             "answer": "2 + 2 is 4.", "created_at": time.time()},
            {"id": "f2", "kind": "correction", "correction": "The capital of Australia is Canberra.",
             "conversation_id": cid, "message_id": "m2", "answer": "Sydney.", "created_at": time.time()}]
    else:  # the core's store: through its own methods, as the chat does
        from ui.chat.feedback import correct, rate

        answers = []
        for question, answer in (("What is 2 + 2?", "2 + 2 is 4."), ("Capital of Australia?", "Sydney.")):
            tid, _ = core.store.begin_turn(cid, question)
            answers.append(core.store.add_message(cid, tid, "assistant", answer))
            core.store.finish_turn(tid, "done")
        rate(core, cid, answers[0], 1)
        correct(core, cid, answers[1], "The capital of Australia is Canberra.")
    panel.refresh()
    idle(panel)
    texts = [panel.list.topLevelItem(i).text(0) for i in range(panel.list.topLevelItemCount())]
    assert "Good answer (thumbs up)" in texts
    assert "✎ Correction: The capital of Australia is Canberra." in texts
    assert panel.count.text() == "2 items"

    panel.kind.setCurrentIndex(1)  # Ratings
    idle(panel)
    assert panel.list.topLevelItemCount() == 1

    out = tmp_path / "feedback.jsonl"
    monkeypatch.setattr(common, "ask_save_path", lambda *a, **k: str(out))
    panel.export_button.click()
    idle(panel)
    assert out.exists() and "Exported" in panel.notice.text()
