"""Chat with your files end to end: `biseo docs add`, then `biseo ask --json` on the real default model."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from docfixtures import ACME_TOTAL, INVOICES_OVER_500, make_folder

pytestmark = pytest.mark.slow


def biseo(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assistant.cli", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=timeout)


def final_of(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, proc.stderr[-2000:]
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert events[-1]["type"] == "final", events[-3:]
    return events[-1] | {"events": events}


@pytest.fixture(scope="module")
def indexed_home(tmp_path_factory, qwen_gguf):
    """One Biseo home with the test folder indexed, shared by the questions below."""
    home = tmp_path_factory.mktemp("docs-e2e-home")
    folder = tmp_path_factory.mktemp("docs-e2e") / "docs"
    make_folder(folder)
    mp = pytest.MonkeyPatch()
    mp.setenv("BISEO_HOME", str(home))
    proc = biseo("docs", "add", str(folder))
    assert proc.returncode == 0 and "7 indexed" in proc.stdout, proc.stderr
    yield home
    mp.undo()


@pytest.fixture
def ask(indexed_home, monkeypatch):
    monkeypatch.setenv("BISEO_HOME", str(indexed_home))
    return lambda question: final_of(biseo("ask", "--json", question))


def cited(final: dict, file: str, page: int | None = None) -> bool:
    return any(c.get("file") == file and (page is None or c.get("page") == page) for c in final["citations"])


@pytest.mark.parametrize("question, file, page, answer", [
    ("What is the monthly rent in my lease?", "lease.pdf", 2, r"1,?850"),
    ("Who is the project lead of Project Falcon?", "falcon-plan.docx", None, r"Tomasz Wren"),
    ("When were the San Marzano tomatoes sown?", "garden.md", None, r"March 12|12(th)? (of )?March"),
])
def test_questions_are_answered_from_the_right_file_with_a_citation(ask, question, file, page, answer):
    final = ask(question)
    assert re.search(answer, final["text"], re.IGNORECASE), final["text"]
    assert cited(final, file, page), final["citations"]
    top = next(c for c in final["citations"] if c["file"] == file)
    assert top["source"].endswith(file) and top["snippet"] and top["n"] >= 1


def test_counting_over_the_csv_is_computed(ask):
    final = ask("How many invoices are over 500?")
    calls = [e for e in final["events"] if e["type"] == "tool_call"]
    assert calls and calls[0]["name"] == "table_query", final["events"]
    result = next(e for e in final["events"] if e["type"] == "tool_result")
    assert result["ok"] and f"count = {INVOICES_OVER_500}" in result["output"]
    assert str(INVOICES_OVER_500) in final["text"] or "four" in final["text"].lower(), final["text"]
    assert cited(final, "invoices.csv")


def test_absent_facts_are_not_found_in_the_documents(ask):
    final = ask("According to my documents, what is the name of my car insurer?")
    assert re.search(r"(could not|couldn't|can't|cannot|did not|didn't|not) (be )?(find|found)", final["text"],
                     re.IGNORECASE), final["text"]
    assert "document" in final["text"].lower()
    assert final["citations"] == []


def test_summing_over_the_csv_is_computed_not_guessed(ask):
    final = ask("What is the total amount for ACME?")
    calls = [e for e in final["events"] if e["type"] == "tool_call"]
    assert calls and calls[0]["name"] == "table_query", final["events"]
    assert calls[0]["arguments"]["operation"] == "sum", calls[0]
    result = next(e for e in final["events"] if e["type"] == "tool_result")
    assert result["ok"] and re.search(r"= 2,?030\.5\b", result["output"]), (calls, result["output"])
    assert re.search(r"2,?030\.5", final["text"]) or str(ACME_TOTAL) in final["text"], final["text"]
