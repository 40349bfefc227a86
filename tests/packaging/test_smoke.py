"""The smoke routine the frozen app runs (`biseo --smoke-test`), here over a scripted fake backend.

Each run is its own process, as in the frozen app: the routine owns the Qt application (it runs `app.exec()` and
quits it), which a test session's shared QApplication should not go through.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys
import assistant.app  # pydantic before PySide6
from assistant.app import Assistant
from assistant.settings import DocumentSettings, MemorySettings, Settings
from tests.conftest import FakeBackend
from ui.app import create_app
from ui.services import Services
from ui.smoke import run

answer, out = sys.argv[1], sys.argv[2]
create_app()

def factory():
    return Assistant(Settings(memory=MemorySettings(enabled=False, auto_extract=False),
                              documents=DocumentSettings(enabled=False)),
                     backend=FakeBackend([{"tool": "calculator", "arguments": {"expression": "12345 * 6789"}},
                                          {"tool": "none"}], [answer]),
                     builtin_plugins=("plugins.calculator",))

sys.exit(run(out=out, timeout_s=60, services=Services(factory), checks=False))
"""


def smoke(answer: str, out: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", SCRIPT, answer, str(out)], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=300)


def test_smoke_test_passes_when_the_chat_answers_the_product(tmp_path):
    out = tmp_path / "smoke.json"
    proc = smoke("12345 * 6789 = 83,810,205.", out)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    assert result["ok"] is True and "83,810,205" in result["answer"]
    assert result["visible_s"] is not None and result["error"] is None
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == result


def test_smoke_test_fails_on_a_wrong_answer(tmp_path):
    out = tmp_path / "smoke.json"
    proc = smoke("It is 42.", out)
    assert proc.returncode == 1
    result = json.loads(out.read_text())
    assert result["ok"] is False and result["answer"] == "It is 42."
