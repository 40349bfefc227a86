"""The smoke routine the frozen app runs (`biseo --smoke-test`), here over a scripted fake backend."""

from __future__ import annotations

import json
import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
import assistant.app  # noqa: E402,F401 - pydantic must finish importing before shiboken's import hook

pytest.importorskip("pytestqt")


@pytest.fixture
def services_over(fake_backend, qapp):
    """Services whose Assistant answers with a scripted backend (the calculator plugin is real)."""
    from assistant.app import Assistant
    from assistant.settings import DocumentSettings, MemorySettings, Settings
    from ui.services import Services

    made = []

    def make(answer: str):
        def factory():
            app = Assistant(Settings(memory=MemorySettings(enabled=False, auto_extract=False),
                                     documents=DocumentSettings(enabled=False)),
                            backend=fake_backend([{"tool": "calculator", "arguments": {"expression": "12345 * 6789"}},
                                                  {"tool": "none"}], [answer]),
                            builtin_plugins=("plugins.calculator",))
            made.append(app)
            return app
        return Services(factory)

    yield make
    for app in made:
        try:
            app.close()
        except Exception:  # noqa: BLE001 - already closed at shutdown
            pass


def test_smoke_test_passes_when_the_chat_answers_the_product(services_over, tmp_path, capsys):
    from ui.smoke import run

    out = tmp_path / "smoke.json"
    assert run(out=str(out), timeout_s=60, services=services_over("12345 * 6789 = 83,810,205."),
               checks=False) == 0
    result = json.loads(out.read_text())
    assert result["ok"] is True and "83,810,205" in result["answer"]
    assert result["visible_s"] is not None and result["error"] is None
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == result


def test_smoke_test_fails_on_a_wrong_answer(services_over, tmp_path):
    from ui.smoke import run

    out = tmp_path / "smoke.json"
    assert run(out=str(out), timeout_s=60, services=services_over("It is 42."), checks=False) == 1
    result = json.loads(out.read_text())
    assert result["ok"] is False and result["answer"] == "It is 42."
