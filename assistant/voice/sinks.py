"""Where spoken replies go when there is no speaker: a recording (for --output and tests) or nowhere."""

from __future__ import annotations

import threading
import time
from typing import Protocol

from assistant.voice.audio import Audio


class AudioSink(Protocol):
    """Plays clips one after another; `stop()` from another thread interrupts the current one."""

    def play(self, audio: Audio) -> bool: ...

    def stop(self) -> None: ...

    def reset(self) -> None: ...


class RecordingSink:
    """Keeps every clip it is given; with `realtime`, takes as long as playing it would (for barge-in tests)."""

    def __init__(self, realtime: bool = False) -> None:
        self.clips: list[Audio] = []
        self.realtime = realtime
        self._stop = threading.Event()
        self.interrupted = False

    def play(self, audio: Audio) -> bool:
        if self._stop.is_set():
            return False
        if not self.realtime:
            self.clips.append(audio)
            return True
        start = time.monotonic()
        while time.monotonic() - start < audio.duration_s:
            if self._stop.wait(0.02):
                played = time.monotonic() - start
                self.clips.append(audio.slice(0, played))
                self.interrupted = True
                return False
        self.clips.append(audio)
        return True

    def stop(self) -> None:
        self._stop.set()

    def reset(self) -> None:
        self._stop.clear()

    def audio(self, gap_s: float = 0.25) -> Audio:
        """Everything played, with a short pause between sentences, as one clip."""
        parts: list[Audio] = []
        for clip in self.clips:
            if parts:
                parts.append(Audio.silence(gap_s, clip.rate))
            parts.append(clip)
        return Audio.concat(parts)


class NullSink(RecordingSink):
    """Discards everything (speech turned off)."""

    def play(self, audio: Audio) -> bool:
        return not self._stop.is_set()
