"""Text to speech through the system synthesizer (pyttsx3), on one engine thread."""

from __future__ import annotations

import atexit
import logging
import os
import queue
import sys
import tempfile
import re
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from assistant.voice.audio import Audio, AudioFileError, load_audio

log = logging.getLogger(__name__)

MIN_RATE, MAX_RATE = 60, 400  # words per minute; the range settings.voice.tts_rate allows
_SYNTH_TIMEOUT_S = 120.0  # a sentence takes milliseconds; this only stops a hung engine from hanging the caller


class TextToSpeechError(RuntimeError):
    """Speech could not be synthesized; the message says why in plain words."""


@dataclass(frozen=True)
class VoiceInfo:
    """One voice of the system synthesizer."""

    id: str
    name: str
    languages: list[str] = field(default_factory=list)


def _engine_missing_message(exc: BaseException) -> str:
    if sys.platform.startswith("linux"):
        return "Speech output needs espeak-ng: install it with `sudo apt install espeak-ng`"
    if sys.platform == "darwin":
        return f"Speech output needs the macOS speech synthesizer through pyobjc: `pip install pyobjc` ({exc})"
    if sys.platform == "win32":
        return f"Speech output needs the Windows speech engine (SAPI5) through pywin32 and comtypes ({exc})"
    return f"Speech output needs espeak-ng, which could not be started ({exc})"


# Every engine ever made stays referenced: a dropped espeak engine clears the one process-wide
# synthesis callback when it is collected, which would silence (and hang) the engine that replaced it.
_keep_alive: list[Any] = []


def _quiet_exit() -> None:
    # pyttsx3's DriverProxy.__del__ uses contextlib, which is gone when the interpreter tears modules down; the
    # kept engines would print a traceback each at exit. The process is ending: nothing is left to clean up.
    driver = sys.modules.get("pyttsx3.driver")
    if driver is not None:
        driver.DriverProxy.__del__ = lambda self: None


atexit.register(_quiet_exit)


def _quiet_print(*args: Any, **_kwargs: Any) -> None:
    """Stands in for print() inside pyttsx3 drivers, which announce saved files on stdout."""
    log.debug("pyttsx3: %s", " ".join(str(a) for a in args))


@dataclass
class _Job:
    future: Future
    run: Callable[["_EngineThread"], Any]


class _EngineThread:
    """The one thread that owns the pyttsx3 engine; every engine call runs here, in order."""

    def __init__(self) -> None:
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._engine: Any = None
        self._applied: tuple[str, int] | None = None  # (voice id, rate) the engine is set to
        self._errors: list[BaseException] = []
        self.default_voice = ""
        self.voice_list: list[VoiceInfo] = []
        self.thread = threading.Thread(target=self._loop, name="biseo-tts", daemon=True)
        self.thread.start()

    def call(self, run: Callable[["_EngineThread"], Any], future: Future | None = None) -> Future:
        future = future or Future()
        self._jobs.put(_Job(future, run))
        return future

    def stop(self) -> None:
        self._jobs.put(None)
        if threading.current_thread() is not self.thread:
            self.thread.join(timeout=10)

    def _loop(self) -> None:
        if sys.platform == "win32":  # SAPI5 is a COM object: this thread needs its own apartment
            try:
                import pythoncom  # type: ignore[import-not-found]

                pythoncom.CoInitialize()
            except ImportError:
                pass
        while (job := self._jobs.get()) is not None:
            if not job.future.set_running_or_notify_cancel():
                continue  # cancelled while queued (barge-in)
            try:
                job.future.set_result(job.run(self))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller through the future
                job.future.set_exception(exc)
        self._engine = None
        while not self._jobs.empty():  # a job queued after stop() must not wait forever
            late = self._jobs.get_nowait()
            if late is not None and late.future.set_running_or_notify_cancel():
                late.future.set_exception(TextToSpeechError("the speech synthesizer is closed"))

    # --- everything below runs on the engine thread -------------------------------------------

    def engine(self) -> Any:
        if self._engine is None:
            try:
                import pyttsx3

                # A fresh Engine, not pyttsx3.init(): init() hands out one cached engine per process,
                # which another thread could then drive at the same time.
                engine = pyttsx3.Engine()
                _keep_alive.append(engine)
            except Exception as exc:  # noqa: BLE001 - missing library: OSError, RuntimeError, ImportError, COM errors
                raise TextToSpeechError(_engine_missing_message(exc)) from exc
            driver = sys.modules.get(f"pyttsx3.drivers.{engine.driver_name}")
            if driver is not None:
                # Shadow print() in the driver's own globals: thread-safe, and stdout stays for JSON lines.
                driver.print = _quiet_print  # type: ignore[attr-defined]
            engine.connect("error", lambda name=None, exception=None: self._errors.append(exception))
            self.default_voice = str(engine.getProperty("voice") or "")
            self.voice_list = [_voice_info(v) for v in engine.getProperty("voices") or []]
            self._engine, self._applied = engine, None
        return self._engine

    def synthesize(self, text: str, voice: str, rate: int) -> Audio:
        engine = self.engine()
        voice = voice or self.default_voice
        if self._applied != (voice, rate):
            _apply(engine, voice, rate)
            self._applied = (voice, rate)
        suffix = ".aiff" if engine.driver_name == "nsss" else ".wav"  # macOS writes AIFF whatever the name
        fd, path = tempfile.mkstemp(prefix="biseo-tts-", suffix=suffix)
        os.close(fd)
        self._errors.clear()
        try:
            engine.save_to_file(text, path)
            try:
                engine.runAndWait()
            except Exception as exc:  # noqa: BLE001 - a driver left mid-loop cannot run again: start afresh
                self._engine = None
                raise TextToSpeechError(f"speech synthesis failed: {exc}") from exc
            if self._errors:
                self._engine = None
                raise TextToSpeechError(f"speech synthesis failed: {self._errors[0]}")
            if os.path.getsize(path) == 0:
                return _empty()
            try:
                return load_audio(path)
            except AudioFileError:  # a header and no samples: text with nothing to pronounce
                return _empty()
        finally:
            try:
                os.unlink(path)
            except OSError:
                pass


