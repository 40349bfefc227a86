"""The window over the real bundled model (slow): a calculator question shows its card and the right answer."""

from __future__ import annotations

import pytest

from ui.chat.tool_card import ToolCard

pytestmark = pytest.mark.slow


def test_calculator_question_with_the_real_model(qtbot, qwen_gguf, no_microphone, send, wait_idle):
    from assistant.app import Assistant
    from assistant.settings import DocumentSettings, MemorySettings, Settings
    from ui.app import create_app
    from ui.main_window import MainWindow
    from ui.services import Services

    create_app()
    services = Services(factory=lambda: Assistant(Settings(memory=MemorySettings(enabled=False, auto_extract=False),
                                                           documents=DocumentSettings(enabled=False))))
    window = MainWindow(services)
    qtbot.addWidget(window)
    window.show()
    services.start()
    qtbot.waitUntil(lambda: window.model_label.text().startswith("Model ready"), timeout=240_000)
    send(window, "What is 12345 * 6789?")
    wait_idle(window, timeout=240_000)
    cards = window.chat.transcript.of_type(ToolCard)
    assert cards and cards[0].name == "calculator" and "83810205" in cards[0].result_text
    assert "83810205" in window.chat.transcript.last_assistant().text.replace(",", "")
    services.shutdown()
