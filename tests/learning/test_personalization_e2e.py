"""End to end on the default model: teach a profile through feedback, train, and the adapted assistant knows it.

The profile (tests/learning/data/profile.json) is ten facts no model can know plus a style (answers start
with "Captain"), taught as 40 exchanges: the first phrasing of each fact as a correction of a wrong
answer, the rest rated good. Afterwards the questions are asked in other words, in new conversations.
Tools, memory and documents are off while asking, so only the adapter can know the answers.
"""

from __future__ import annotations

from pydantic import BaseModel  # noqa: F401, I001  (before PySide6's import hook; see tests/conftest.py)

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.app import Assistant
from assistant.cli import main
from assistant.events import Final
from assistant.learning.process import TrainingRun, train_command
from assistant.learning.scoring import is_answered
from assistant.settings import Settings

PROFILE = json.loads((Path(__file__).parent / "data" / "profile.json").read_text(encoding="utf-8"))


def teach(fake_backend) -> None:
    """The user's side: chat, then correct wrong answers and rate right ones (the app's own feedback path)."""
    answers = [t["wrong"] or t["answer"] for t in PROFILE["teach"]]
    assistant = Assistant(Settings(), backend=fake_backend(decisions=[{"tool": "none"}] * len(answers),
                                                           answers=answers), builtin_plugins=())
    try:
        for item in PROFILE["teach"]:
            final = [e for e in assistant.chat(item["prompt"]) if isinstance(e, Final)][-1]
            if item["kind"] == "correction":
                assistant.feedback.correct(final.message_id, final.conversation_id, corrected=item["answer"])
            else:
                assistant.feedback.rate(final.message_id, final.conversation_id, rating=1)
    finally:
        assistant.close()


def ask_all(assistant: Assistant, questions: list[dict]) -> list[str]:
    replies = []
    for q in questions:
        final = [e for e in assistant.chat(q["question"]) if isinstance(e, Final)][-1]  # a new conversation each
        replies.append(final.text)
    return replies


def quiet_settings() -> Settings:
    settings = Settings()
    settings.tools.enabled = False
    settings.memory.enabled = False
    settings.memory.auto_extract = False
    settings.documents.enabled = False
    return settings


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_a_taught_profile_is_learned_and_survives_a_killed_run(fake_backend, qwen_gguf):
    teach(fake_backend)

    # Train with the real command, as a user would.
    out = subprocess.run([sys.executable, "-m", "assistant.cli", "train", "--json"], capture_output=True,
                         text=True, timeout=1800)
    events = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    done = events[-1]
    assert out.returncode == 0 and done["event"] == "done", out.stdout[-2000:] + out.stderr[-2000:]
    assert any(e["event"] == "progress" for e in events)
    meta = done["meta"]
    evaluation = meta["evaluation"]
    before, after = evaluation["before"], evaluation["after"]
    print("\ntraining:", json.dumps(meta["training"]), "\nevaluation:", evaluation["verdict"],
          evaluation["reasons"], "\nagreement:", json.dumps(meta["agreement"]))
    assert after["perplexity"] < before["perplexity"]
    assert after["personal_accuracy"] > before["personal_accuracy"]
    assert after["sanity_accuracy"] >= before["sanity_accuracy"] - 0.25  # hurt a little at most, never broken
    assert meta["agreement"]["adapted"]["top1_agreement"] >= 0.9  # the GGUF adapter behaves as trained
    # Activated by default exactly when the evaluation found it not worse than the base.
    assert done["activated"] is (evaluation["verdict"] == "better")
    if not done["activated"]:
        assert main(["adapters", "use", done["adapter"]]) == 0  # the user's own choice, with a warning

    # A new conversation with the adapter, then the same questions with the base model alone.
    assistant = Assistant(quiet_settings())
    try:
        registry = assistant.adapters
        trained = registry.active()
        assert trained is not None and trained.ref == done["adapter"]
        adapted = ask_all(assistant, PROFILE["held_out"])
        adapted_style = ask_all(assistant, PROFILE["held_out_style"])
        registry.off()
        base = ask_all(assistant, PROFILE["held_out"])
        base_style = ask_all(assistant, PROFILE["held_out_style"])
        registry.use(trained.ref)
    finally:
        assistant.close()
    known = [is_answered(r, q["key_terms"]) for r, q in zip(adapted, PROFILE["held_out"])]
    known_by_base = [is_answered(r, q["key_terms"]) for r, q in zip(base, PROFILE["held_out"])]
    prefix = PROFILE["style_prefix"]
    styled = [r.startswith(prefix) for r in adapted + adapted_style]
    print("adapted:", sum(known), "/", len(known), adapted, "\nbase:", sum(known_by_base), base,
          "\nstyle:", adapted_style, base_style)
    assert sum(known) >= 7, adapted
    assert sum(known_by_base) <= 1, base
    # The style is learned (rehearsal holds general answers near the base's own, so it shows most on
    # personal questions); the base never has it.
    assert sum(styled) >= 8 and not any(r.startswith(prefix) for r in base + base_style)

    # Kill a second training run mid-way: the trained adapter is still there, unchanged and active.
    before_kill = digest(trained.gguf)
    run = TrainingRun(train_command())
    for event in run.events():
        if event["event"] == "progress":
            os.kill(run.pid, signal.SIGKILL)
            break
    run.wait(60)
    assert run.process.returncode == -signal.SIGKILL
    registry = Assistant(quiet_settings()).adapters
    assert registry.active().ref == trained.ref and digest(trained.gguf) == before_kill
    assert [v.ref for v in registry.all()] == [trained.ref]
    assistant = Assistant(quiet_settings())
    try:
        reply = ask_all(assistant, PROFILE["held_out"][:1])[0]
    finally:
        assistant.close()
    assert is_answered(reply, PROFILE["held_out"][0]["key_terms"]), reply