def _apply(engine: Any, voice: str, rate: int) -> None:
    if engine.driver_name != "espeak":
        if voice:
            engine.setProperty("voice", voice)
        engine.setProperty("rate", rate)
        return
    # pyttsx3 queues espeak's changes, and the Cancel it sends when its loop ends can drop a rate
    # change espeak has not taken yet (the rate then sticks at the old value, at random). Set them
    # directly and wait until espeak has them.
    from pyttsx3.drivers import _espeak
    from pyttsx3.drivers.espeak import EspeakDriver

    _espeak.Synchronize()
    if voice:
        EspeakDriver.setProperty("voice", voice)
    EspeakDriver.setProperty("rate", rate)
    _espeak.Synchronize()


def _voice_info(voice: Any) -> VoiceInfo:
    langs = []
    for lang in getattr(voice, "languages", None) or []:
        if isinstance(lang, bytes):  # some drivers hand back raw bytes
            lang = lang.decode("utf-8", errors="ignore").lstrip("\x00\x01\x02\x03\x04\x05")
        if str(lang).strip():
            langs.append(str(lang).strip())
    return VoiceInfo(id=str(voice.id), name=str(voice.name or voice.id), languages=langs)


def _empty() -> Audio:
    return Audio(np.zeros(0, dtype=np.float32))


# One engine thread per process, shared by every Synthesizer: espeak has a single global synthesis
# callback, so two engines in one process would steal each other's audio.
_shared: _EngineThread | None = None
_users = 0
_shared_lock = threading.Lock()


def _acquire() -> _EngineThread:
    global _shared, _users
    with _shared_lock:
        if _shared is None:
            _shared = _EngineThread()
        _users += 1
        return _shared


def _release(worker: _EngineThread) -> None:
    global _shared, _users
    with _shared_lock:
        _users -= 1
        if _users > 0 or _shared is not worker:
            return
        _shared = None
        worker.stop()  # under the lock, so a new engine thread never overlaps the old one


def find_voice(voices: list[VoiceInfo], wanted: str) -> VoiceInfo | None:
    """The voice named by id, name or language code (case-insensitive); None when nothing matches."""
    w = wanted.strip().lower()
    if not w:
        return None
    checks: list[Callable[[VoiceInfo], bool]] = [
        lambda v: v.id.lower() == w,
        lambda v: v.name.lower() == w,
        lambda v: v.id.lower().rsplit("/", 1)[-1] == w,  # espeak ids are "family/code": "en-us" finds "gmw/en-us"
        lambda v: any(lang.lower() == w for lang in v.languages),
        lambda v: any(lang.lower().replace("_", "-").split("-")[0] == w for lang in v.languages),
    ]
    for check in checks:
        for voice in voices:
            if check(voice):
                return voice
    return None


