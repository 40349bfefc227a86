"""Streams of utterances: cut from a recording (on the recording's own clock) or live from the microphone."""

from __future__ import annotations

import queue
import threading
from typing import Callable, Iterator

from assistant.voice.audio import Audio
from assistant.voice.vad import Segmenter, Utterance, utterances_in


class RecordingSource:
    """Utterances of a file, handed out as a microphone would; time is the recording's, not the wall clock's."""

    live = False

    def __init__(self, audio: Audio, end_of_speech_ms: int = 700) -> None:
        self._iter: Iterator[Utterance] = utterances_in(audio, end_of_speech_ms=end_of_speech_ms)
        self._held: Utterance | None = None
        self.clock_s = 0.0

    def next(self, timeout_s: float | None = None) -> Utterance | None:
        """The next utterance starting within `timeout_s` of the clock (None: silence that long, or the end)."""
        utterance = self._held or next(self._iter, None)
        self._held = None
        if utterance is None:
            return None
        if timeout_s is not None and utterance.start_s > self.clock_s + timeout_s:
            self._held = utterance  # said later: it is the next command, not an answer to this question
            self.clock_s += timeout_s
            return None
        self.clock_s = max(self.clock_s, utterance.end_s)
        return utterance

    def advance(self, seconds: float) -> None:
        """The assistant spoke for this long: on a recording, that time passes too."""
        self.clock_s += seconds

    @property
    def in_speech(self) -> bool:
        return False

    def discard_pending(self) -> None:
        return None

    def close(self) -> None:
        return None


class MicrophoneSource:
    """Live utterances: a thread reads the microphone, segments it with the VAD and queues what it hears."""

    live = True

    def __init__(self, microphone, end_of_speech_ms: int = 700,
                 on_speech_start: Callable[[], None] | None = None,
                 on_level: Callable[[float], None] | None = None) -> None:
        self.mic = microphone
        self.segmenter = Segmenter(end_of_speech_ms=end_of_speech_ms)
        self.on_speech_start = on_speech_start
        self.on_level = on_level
        self._queue: queue.Queue[Utterance] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="biseo-listen", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        was_speaking = False
        while not self._stop.is_set():
            block = self.mic.read(timeout=0.2)
            if block is None:
                continue
            for utterance in self.segmenter.feed(block):
                self._queue.put(utterance)
            if self.on_level is not None:
                self.on_level(self.segmenter.level)
            speaking = self.segmenter.in_speech
            if speaking and not was_speaking and self.on_speech_start is not None:
                self.on_speech_start()  # barge-in watches this
            was_speaking = speaking

    @property
    def clock_s(self) -> float:
        return self.segmenter.clock_s

    @property
    def in_speech(self) -> bool:
        return self.segmenter.in_speech

    def next(self, timeout_s: float | None = None) -> Utterance | None:
        try:
            return self._queue.get(timeout=timeout_s)
        except queue.Empty:
            return None

    def advance(self, seconds: float) -> None:
        return None  # the wall clock already moved

    def discard_pending(self) -> None:
        """Forget utterances heard while the assistant spoke (mostly its own voice, without echo cancelling)."""
        while not self._queue.empty():
            self._queue.get_nowait()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.mic.stop()
