"""Microphone and speaker through PortAudio (sounddevice); every failure becomes one plain sentence."""

from __future__ import annotations

import queue
import sys
import threading
from typing import Any

import numpy as np

from assistant.voice.audio import SAMPLE_RATE, Audio


class AudioDeviceError(RuntimeError):
    """No microphone or speaker can be used; the message says why and what to do instead."""


def _sounddevice():
    try:
        import sounddevice
    except OSError as exc:  # the Python package is there but the PortAudio library is not
        hint = " (Debian/Ubuntu: sudo apt install libportaudio2)" if sys.platform.startswith("linux") else ""
        raise AudioDeviceError(f"Sound devices need the PortAudio library{hint}.") from exc
    return sounddevice


def list_devices() -> list[dict[str, Any]]:
    """Every sound device: index, name, input and output channels, default rate."""
    sd = _sounddevice()
    try:
        devices = sd.query_devices()
    except Exception as exc:  # noqa: BLE001 - PortAudio reports a missing sound system in several ways
        raise AudioDeviceError(f"Sound devices cannot be listed: {exc}") from exc
    return [{"index": i, "name": d["name"], "inputs": d["max_input_channels"], "outputs": d["max_output_channels"],
             "default_rate": d["default_samplerate"]} for i, d in enumerate(devices)]


def pick_device(spec: str, kind: str) -> int | None:
    """The device index for a name or number from settings ('' = the system default), checked to exist."""
    channels = "inputs" if kind == "input" else "outputs"
    what = "microphone" if kind == "input" else "speaker"
    instead = ("type instead, or give a recording with `biseo voice --input FILE.wav`" if kind == "input"
               else "use --output FILE.wav to write the reply")
    devices = [d for d in list_devices() if d[channels] > 0]
    if not devices:
        raise AudioDeviceError(f"No {what} found on this computer: {instead}.")
    if not spec:
        sd = _sounddevice()
        try:
            sd.query_devices(kind=kind)
        except Exception as exc:  # noqa: BLE001
            raise AudioDeviceError(f"There is no default {what}: choose one in settings "
                                   f"(voice.{kind}_device) or {instead}.") from exc
        return None
    if spec.isdigit() and any(d["index"] == int(spec) for d in devices):
        return int(spec)
    for d in devices:
        if spec.lower() in d["name"].lower():
            return d["index"]
    names = ", ".join(d["name"] for d in devices[:5])
    raise AudioDeviceError(f"No {what} named {spec!r}; there are: {names}.")


class Microphone:
    """16 kHz mono capture; `read()` returns the next block of samples (PortAudio's thread fills a queue)."""

    def __init__(self, device: str = "", block: int = 512) -> None:
        self._device = pick_device(device, "input")
        self._block = block
        self._queue: queue.Queue[np.ndarray] = queue.Queue(maxsize=500)  # ~16 s of audio if no one reads
        self._stream = None
        self._rate = SAMPLE_RATE
        self.overflows = 0

    def start(self) -> "Microphone":
        sd = _sounddevice()

        def on_audio(indata, frames, time_info, status) -> None:  # PortAudio's thread: no blocking here
            if status:
                self.overflows += 1
            try:
                self._queue.put_nowait(indata[:, 0].copy())
            except queue.Full:
                self.overflows += 1

        for rate in (SAMPLE_RATE, None):  # some devices only run at their own rate: resample then
            try:
                self._rate = rate or int(sd.query_devices(self._device, "input")["default_samplerate"])
                self._stream = sd.InputStream(samplerate=self._rate, channels=1, dtype="float32",
                                              blocksize=self._block, device=self._device, callback=on_audio)
                self._stream.start()
                return self
            except Exception as exc:  # noqa: BLE001 - PortAudioError and ValueError for unsupported rates
                last = exc
        raise AudioDeviceError(f"The microphone cannot be opened: {last}")

    def read(self, timeout: float = 0.5) -> np.ndarray | None:
        """The next block at 16 kHz, or None when none arrived within `timeout` seconds."""
        try:
            block = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        if self._rate != SAMPLE_RATE:
            block = Audio(block, self._rate).resampled(SAMPLE_RATE).samples
        return block

    def drain(self) -> None:
        """Drop what was captured so far (e.g. the assistant's own voice)."""
        while not self._queue.empty():
            self._queue.get_nowait()

    def stop(self) -> None:
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()
            self._stream = None

    def __enter__(self) -> "Microphone":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class SpeakerSink:
    """Plays clips on the speaker, in small pieces so that `stop()` cuts it off within ~50 ms."""

    def __init__(self, device: str = "") -> None:
        self._device = pick_device(device, "output")
        self._stop = threading.Event()
        self.played_s = 0.0

    def play(self, audio: Audio) -> bool:
        """Play to the end (True) or until stop() (False)."""
        sd = _sounddevice()
        self._stop.clear()
        piece = max(1, audio.rate // 20)
        try:
            with sd.OutputStream(samplerate=audio.rate, channels=1, dtype="float32", device=self._device) as out:
                for i in range(0, len(audio.samples), piece):
                    if self._stop.is_set():
                        return False
                    out.write(audio.samples[i:i + piece].reshape(-1, 1))
                    self.played_s += min(piece, len(audio.samples) - i) / audio.rate
        except AudioDeviceError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise AudioDeviceError(f"The speaker cannot play: {exc}") from exc
        return not self._stop.is_set()

    def stop(self) -> None:
        self._stop.set()

    def reset(self) -> None:
        self._stop.clear()
