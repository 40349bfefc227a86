"""The reply's voice: sentences are synthesized as they arrive and played in order on one thread."""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future

from assistant.voice.audio import Audio
from assistant.voice.events import Spoken
from assistant.voice.sinks import AudioSink

log = logging.getLogger("biseo.voice")
_DONE = object()


class SpeechQueue:
    """Say sentences one after another without waiting: synthesis runs ahead while earlier ones play."""

    def __init__(self, synthesizer, sink: AudioSink, t0: float) -> None:
        self.synthesizer = synthesizer
        self.sink = sink
        self.t0 = t0  # when the user stopped speaking; Spoken.at_s is measured from here
        self.first_audio_s: float | None = None
        self.spoken_s = 0.0
        self.stopped = False
        self.errors: list[str] = []
        self._jobs: queue.Queue = queue.Queue()
        self._events: queue.Queue[Spoken] = queue.Queue()
        self._thread = threading.Thread(target=self._play_in_order, name="biseo-speak", daemon=True)
        self._thread.start()

    def say(self, text: str) -> None:
        if text.strip() and not self.stopped:
            self._jobs.put((text, self.synthesizer.submit(text)))

    def _play_in_order(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if job is _DONE:
                    return
                self._play(*job)
            finally:
                self._jobs.task_done()

    def _play(self, text: str, future: Future) -> None:
        if self.stopped:
            future.cancel()
            return
        try:
            audio: Audio = future.result()
        except Exception as exc:  # noqa: BLE001 - a failed sentence is reported, the rest is still spoken
            self.errors.append(str(exc))
            log.warning("could not speak %r: %s", text, exc)
            return
        at = time.monotonic() - self.t0
        if self.first_audio_s is None:
            self.first_audio_s = at
        self._events.put(Spoken(text=text, audio_s=round(audio.duration_s, 3), at_s=round(at, 3)))
        if not self.sink.play(audio):
            self.stopped = True
        self.spoken_s += audio.duration_s

    def events(self) -> list[Spoken]:
        """Sentences that started playing since the last call."""
        out = []
        while not self._events.empty():
            out.append(self._events.get_nowait())
        return out

    def wait_idle(self) -> None:
        """Wait until everything said so far was played; more can be said afterwards."""
        self._jobs.join()

    def finish(self, timeout: float | None = None) -> None:
        """Wait until everything queued was played (or stopped)."""
        self._jobs.put(_DONE)
        self._thread.join(timeout)

    def stop(self) -> None:
        """Barge-in: drop what is queued and cut the sentence playing now."""
        self.stopped = True
        cancel = getattr(self.synthesizer, "cancel_pending", None)
        if cancel is not None:
            cancel()
        self.sink.stop()


def done_future(audio: Audio) -> Future:
    f: Future = Future()
    f.set_result(audio)
    return f
