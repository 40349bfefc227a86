"""Push-to-talk: capture while the key is held; on release the recording becomes one command."""

from __future__ import annotations

import threading

import numpy as np

from assistant.voice.audio import Audio


class PushToTalk:
    """press() starts recording from a started microphone, release() returns what was said."""

    def __init__(self, microphone) -> None:
        self.mic = microphone
        self._blocks: list[np.ndarray] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.level = 0.0  # RMS of the latest block, for a level meter

    @property
    def recording(self) -> bool:
        return self._thread is not None

    def press(self) -> None:
        if self._thread is not None:
            return
        self.mic.drain()  # what the microphone heard before the key went down is not part of the command
        self._blocks = []
        self._stop.clear()
        self._thread = threading.Thread(target=self._record, name="biseo-push-to-talk", daemon=True)
        self._thread.start()

    def _record(self) -> None:
        while not self._stop.is_set():
            block = self.mic.read(timeout=0.05)
            if block is not None:
                self._blocks.append(block)
                self.level = float(np.sqrt(np.mean(np.square(block, dtype=np.float64)))) if len(block) else 0.0
        while True:  # blocks already captured when the key came up still belong to the command
            block = self.mic.read(timeout=0)
            if block is None:
                break
            self._blocks.append(block)

    def release(self) -> Audio:
        """Stop recording; the audio since press() (empty if press() was not called)."""
        if self._thread is None:
            return Audio(np.zeros(0, dtype=np.float32))
        self._stop.set()
        self._thread.join()
        self._thread = None
        self.level = 0.0
        return Audio(np.concatenate(self._blocks) if self._blocks else np.zeros(0, dtype=np.float32))
