"""`biseo train` and `biseo adapters ...` from the terminal (no real training here: see test_personalization_e2e)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from assistant.cli import CLIError, main
from assistant.learning.registry import AdapterRegistry
from assistant.paths import resolve_paths


def registry() -> AdapterRegistry:
    return AdapterRegistry(resolve_paths().ensure().data_dir / "adapters")


def make(name="personal", verdict="better"):
    reg = registry()
    number, partial = reg.reserve(name)
    (partial / "adapter.gguf").write_bytes(b"x")
    return reg.commit(name, number, partial, {
        "data": {"train": 32, "held_out": 8},
        "evaluation": {"verdict": verdict, "before": {"personal_accuracy": 0.1, "sanity_accuracy": 0.8},
                       "after": {"personal_accuracy": 0.9, "sanity_accuracy": 0.8}}})


def test_list_use_off_rollback_delete(capsys):
    assert main(["adapters", "list"]) == 0
    assert "No adapters yet" in capsys.readouterr().out
    v1, v2 = make(), make(verdict="worse")
    assert main(["adapters", "use", "personal/v1"]) == 0
    assert "Answering with personal/v1 by default" in capsys.readouterr().out
    assert main(["adapters", "use", "personal", "--persona", "Coder"]) == 0
    captured = capsys.readouterr()
    assert "personal/v2 for persona Coder" in captured.out and "worse" in captured.err
    assert main(["adapters", "list"]) == 0
    out = capsys.readouterr().out
    assert "personal/v1" in out and "10% -> 90%" in out and "default" in out and "Coder" in out
    assert main(["adapters", "list", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["active_for"] for r in rows] == [["default"], ["Coder"]]
    assert main(["adapters", "off"]) == 0
    assert registry().active() is None
    assert main(["adapters", "rollback"]) == 0
    assert "Back to personal/v1" in capsys.readouterr().out
    assert main(["adapters", "delete", "personal/v2"]) == 1  # in use for Coder: refused, one plain line
    assert "in use (for Coder)" in capsys.readouterr().err
    assert main(["adapters", "show", "personal/v1"]) == 0
    assert json.loads(capsys.readouterr().out)["ref"] == "personal/v1"
    assert main(["adapters", "use", "ghost"]) == 1
    assert "no adapter called 'ghost'" in capsys.readouterr().err


def test_train_with_nothing_taught_says_what_to_do(capsys):
    assert main(["train"]) == 1
    err = capsys.readouterr().err
    assert "nothing to learn from yet" in err and "Traceback" not in err
    assert registry().all() == []


def test_train_json_reports_the_error_as_an_event(capsys):
    assert main(["train", "--json", "--from", "docs"]) == 1
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert events[-1]["event"] == "error" and "Choose the documents" in events[-1]["message"]


def test_a_second_training_run_is_refused_while_one_runs():
    from assistant.learning.train_job import TrainLock

    lock = TrainLock(registry().root / ".train.lock")
    try:
        out = subprocess.run([sys.executable, "-m", "assistant.learning.train_job"], capture_output=True,
                             text=True, timeout=120)
    finally:
        lock.release()
    event = json.loads(out.stdout.splitlines()[-1])
    assert out.returncode == 1 and event["event"] == "error" and "Another training run" in event["message"]


def test_feedback_import_round_trips_an_export(tmp_path, capsys):
    data = tmp_path / "taught.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in [
        {"kind": "correction", "prompt": "My cat?", "answer": "No idea.", "corrected": "Dubu."},
        {"kind": "rating", "prompt": "Capital of Italy?", "answer": "Rome.", "rating": 1}]) + "\n")
    assert main(["feedback", "import", str(data)]) == 0
    assert main(["feedback", "import", str(data)]) == 0  # again: replaces, never duplicates
    assert main(["feedback", "export", str(tmp_path / "out.jsonl")]) == 0
    exported = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert sorted(r["messages"][-1]["content"] for r in exported) == ["Dubu.", "Rome."]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"kind": "rating", "prompt": "q", "answer": "a", "rating": 5}) + "\n")
    capsys.readouterr()
    assert main(["feedback", "import", str(bad)]) == 1
    assert "rating of 1 or -1" in capsys.readouterr().err
