"""Adapters panel: versions with their before/after figures, Use / Off / Roll back / Delete, and training runs."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from assistant.personas import Persona
from ui.panels import common
from ui.panels.adapter_chart import BeforeAfterChart, metrics_from
from ui.panels.adapters import AdaptersPanel


def side(perplexity, personal, sanity):
    return {"perplexity": perplexity, "text_perplexity": None,
            "personal_accuracy": personal[0] / personal[1], "personal_correct": personal[0],
            "personal_total": personal[1], "sanity_accuracy": sanity[0] / sanity[1], "sanity_correct": sanity[0],
            "sanity_total": sanity[1],
            "answers": [{"set": "personal", "question": "What is my cat called?", "expected": "Miso",
                         "answer": "Miso." if personal[0] >= 3 else "I don't know.", "ok": personal[0] >= 3}]}


def meta(verdict="better", before=(8.0, (1, 5), (9, 10)), after=(5.0, (4, 5), (9, 10))):
    return {"data": {"train": 40, "held_out": 10, "by_source": {"correction": 30, "rating": 20},
                     "skipped": {"rated bad, no correction": 2}, "source": "feedback"},
            "config": {"epochs": 4, "rank": 16},
            "training": {"device": "cpu", "precision": "float32", "seconds": 134.0, "peak_memory_mb": 2048,
                         "examples": 40, "seconds_per_100_examples": 335.0, "first_loss": 2.31, "last_loss": 0.84},
            "evaluation": {"verdict": verdict, "reasons": ["held-out reply perplexity 8.00 -> 5.00"],
                           "before": side(*before), "after": side(*after)},
            "agreement": {"adapted": {"top1_agreement": 0.97, "positions": 812, "first_token_agreement": 1.0},
                          "base": {"top1_agreement": 0.99, "positions": 812, "first_token_agreement": 1.0}},
            "persona": None, "base_model": {"name": "Qwen2.5 0.5B"}}


def add_version(registry, name="personal", data=None):
    """A complete version without training: a dummy adapter file and the meta a run would write."""
    number, partial = registry.reserve(name)
    (partial / "adapter.gguf").write_bytes(b"GGUF dummy")
    return registry.commit(name, number, partial, data if data is not None else meta())


def plain(rich: str) -> str:
    """What a rich-text label shows, as text."""
    from PySide6.QtGui import QTextDocument

    doc = QTextDocument()
    doc.setHtml(rich)
    return doc.toPlainText()


def rows(panel):
    return [[panel.list.topLevelItem(i).text(c) for c in range(5)] for i in range(panel.list.topLevelItemCount())]


@pytest.fixture
def registry(services):
    return services.assistant.adapters


def open_panel(qtbot, services, idle, **kwargs) -> AdaptersPanel:
    panel = AdaptersPanel(services, **kwargs)
    qtbot.addWidget(panel)
    panel.resize(900, 700)
    panel.show()
    panel.refresh()
    idle(panel)
    return panel


def test_versions_are_listed_with_their_figures_and_chart(qtbot, services, registry, idle):
    add_version(registry)
    add_version(registry, data=meta("worse", after=(9.5, (0, 5), (6, 10))))
    panel = open_panel(qtbot, services, idle)

    assert [r[0] for r in rows(panel)] == ["personal/v2", "personal/v1"]
    assert [r[2:4] for r in rows(panel)] == [["40 (+10 held out)", "worse"], ["40 (+10 held out)", "better"]]
    assert panel.in_use.text() == "By default Biseo answers without an adapter."

    panel.select("personal/v1")
    chart = {m.label: (m.before, m.after, m.change) for m in panel.chart.metrics}
    assert chart == {"Held-out perplexity (lower is better)": (8.0, 5.0, "better"),
                     "Personal questions answered right": (0.2, 0.8, "better"),
                     "General sanity questions answered right": (0.9, 0.9, "same")}
    figures = plain(panel.figures.text())
    assert "In use: not now." in figures
    assert "Verdict: better (held-out reply perplexity 8.00 -> 5.00)." in figures
    assert "40 examples trained on, 10 held out to judge it (30 corrections, 20 good ratings)" in figures
    assert "2 skipped (rated bad, no correction)" in figures
    assert "loss 2.310 → 0.840" in figures and "2 min 14 s," in figures
    assert "Agreement: the served model (llama.cpp) picks the trained model's next token 97% of the time over " \
           "812 positions (base model 99%)." in figures
    panel.answers_button.click()
    assert "before (wrong): I don't know." in panel.answers.toPlainText()
    assert "after (right): Miso." in panel.answers.toPlainText()

    panel.select("personal/v2")
    assert [m.change for m in panel.chart.metrics] == ["worse", "worse", "worse"]


def test_the_chart_reads_an_evaluation_and_draws(qtbot):
    chart = BeforeAfterChart()
    qtbot.addWidget(chart)
    metrics = metrics_from(meta()["evaluation"])
    assert [(m.text(m.before), m.text(m.after)) for m in metrics] == [("8.00", "5.00"), ("20%", "80%"),
                                                                       ("90%", "90%")]
    assert metrics[1].after_detail == "4 of 5"
    assert metrics_from({"verdict": "unknown", "reasons": ["not evaluated (--skip-eval)"]}) == []
    chart.set_metrics(metrics)
    chart.resize(420, chart.height())
    assert not chart.grab().isNull()


def test_use_off_rollback_and_delete_change_what_is_active(qtbot, services, registry, idle, monkeypatch):
    services.assistant.personas.save(Persona("Tutor", "You are a patient tutor."))
    add_version(registry)
    add_version(registry)
    panel = open_panel(qtbot, services, idle)

    panel.select("personal/v1")
    panel.use_button.click()
    idle(panel)
    assert registry.state()["active"] == {"": "personal/v1"}
    assert rows(panel)[1][4] == "default" and "In use by default: personal/v1." in panel.in_use.text()
    assert "personal/v1 is now in use by default" in panel.notice.text()
    assert not panel.use_button.isEnabled()  # already in use there

    panel.scope.setCurrentIndex(panel.scope.findData("persona:Tutor"))
    panel.select("personal/v2")
    panel.use_button.click()
    idle(panel)
    assert registry.state()["active"] == {"": "personal/v1", "persona:Tutor": "personal/v2"}
    assert rows(panel)[0][4] == "Tutor"

    monkeypatch.setattr(common, "confirm", lambda *a, **k: True)
    panel.select("personal/v1")
    panel.delete_button.click()
    idle(panel)
    assert "personal/v1 is in use (by default)" in panel.error.message.text()  # refused, in the panel
    assert [r[0] for r in rows(panel)] == ["personal/v2", "personal/v1"]

    panel.scope.setCurrentIndex(panel.scope.findData(""))
    panel.off_button.click()
    idle(panel)
    assert registry.state()["active"] == {"persona:Tutor": "personal/v2"}
    assert panel.in_use.text().startswith("By default Biseo answers without an adapter.")

    panel.rollback_button.click()
    idle(panel)
    assert registry.state()["active"][""] == "personal/v1"
    assert "personal/v1 is in use again" in panel.notice.text()

    panel.off_button.click()
    idle(panel)
    panel.select("personal/v1")
    panel.delete_button.click()
    idle(panel)
    assert [r[0] for r in rows(panel)] == ["personal/v2"] and not panel.error.isVisible()
    assert "Deleted personal/v1." in panel.notice.text()


def test_rollback_with_nothing_to_go_back_to_says_so(qtbot, services, registry, idle):
    add_version(registry)
    panel = open_panel(qtbot, services, idle)
    panel.roll_back()  # the button is disabled; the registry's own refusal still reads well
    idle(panel)
    assert panel.error.message.text() == "There is nothing to roll back to."


def test_reevaluate_runs_in_the_background_and_shows_the_new_verdict(qtbot, services, registry, idle, monkeypatch):
    add_version(registry, data=meta("unknown"))
    calls = []

    def rerun(reg, version):
        calls.append(version.ref)
        return reg.update_meta(version, evaluation=meta("better")["evaluation"])

    monkeypatch.setattr("assistant.learning.reevaluate.rerun", rerun)
    panel = open_panel(qtbot, services, idle)
    assert rows(panel)[0][3] == "not evaluated"
    panel.select("personal/v1")
    panel.reevaluate_button.click()
    idle(panel)
    assert calls == ["personal/v1"]
    assert rows(panel)[0][3] == "better" and "Re-evaluated personal/v1: better" in panel.notice.text()


def fake_training(tmp_path: Path, *, finish: str, script_events: list[dict], root: Path | None = None):
    """A command factory for a stand-in training process: prints `script_events`, waits for a go file, then
    writes a version itself and reports `finish` (done / error) — or, with finish="hang", waits to be cancelled."""
    go = tmp_path / "go"
    script = textwrap.dedent(f"""
        import json, sys, time
        from pathlib import Path
        def emit(**e): print(json.dumps(e), flush=True)
        for e in {script_events!r}:
            emit(**e)
        while not Path({str(go)!r}).exists():
            time.sleep(0.02)
        finish = {finish!r}
        if finish == "hang":
            time.sleep(120)
        elif finish == "error":
            emit(event="error", message="There is nothing to learn from yet: rate or correct some answers first.")
            sys.exit(1)
        else:
            meta = json.loads(sys.argv[1])
            folder = Path(sys.argv[2])
            folder.mkdir(parents=True)
            (folder / "adapter.gguf").write_bytes(b"GGUF dummy")
            (folder / "meta.json").write_text(json.dumps({{**meta, "name": "mine", "version": 1}}))
            emit(event="done", adapter="mine/v1", activated=True, meta=meta)
    """)
    made: list[dict] = []

    def factory(**choices):
        made.append(choices)
        return [sys.executable, "-c", script, json.dumps(meta()), str((root or tmp_path) / "mine" / "v1")]

    factory.made = made
    return factory, go


PROGRESS = [{"event": "phase", "phase": "dataset", "message": "Collecting what you taught"},
            {"event": "dataset", "train": 40, "held_out": 10, "by_source": {}, "skipped": {}},
            {"event": "phase", "phase": "training", "message": "Training"},
            {"event": "progress", "step": 3, "total": 12, "epoch": 1, "epochs": 4, "loss": 1.2345, "elapsed_s": 6.0}]


def test_training_shows_progress_then_the_result_even_while_hidden(qtbot, services, registry, idle, tmp_path):
    factory, go = fake_training(tmp_path, finish="done", script_events=PROGRESS, root=registry.root)
    panel = open_panel(qtbot, services, idle, command_factory=factory)
    assert panel.list_stack.currentWidget() is panel.empty and "Train one below" in panel.empty.text()
    panel.train_name.setText("mine")
    panel.train_epochs.setValue(4)
    panel.train_button.click()
    assert factory.made == [{"adapter": "mine", "source": "feedback", "docs": None, "epochs": 4, "persona": None}]
    assert not panel.train_button.isEnabled() and panel.cancel_button.isVisible()

    qtbot.waitUntil(lambda: (panel.last_event or {}).get("event") == "progress", timeout=15_000)
    assert panel.progress_label.text() == "Training: epoch 1 of 4, loss 1.234, about 18 s left."
    assert (panel.progress.value(), panel.progress.maximum(), panel.progress.format()) == (3, 12, "step 3 of 12")

    panel.hide()  # the user looks at the chat meanwhile
    go.touch()
    qtbot.waitUntil(lambda: not panel.training_running, timeout=15_000)
    panel.show()
    idle(panel)
    assert panel.result.text().startswith("Trained mine/v1 on 40 examples in 2 min 14 s. Compared with the "
                                          "plain model it is better (held-out reply perplexity 8.00 -> 5.00).")
    assert "now in use by default" in panel.result.text()
    assert [r[0] for r in rows(panel)] == ["mine/v1"] and panel.selected_ref() == "mine/v1"
    assert panel.train_button.isEnabled() and not panel.progress.isVisible()


def test_a_failed_training_shows_why_and_changes_nothing(qtbot, services, registry, idle, tmp_path):
    add_version(registry)
    factory, go = fake_training(tmp_path, finish="error", script_events=PROGRESS[:1])
    go.touch()
    panel = open_panel(qtbot, services, idle, command_factory=factory)
    panel.train_button.click()
    qtbot.waitUntil(lambda: not panel.training_running, timeout=15_000)
    idle(panel)
    assert panel.error.message.text() == ("Training failed: There is nothing to learn from yet: rate or correct "
                                          "some answers first.")
    assert [r[0] for r in rows(panel)] == ["personal/v1"] and not panel.result.isVisible()
    assert panel.train_button.isEnabled()


def test_cancel_stops_the_training_process(qtbot, services, registry, idle, tmp_path):
    factory, go = fake_training(tmp_path, finish="hang", script_events=PROGRESS)
    go.touch()
    panel = open_panel(qtbot, services, idle, command_factory=factory)
    panel.train_button.click()
    task = panel.training
    qtbot.waitUntil(lambda: (panel.last_event or {}).get("event") == "progress", timeout=15_000)
    panel.cancel_button.click()
    assert "Stopping" in panel.progress_label.text() and not panel.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: not panel.training_running, timeout=15_000)
    assert task.run.process.poll() is not None  # the process is gone
    assert panel.notice.text() == "Training was cancelled; your adapters are as they were."
    assert not panel.error.isVisible() and not panel.result.isVisible() and rows(panel) == []
    assert panel.train_button.isEnabled()


def test_documents_must_be_chosen_to_learn_from_documents(qtbot, services, idle, tmp_path, monkeypatch):
    factory, _ = fake_training(tmp_path, finish="error", script_events=[])
    panel = open_panel(qtbot, services, idle, command_factory=factory)
    panel.train_source.setCurrentIndex(panel.train_source.findData("docs"))
    assert panel.docs_row.isVisibleTo(panel)
    panel.train_button.click()
    assert "Choose the documents" in panel.error.message.text() and factory.made == []

    monkeypatch.setattr(common, "ask_folder", lambda *a: str(tmp_path))
    panel._choose_docs()
    assert panel.train_docs.text() == str(tmp_path)
