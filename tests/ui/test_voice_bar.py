"""The voice bar: off with the reason when there is no microphone; push-to-talk makes a normal chat turn."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from ui.chat.messages import UserMessage


def test_without_a_microphone_the_buttons_say_why(qtbot, open_window):
    window = open_window(plugins=())
    bar = window.chat.voice_bar
    assert not bar.mic_button.isEnabled() and not bar.hands_free_button.isEnabled()
    assert "No microphone found on this computer" in bar.mic_button.toolTip()
    assert bar.hands_free_button.toolTip() == bar.mic_button.toolTip()
    send_ok = window.chat.composer.button.isEnabled()
    assert send_ok  # typing still works


class FakeMic:
    def __init__(self):
        self.started = False

    def start(self):
        self.started = True
        return self

    def drain(self):
        pass

    def read(self, timeout=0.5):
        import time

        if timeout == 0:
            return None  # nothing queued beyond what was read
        time.sleep(0.01)
        return np.full(512, 0.1, dtype=np.float32)

    def stop(self):
        pass


class FakeTranscriber:
    def transcribe(self, audio, hotwords=None):
        from types import SimpleNamespace

        return SimpleNamespace(text="what time is it", speech_s=1.0, elapsed_s=0.1)


def test_push_to_talk_becomes_a_chat_turn(qtbot, make_assistant, no_microphone):
    from assistant.voice.pipeline import VoicePipeline
    from assistant.voice.sinks import NullSink
    from ui.app import create_app
    from ui.main_window import MainWindow
    from ui.services import Services
    from ui.voice_bar import VoiceBar

    create_app()
    app = make_assistant(answers=["It is noon."], plugins=())
    services = Services(factory=lambda: app, warm_up=False)
    bar = VoiceBar(services, make_microphone=lambda settings: FakeMic(),
                   make_pipeline=lambda assistant, mic: VoicePipeline(
                       assistant, FakeTranscriber(), None, NullSink(), assistant.settings.voice, speak=False))
    window = MainWindow(services, voice_bar=bar)
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(services.ready):
        services.start()
    qtbot.waitUntil(lambda: bar.available)
    assert bar.mic_button.isEnabled() and "Hold to talk" in bar.mic_button.toolTip()
    qtbot.mousePress(bar.mic_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: bar.level.value() > 0)  # the level meter moves while recording
    qtbot.mouseRelease(bar.mic_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: window.chat.transcript.last_assistant() is not None
                    and window.chat.turn is None, timeout=10_000)
    assert [u.text for u in window.chat.transcript.of_type(UserMessage)] == ["what time is it"]
    assert "It is noon." in window.chat.transcript.last_assistant().text
    services.pool.waitForDone(5000)
