"""Push-to-talk with a stand-in microphone that plays a real recording: what was said between press and release
becomes the same chat turn as typed text."""

from __future__ import annotations

import queue
import time

import numpy as np

from assistant.app import Assistant
from assistant.settings import Settings
from assistant.voice.audio import Audio
from assistant.voice.pipeline import VoicePipeline
from assistant.voice.push_to_talk import PushToTalk
from assistant.voice.sinks import RecordingSink
from tests.voice.fakes import FakeSynth, FakeTranscriber, tone


class ScriptedMic:
    """Delivers 32 ms blocks of a clip in real time once started, then silence."""

    def __init__(self, clip: Audio) -> None:
        self.blocks: queue.Queue = queue.Queue()
        for i in range(0, len(clip.samples), 512):
            self.blocks.put(clip.samples[i:i + 512])
        self.drained = 0

    def read(self, timeout: float = 0.5):
        try:
            return self.blocks.get(timeout=timeout) if timeout else self.blocks.get_nowait()
        except queue.Empty:
            return None

    def drain(self) -> None:
        self.drained += 1

    def stop(self) -> None:
        pass


def test_press_and_release_return_what_was_said():
    clip = tone()
    talk = PushToTalk(ScriptedMic(clip))
    talk.press()
    assert talk.recording
    deadline = time.monotonic() + 5
    while talk.mic.blocks.qsize() and time.monotonic() < deadline:
        time.sleep(0.01)
    audio = talk.release()
    assert not talk.recording
    assert abs(audio.duration_s - clip.duration_s) < 0.05
    assert np.allclose(audio.samples[:1000], clip.samples[:1000])


def test_release_without_press_is_empty():
    assert PushToTalk(ScriptedMic(tone())).release().duration_s == 0


def test_the_transcript_is_the_same_chat_turn_as_typed_text(fake_backend):
    app = Assistant(Settings(), backend=fake_backend([], ["Hello to you."]), builtin_plugins=())
    pipeline = VoicePipeline(app, FakeTranscriber(["Hello there."]), FakeSynth(), RecordingSink(),
                             app.settings.voice)
    talk = PushToTalk(ScriptedMic(tone()))
    talk.press()
    time.sleep(0.2)
    heard = pipeline.hear(talk.release())
    final = [e for e in pipeline.command(heard.text, None, t_end_speech=time.monotonic()) if e.type == "final"][0]
    messages = app.store.messages(final.conversation_id)
    assert [(m.role, m.content) for m in messages] == [("user", "Hello there."), ("assistant", "Hello to you.")]
    app.close()
