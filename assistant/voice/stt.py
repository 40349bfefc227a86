"""Speech to text: Whisper on CTranslate2 (faster-whisper), with voice-activity detection trimming silence."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.paths import Paths
from assistant.settings import VoiceSettings
from assistant.voice.audio import SAMPLE_RATE, Audio, load_audio

if TYPE_CHECKING:  # faster-whisper pulls in CTranslate2 and PyAV: imported on first load only
    from faster_whisper import WhisperModel

BEAM_SIZE = 5
MAX_CPU_THREADS = 8  # beyond this CTranslate2's Whisper gains little and starves the rest of the app
# Below about -80 dBFS a clip is digital silence; Whisper would invent words ("you", "Thank you.") for it.
SILENCE_PEAK = 1e-4


class SpeechToTextError(RuntimeError):
    """The speech model cannot be loaded or cannot transcribe; the message says why in plain words."""


@dataclass
class Segment:
    """A stretch of speech and its words, timed in seconds from the start of the audio."""

    start: float
    end: float
    text: str


@dataclass
class Transcript:
    """What was said, with timing: the audio's length, the speech in it, and the seconds transcription took."""

    text: str
    segments: list[Segment] = field(default_factory=list)
    duration_s: float = 0.0
    speech_s: float = 0.0
    elapsed_s: float = 0.0
    language: str = ""
    model: str = ""

    @property
    def rtf(self) -> float:
        """Real-time factor: seconds of work per second of audio (below 1 is faster than real time)."""
        return self.elapsed_s / self.duration_s if self.duration_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["rtf"] = self.rtf
        return data


class Transcriber:
    """One Whisper model, loaded on first use and shared by threads; transcribes files and in-memory audio."""

    def __init__(self, settings: VoiceSettings, paths: Paths) -> None:
        self.settings = settings
        self.paths = paths
        self._model: WhisperModel | None = None
        self._model_path: Path | None = None
        self._device: str | None = None
        self._load_lock = threading.Lock()
        # One transcription at a time: a second caller waits instead of halving both speeds on the CPU.
        self._run_lock = threading.Lock()

    # ------------------------------------------------------------------ properties

    @property
    def model_name(self) -> str:
        return self.settings.stt_model

    @property
    def device(self) -> str:
        """'cuda' or 'cpu'; 'auto' picks the GPU when CTranslate2 sees one."""
        if self._device is None:
            wanted = self.settings.stt_device
            if wanted == "auto":
                import ctranslate2

                wanted = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
            self._device = wanted
        return self._device

    @property
    def compute_type(self) -> str:
        """The weights' type: 'auto' is float16 on the GPU and int8 on the CPU."""
        chosen = self.settings.stt_compute_type.strip() or "auto"
        if chosen == "auto":
            return "float16" if self.device == "cuda" else "int8"
        return chosen

    @property
    def cpu_threads(self) -> int:
        return max(1, min(os.cpu_count() or 1, MAX_CPU_THREADS))

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def model_path(self) -> Path | None:
        """The model's folder once loaded."""
        return self._model_path

    # ------------------------------------------------------------------ loading

    def load(self) -> "Transcriber":
        """Load the model now (otherwise the first transcription does); safe to call from several threads."""
        if self._model is not None:
            return self
        with self._load_lock:
            if self._model is None:
                folder = self._model_folder()
                self._model = self._open(folder)
                self._model_path = folder
        return self

    def _model_folder(self) -> Path:
        from assistant.catalog.bundled import BundledModelError
        from assistant.catalog.manifests import ManifestError, load_catalog
        from assistant.catalog.resolver import ModelNotAvailable, resolve_model

        spec = self.settings.stt_model.strip()
        if not spec:
            raise SpeechToTextError("no speech model is configured: set voice.stt_model to a model name "
                                    "(see `biseo models list`) or a CTranslate2 Whisper folder")
        try:
            folder = resolve_model(spec, self.paths, load_catalog(self.paths), kind="stt").path
        except (ModelNotAvailable, BundledModelError, ManifestError) as exc:
            raise SpeechToTextError(str(exc)) from None
        # faster-whisper fetches a missing tokenizer from the Hugging Face hub; Biseo never goes online
        # behind the user's back, so an incomplete folder is an error here.
        for needed in ("model.bin", "tokenizer.json"):
            if not (folder / needed).is_file():
                raise SpeechToTextError(f"the speech model folder {folder} has no {needed}; it is not a "
                                        f"complete CTranslate2 Whisper model")
        return folder

    def _open(self, folder: Path) -> "WhisperModel":
        from faster_whisper import WhisperModel

        try:
            return WhisperModel(str(folder), device=self.device, compute_type=self.compute_type,
                                cpu_threads=self.cpu_threads, local_files_only=True)
        except Exception as exc:  # noqa: BLE001 - CTranslate2 raises RuntimeError/ValueError for bad files
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SpeechToTextError(
                f"cannot load the speech model {self.model_name} from {folder} on {self.device} "
                f"({self.compute_type}): {reason}. The model files may be damaged; reinstall or "
                f"download the model again (`biseo models list`)") from None

    def close(self) -> None:
        """Free the model's memory; the next transcription loads it again."""
        with self._run_lock, self._load_lock:
            self._model = None
            self._model_path = None

    # ------------------------------------------------------------------ transcribing

    def transcribe(self, audio: Audio | str | Path, *, hotwords: str | None = None, vad: bool | None = None,
                   channel: int | None = None) -> Transcript:
        """Transcribe a file (any common format; `channel` 0/1 picks one side of a stereo file) or audio.

        `hotwords` biases spelling toward these words (e.g. the wake phrase); `vad` overrides voice.vad.
        File problems raise AudioFileError; model problems SpeechToTextError.
        """
        started = time.perf_counter()
        # The file first: a missing or broken file is reported without waiting for the model.
        if isinstance(audio, (str, Path)):
            audio = load_audio(audio, SAMPLE_RATE, channel)
        elif not isinstance(audio, Audio):
            audio = Audio(np.asarray(audio, dtype=np.float32))
        # Same buffer when already float32 at 16 kHz (the usual case): no copy, no temporary file.
        samples = audio.resampled(SAMPLE_RATE).samples
        duration = len(samples) / SAMPLE_RATE
        use_vad = self.settings.vad if vad is None else vad
        if len(samples) == 0 or float(np.max(np.abs(samples))) < SILENCE_PEAK:
            return Transcript("", [], duration, 0.0, time.perf_counter() - started,
                              self.settings.language, self.model_name)
        language = self.settings.language.strip() or None
        loading = time.perf_counter()
        model = self.load()._model
        assert model is not None
        started += time.perf_counter() - loading  # elapsed_s is the work on this audio, not the model load
        try:
            with self._run_lock:
                pieces, info = model.transcribe(samples, language=language, beam_size=BEAM_SIZE,
                                                vad_filter=use_vad, condition_on_previous_text=False,
                                                hotwords=hotwords or None)
                # The segments are a generator: the decoding happens while it is consumed.
                segments = [Segment(float(s.start), float(s.end), s.text.strip()) for s in pieces]
        except (RuntimeError, ValueError) as exc:
            raise SpeechToTextError(f"transcription failed ({self.model_name} on {self.device}): {exc}") from None
        elapsed = time.perf_counter() - started
        segments = [s for s in segments if s.text]
        speech = float(info.duration_after_vad) if use_vad else duration
        return Transcript(" ".join(s.text for s in segments), segments, duration, speech, elapsed,
                          info.language or (language or ""), self.model_name)
