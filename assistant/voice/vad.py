"""Voice-activity detection on a live stream: Silero VAD frame by frame, and a segmenter that cuts utterances."""

from __future__ import annotations

import os
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from assistant.voice.audio import SAMPLE_RATE, Audio

FRAME = 512  # samples per VAD step at 16 kHz (32 ms): the size the Silero model was trained on
_CONTEXT = 64  # the model sees the last 64 samples of the previous frame too


def _model_path() -> Path:
    # faster-whisper ships the Silero VAD model (MIT) as an ONNX file; the same file Whisper's vad_filter uses.
    import faster_whisper

    return Path(faster_whisper.__file__).parent / "assets" / "silero_vad_v6.onnx"


class StreamingVad:
    """Speech probability for each 32 ms frame, keeping the model's state between calls."""

    _session = None
    _session_lock = threading.Lock()

    def __init__(self) -> None:
        self._session = self._shared_session()
        self.reset()

    @classmethod
    def _shared_session(cls):
        with cls._session_lock:
            if cls._session is None:
                os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
                import onnxruntime

                opts = onnxruntime.SessionOptions()
                opts.inter_op_num_threads = 1
                opts.intra_op_num_threads = 1
                opts.log_severity_level = 4
                cls._session = onnxruntime.InferenceSession(str(_model_path()), sess_options=opts,
                                                            providers=["CPUExecutionProvider"])
            return cls._session

    def reset(self) -> None:
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(_CONTEXT, dtype=np.float32)

    def frame_probability(self, frame: np.ndarray) -> float:
        """Probability (0-1) that this 512-sample frame is speech."""
        x = np.concatenate([self._context, frame.astype(np.float32)])[None, :]
        out, self._h, self._c = self._session.run(None, {"input": x, "h": self._h, "c": self._c})
        self._context = frame[-_CONTEXT:].astype(np.float32)
        return float(np.asarray(out).reshape(-1)[0])


@dataclass
class Utterance:
    """One stretch of speech cut out of a stream; times are seconds on the stream's own clock."""

    audio: Audio
    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


class Segmenter:
    """Cuts a stream of samples into utterances: speech starts above `threshold`, ends after a pause."""

    def __init__(self, *, end_of_speech_ms: int = 700, threshold: float = 0.5, min_speech_ms: int = 200,
                 pre_roll_ms: int = 300, max_utterance_s: float = 30.0, vad: StreamingVad | None = None) -> None:
        self.vad = vad or StreamingVad()
        self.threshold = threshold
        self.release = threshold - 0.15  # hysteresis: a dip in the middle of a word does not end it
        self.end_frames = max(1, int(end_of_speech_ms / 32))
        self.min_frames = max(1, int(min_speech_ms / 32))
        self.max_frames = int(max_utterance_s * SAMPLE_RATE / FRAME)
        self._pre_roll: deque[np.ndarray] = deque(maxlen=max(1, int(pre_roll_ms / 32)))
        self._pending = np.zeros(0, dtype=np.float32)
        self._frames_seen = 0
        self._speech: list[np.ndarray] = []
        self._speech_start = 0
        self._voiced = 0
        self._quiet = 0
        self.level = 0.0  # RMS of the last frame, for level meters

    @property
    def in_speech(self) -> bool:
        """True while an utterance is being heard (used for barge-in)."""
        return bool(self._speech)

    @property
    def clock_s(self) -> float:
        return self._frames_seen * FRAME / SAMPLE_RATE

    def feed(self, samples: np.ndarray) -> list[Utterance]:
        """Add samples (16 kHz mono float32); returns the utterances that ended within them."""
        data = np.concatenate([self._pending, np.asarray(samples, dtype=np.float32).reshape(-1)])
        done: list[Utterance] = []
        n = len(data) // FRAME
        for i in range(n):
            frame = data[i * FRAME:(i + 1) * FRAME]
            utterance = self._step(frame)
            if utterance is not None:
                done.append(utterance)
        self._pending = data[n * FRAME:]
        return done

    def flush(self) -> list[Utterance]:
        """The stream ended: an utterance still open ends here."""
        if self._pending.size:
            tail = np.zeros(FRAME, dtype=np.float32)
            tail[: self._pending.size] = self._pending
            self._pending = np.zeros(0, dtype=np.float32)
            done = self.feed(tail)
        else:
            done = []
        if self._speech:
            utterance = self._close(trailing_quiet=self._quiet)
            if utterance is not None:
                done.append(utterance)
        return done

    def _step(self, frame: np.ndarray) -> Utterance | None:
        self.level = float(np.sqrt(np.mean(frame.astype(np.float64) ** 2)))
        p = self.vad.frame_probability(frame)
        self._frames_seen += 1
        if not self._speech:
            self._pre_roll.append(frame)
            if p >= self.threshold:
                self._speech = list(self._pre_roll)
                self._speech_start = self._frames_seen - len(self._pre_roll)
                self._voiced, self._quiet = 1, 0
            return None
        self._speech.append(frame)
        if p >= self.release:
            self._voiced += 1
            self._quiet = 0
        else:
            self._quiet += 1
        if self._quiet >= self.end_frames or len(self._speech) >= self.max_frames:
            return self._close(trailing_quiet=self._quiet)
        return None

    def _close(self, trailing_quiet: int) -> Utterance | None:
        frames, voiced = self._speech, self._voiced
        self._speech, self._voiced, self._quiet = [], 0, 0
        self._pre_roll.clear()
        self.vad.reset()  # a fresh state per utterance keeps long sessions from drifting
        if voiced < self.min_frames:
            return None  # a click or a cough, not speech
        keep = len(frames) - max(0, trailing_quiet - 6)  # keep ~200 ms of the pause after the last word
        audio = Audio(np.concatenate(frames[:keep]))
        start = self._speech_start * FRAME / SAMPLE_RATE
        end = (self._speech_start + len(frames) - trailing_quiet) * FRAME / SAMPLE_RATE
        return Utterance(audio, start, end)


def utterances_in(audio: Audio, *, end_of_speech_ms: int = 700, chunk_s: float = 0.1) -> Iterator[Utterance]:
    """The utterances of a recording, fed in small chunks exactly as a microphone would deliver them."""
    seg = Segmenter(end_of_speech_ms=end_of_speech_ms)
    samples = audio.resampled(SAMPLE_RATE).samples
    step = max(FRAME, int(chunk_s * SAMPLE_RATE))
    for i in range(0, len(samples), step):
        yield from seg.feed(samples[i:i + step])
    yield from seg.flush()


def speech_seconds(chunks: Iterable[Utterance]) -> float:
    return sum(u.duration_s for u in chunks)
