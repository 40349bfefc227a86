"""Scripted stand-ins for Whisper and the synthesizer, for fast tests of the voice loop (real ones elsewhere)."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np

from assistant.voice.audio import Audio


@dataclass
class FakeResult:
    text: str
    speech_s: float
    elapsed_s: float = 0.01


class FakeTranscriber:
    """Hears the texts given, one per call, in order (silence when they run out)."""

    def __init__(self, texts: list[str]) -> None:
        self.texts = list(texts)
        self.calls: list[dict] = []

    def transcribe(self, audio, *, hotwords=None, vad=None):
        self.calls.append({"seconds": audio.duration_s, "hotwords": hotwords})
        text = self.texts.pop(0) if self.texts else ""
        return FakeResult(text=text, speech_s=audio.duration_s)


class FakeSynth:
    """'Speaks' 0.06 s of tone per word; records every text it was asked to say."""

    def __init__(self, seconds_per_word: float = 0.06) -> None:
        self.said: list[str] = []
        self.per_word = seconds_per_word
        self.cancelled = 0
        self.lock = threading.Lock()

    def submit(self, text: str) -> Future:
        with self.lock:
            self.said.append(text)
        n = max(1, int(len(text.split()) * self.per_word * 16000))
        f: Future = Future()
        f.set_result(Audio(0.1 * np.sin(np.arange(n) / 10.0).astype(np.float32)))
        return f

    def synthesize(self, text: str) -> Audio:
        return self.submit(text).result()

    def cancel_pending(self) -> int:
        self.cancelled += 1
        return 0

    def close(self) -> None:
        pass


def tone(seconds: float = 0.0) -> Audio:
    """Real speech (a short read sentence) so the VAD hears an utterance; fake hearing decides the words."""
    from pathlib import Path

    from assistant.voice.audio import load_audio

    clip = load_audio(Path(__file__).parent / "data" / "stereo_diarization.wav", channel=1)
    return clip.slice(0.3, 2.7)
