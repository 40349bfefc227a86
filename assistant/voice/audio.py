"""Mono float32 audio in memory, and reading and writing it as files."""

from __future__ import annotations

import os
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16_000  # what Whisper, the VAD and the microphone use


class AudioFileError(ValueError):
    """An audio file is missing, empty or not audio; the message says which, in plain words."""


@dataclass(frozen=True)
class Audio:
    """Mono samples in [-1, 1] at `rate` Hz."""

    samples: np.ndarray
    rate: int = SAMPLE_RATE

    def __post_init__(self) -> None:
        data = np.asarray(self.samples, dtype=np.float32).reshape(-1)
        object.__setattr__(self, "samples", data)

    @property
    def duration_s(self) -> float:
        return len(self.samples) / float(self.rate)

    def resampled(self, rate: int = SAMPLE_RATE) -> "Audio":
        """The same sound at another rate (linear interpolation; enough for speech)."""
        if rate == self.rate or len(self.samples) == 0:
            return self if rate == self.rate else Audio(self.samples, rate)
        n = max(1, int(round(len(self.samples) * rate / self.rate)))
        t_new = np.arange(n, dtype=np.float64) * (self.rate / rate)
        out = np.interp(t_new, np.arange(len(self.samples)), self.samples.astype(np.float64))
        return Audio(out.astype(np.float32), rate)

    def slice(self, start_s: float, end_s: float | None = None) -> "Audio":
        a = max(0, int(start_s * self.rate))
        b = len(self.samples) if end_s is None else max(a, int(end_s * self.rate))
        return Audio(self.samples[a:b], self.rate)

    def rms(self) -> float:
        return float(np.sqrt(np.mean(self.samples.astype(np.float64) ** 2))) if len(self.samples) else 0.0

    @staticmethod
    def silence(seconds: float, rate: int = SAMPLE_RATE) -> "Audio":
        return Audio(np.zeros(int(seconds * rate), dtype=np.float32), rate)

    @staticmethod
    def concat(parts: list["Audio"], rate: int | None = None) -> "Audio":
        """Join clips, resampling each to `rate` (default: the first clip's rate)."""
        if not parts:
            return Audio(np.zeros(0, dtype=np.float32), rate or SAMPLE_RATE)
        rate = rate or parts[0].rate
        return Audio(np.concatenate([p.resampled(rate).samples for p in parts]), rate)


def load_audio(path: str | os.PathLike, rate: int = SAMPLE_RATE, channel: int | None = None) -> Audio:
    """Read any audio file (WAV, FLAC, MP3, OGG, ...) as mono at `rate`; `channel` picks one of a stereo pair."""
    p = Path(path)
    if not p.is_file():
        raise AudioFileError(f"{p}: no such file")
    if p.stat().st_size == 0:
        raise AudioFileError(f"{p}: the file is empty")
    try:
        audio = _read_wav(p, channel)
    except (wave.Error, EOFError, ValueError):
        audio = _decode_any(p, rate, channel)
    if len(audio.samples) == 0:
        raise AudioFileError(f"{p}: the file holds no sound")
    return audio.resampled(rate)


def _read_wav(path: Path, channel: int | None) -> Audio:
    with wave.open(str(path), "rb") as w:
        width, channels, rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
        raw = w.readframes(w.getnframes())
    if width == 2:
        data = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    elif width == 1:
        data = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 4:
        data = np.frombuffer(raw, dtype="<i4").astype(np.float32) / 2147483648.0
    else:
        raise ValueError("24-bit WAV: decode through PyAV")
    if channels > 1:
        data = data[: len(data) // channels * channels].reshape(-1, channels)
        data = data[:, channel] if channel is not None and channel < channels else data.mean(axis=1)
    return Audio(data, rate)


def _decode_any(path: Path, rate: int, channel: int | None) -> Audio:
    from faster_whisper import decode_audio  # PyAV behind it reads every common format

    try:
        if channel is not None:
            left, right = decode_audio(str(path), sampling_rate=rate, split_stereo=True)
            return Audio(left if channel == 0 else right, rate)
        return Audio(decode_audio(str(path), sampling_rate=rate), rate)
    except Exception as exc:  # noqa: BLE001 - PyAV raises many types for files that are not audio
        raise AudioFileError(f"{path}: not a readable audio file ({type(exc).__name__}: {exc})") from exc


def to_pcm16(audio: Audio) -> bytes:
    return (np.clip(audio.samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def write_wav(path: str | os.PathLike, audio: Audio) -> Path:
    """Write 16-bit mono PCM; written to a temporary name first so a crash never leaves half a file."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(audio.rate)
        w.writeframes(to_pcm16(audio))
    os.replace(tmp, p)
    return p