# espeak-ng's default (British English, its plain variant) was the hardest to understand when measured: Whisper
# tiny.en heard it with a 0.55 word error rate on eight reply-like sentences; US English with variant m5 scored
# 0.26, the best of the 52 voice/rate pairs tried (bench notes in docs/voice.md).
ESPEAK_DEFAULT = "en-us+m5"


class Synthesizer:
    """Turns text into Audio with the system voice; thread-safe, all engine work on one thread."""

    def __init__(self, voice: str = "", rate: int = 175) -> None:
        if not isinstance(rate, int) or not MIN_RATE <= rate <= MAX_RATE:
            raise TextToSpeechError(f"speaking rate must be {MIN_RATE} to {MAX_RATE} words per minute, not {rate}")
        self.rate = rate
        self._pending: set[Future] = set()
        self._lock = threading.Lock()
        self._worker: _EngineThread | None = _acquire()
        try:
            voices = self.voices()  # starts the engine now, so a missing espeak-ng shows up here
            self.voice = self._resolve(voice, voices)
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _resolve(wanted: str, voices: list[VoiceInfo]) -> str:
        espeak = any(v.id.startswith("gmw/") for v in voices)
        if not wanted.strip():
            if not espeak:
                return ""  # SAPI5 and NSSpeechSynthesizer defaults are good; espeak-ng's is not
            wanted = ESPEAK_DEFAULT
        variant = ""
        if espeak and "+" in wanted:  # espeak-ng voice variants: "en-us+m5" is en-us spoken by variant m5
            wanted, variant = wanted.split("+", 1)
            if not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", variant):
                raise TextToSpeechError(f"unknown voice variant {variant!r}")
        found = find_voice(voices, wanted)
        if found is None:
            english = [v for v in voices if any(lang.lower().startswith("en") for lang in v.languages)]
            examples = ", ".join(f"{v.id} ({v.name})" for v in (english or voices)[:5])
            raise TextToSpeechError(f"unknown voice {wanted!r}; try one of: {examples} "
                                    "(all: `biseo say --list-voices`)")
        return f"{found.id}+{variant}" if variant else found.id

    def _call(self, run: Callable[[_EngineThread], Any]) -> Future:
        with self._lock:
            if self._worker is None:
                raise TextToSpeechError("the speech synthesizer is closed")
            future: Future = Future()
            self._pending.add(future)
            future.add_done_callback(self._forget)
            return self._worker.call(run, future)

    def _forget(self, future: Future) -> None:
        with self._lock:
            self._pending.discard(future)

    def submit(self, text: str) -> Future:
        """Queue `text` for synthesis; the future gives its Audio (16 kHz mono)."""
        if not text or not text.strip():
            future: Future = Future()
            future.set_result(_empty())
            return future
        voice, rate = self.voice, self.rate
        return self._call(lambda worker: worker.synthesize(text, voice, rate))

    def synthesize(self, text: str) -> Audio:
        """Synthesize `text` now and return its Audio (16 kHz mono); empty text gives empty Audio."""
        return _result(self.submit(text))

    def voices(self) -> list[VoiceInfo]:
        """Every voice the system synthesizer offers."""
        return list(_result(self._call(lambda worker: (worker.engine(), worker.voice_list)[1])))

    def cancel_pending(self) -> int:
        """Drop queued texts that have not started (the user spoke over the reply); returns how many."""
        with self._lock:
            pending = list(self._pending)
        return sum(1 for f in pending if f.cancel())

    def close(self) -> None:
        """Cancel what is queued and let the engine thread go when no other synthesizer uses it."""
        self.cancel_pending()
        with self._lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            _release(worker)

    def __enter__(self) -> "Synthesizer":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _result(future: Future) -> Any:
    try:
        return future.result(timeout=_SYNTH_TIMEOUT_S)
    except TimeoutError as exc:
        raise TextToSpeechError("the speech synthesizer did not answer within two minutes") from exc
