"""Voice in the window: hold the mic button (or the hotkey) to talk, a level meter, hands-free, barge-in."""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Iterator

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget

from ui.resources import icon

log = logging.getLogger("biseo.ui")


class VoiceBar(QWidget):
    """Push-to-talk and hands-free over assistant.voice; disabled, with the reason, when there is no microphone.

    A finished recording is transcribed off the GUI thread and handed to the chat as `command` (a callable
    that yields the turn's events), so a spoken turn appears in the transcript like a typed one.
    """

    command = Signal(str, object)  # transcript, make_events(cancel) -> Iterator[Event]
    hands_free_events = Signal(object)  # events of a hands-free session, one by one
    heard_nothing = Signal(str)
    availability_changed = Signal(bool, str)

    def __init__(self, services, parent=None, *, make_microphone: Callable[[Any], Any] | None = None,
                 make_pipeline: Callable[[Any, Any], Any] | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("voiceBar")
        self.services = services
        self._make_microphone = make_microphone or _default_microphone
        self._make_pipeline = make_pipeline or _default_pipeline
        self.microphone = None
        self.pipeline = None
        self.talk = None  # PushToTalk
        self.hands_free = None
        self.available = False
        self.reason = "Checking the microphone…"
        self.conversation_id: Callable[[], str | None] = lambda: None
        self._level_from_source = 0.0
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(6)
        self.mic_button = QToolButton()
        self.mic_button.setIcon(icon("mic"))
        self.mic_button.setAccessibleName("Hold to talk")
        self.mic_button.pressed.connect(self.press)
        self.mic_button.released.connect(self.release)
        row.addWidget(self.mic_button)
        self.level = QProgressBar()
        self.level.setObjectName("levelMeter")
        self.level.setRange(0, 100)
        self.level.setTextVisible(False)
        self.level.setFixedSize(46, 6)
        self.level.setToolTip("Microphone level")
        row.addWidget(self.level, 0, Qt.AlignVCenter)
        self.hands_free_button = QToolButton()
        self.hands_free_button.setIcon(icon("handsfree"))
        self.hands_free_button.setCheckable(True)
        self.hands_free_button.setAccessibleName("Hands-free")
        self.hands_free_button.toggled.connect(self.set_hands_free)
        row.addWidget(self.hands_free_button)
        self.speaking = QLabel("")
        self.speaking.setObjectName("speakingLabel")
        row.addWidget(self.speaking)
        self._timer = QTimer(self, interval=60)
        self._timer.timeout.connect(self._tick)
        self._t_end = 0.0
        self._set_available(False, self.reason)
        services.when_ready(self.probe)

    # availability
    def probe(self) -> None:
        """Look for a microphone off the GUI thread; without one the buttons say why they are off."""
        settings = self.services.assistant.settings.voice
        self.services.run_in_background(self._make_microphone, settings, on_done=self._found,
                                        on_error=self._not_found)

    def _found(self, microphone) -> None:
        self.microphone = microphone
        self._set_available(True, "")

    def _not_found(self, exc: BaseException) -> None:
        from assistant.voice.devices import AudioDeviceError

        reason = str(exc) if isinstance(exc, AudioDeviceError) else f"Voice is not available: {exc}"
        self._set_available(False, reason)

    def _set_available(self, ok: bool, reason: str) -> None:
        self.available, self.reason = ok, reason
        key = self.push_to_talk_key().toString(QKeySequence.NativeText)
        self.mic_button.setEnabled(ok)
        self.hands_free_button.setEnabled(ok)
        self.level.setEnabled(ok)
        self.mic_button.setToolTip(f"Hold to talk ({key}); press while Biseo speaks to interrupt" if ok else reason)
        self.hands_free_button.setToolTip(
            "Hands-free: say the wake phrase, then your question" if ok else reason)
        self.availability_changed.emit(ok, reason)

    def push_to_talk_key(self) -> QKeySequence:
        assistant = self.services.assistant
        key = assistant.settings.voice.push_to_talk_key if assistant is not None else "Ctrl+Space"
        return QKeySequence(key or "Ctrl+Space")

    # the pipeline is built on first use (Whisper and the speech synthesizer are slow to load)
    def _ensure_pipeline(self):
        if self.pipeline is None:
            self.pipeline = self._make_pipeline(self.services.assistant, self.microphone)
        return self.pipeline

    # push-to-talk
    def press(self) -> None:
        if not self.available or self.hands_free is not None:
            return
        if self.pipeline is not None and self.pipeline.busy:
            self.pipeline.barge_in("the talk key was pressed")  # pressing again interrupts the answer
            return
        from assistant.voice.push_to_talk import PushToTalk

        if self.talk is None:
            self.microphone.start()
            self.talk = PushToTalk(self.microphone)
        self.talk.press()
        self.mic_button.setDown(True)
        self.speaking.setText("Listening…")
        self._timer.start()

    def release(self) -> None:
        if self.talk is None or not self.talk.recording:
            return
        audio = self.talk.release()
        self._t_end = time.monotonic()
        self.mic_button.setDown(False)
        self.speaking.setText("Transcribing…")
        self.level.setValue(0)
        self.services.run_in_background(self._hear, audio, on_done=self._heard, on_error=self._failed)

    def _hear(self, audio):
        pipeline = self._ensure_pipeline()
        return pipeline.hear(audio)

    def _heard(self, heard) -> None:
        self.speaking.setText("")
        if not heard.text:
            self.heard_nothing.emit("Nothing was heard. Hold the button while you speak.")
            return
        pipeline, t_end, stt_s = self.pipeline, self._t_end, heard.stt_s

        def make_events(cancel) -> Iterator:
            stopped = False
            for event in pipeline.command(heard.text, self.conversation_id(), t_end_speech=t_end, stt_s=stt_s):
                if cancel.cancelled and not stopped:
                    stopped = pipeline.barge_in("stopped in the window")
                yield event

        self.command.emit(heard.text, make_events)

    def _failed(self, exc: BaseException) -> None:
        self.speaking.setText("")
        self.heard_nothing.emit(f"Voice failed: {exc}")

    # hands-free
    def set_hands_free(self, on: bool) -> None:
        if on and self.hands_free is None and self.available:
            self.services.run_in_background(self._run_hands_free, on_done=lambda _: self._hands_free_ended(),
                                            on_error=self._failed)
            self.speaking.setText("Hands-free: listening")
            self._timer.start()
        elif not on and self.hands_free is not None:
            source, self.hands_free = self.hands_free, None
            source.close()
            if self.pipeline is not None:
                self.pipeline.barge_in("hands-free was turned off")

    def _run_hands_free(self) -> None:
        from assistant.voice.handsfree import HandsFree
        from assistant.voice.sources import MicrophoneSource

        pipeline = self._ensure_pipeline()

        def on_speech_start() -> None:
            if pipeline.busy and not pipeline.awaiting_answer:
                pipeline.barge_in("the user spoke")

        self.microphone.start()
        source = MicrophoneSource(self.microphone, pipeline.settings.end_of_speech_ms,
                                  on_speech_start=on_speech_start,
                                  on_level=lambda level: setattr(self, "_level_from_source", level))
        self.hands_free = source
        session = HandsFree(pipeline, source, conversation_id=self.conversation_id())
        try:
            for event in session.run():
                self.hands_free_events.emit(event)
                if self.hands_free is None:
                    break
        finally:
            source.close()

    def _hands_free_ended(self) -> None:
        self.hands_free = None
        self.hands_free_button.setChecked(False)
        self.speaking.setText("")

    # meter and speaking indicator
    def _tick(self) -> None:
        level = self.talk.level if self.talk is not None and self.talk.recording else self._level_from_source
        self.level.setValue(min(100, int(level * 400)))
        busy = self.pipeline is not None and self.pipeline.busy
        if busy:
            self.speaking.setText("Speaking… (press the mic to interrupt)")
        elif self.speaking.text().startswith("Speaking"):
            self.speaking.setText("Hands-free: listening" if self.hands_free is not None else "")
        recording = self.talk is not None and self.talk.recording
        if not (recording or busy or self.hands_free is not None):
            self.level.setValue(0)
            self._timer.stop()

    def barge_in(self) -> bool:
        return self.pipeline.barge_in("stopped in the window") if self.pipeline is not None else False

    def watch_answer(self) -> None:
        """A spoken answer started: show the speaking indicator."""
        self._timer.start()

    def close_voice(self) -> None:
        if self.hands_free is not None:
            self.set_hands_free(False)
        if self.microphone is not None:
            try:
                self.microphone.stop()
            except Exception:  # noqa: BLE001
                pass


class PushToTalkKey(QObject):
    """Holding the hotkey anywhere in the window works like holding the mic button."""

    def __init__(self, bar: VoiceBar, parent=None) -> None:
        super().__init__(parent)
        self.bar = bar
        self.held = False

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        kind = event.type()
        if kind not in (QEvent.KeyPress, QEvent.KeyRelease) or not self.bar.available:
            return False
        sequence = self.bar.push_to_talk_key()
        if sequence.isEmpty():
            return False
        combo = sequence[0]
        if event.key() != combo.key():
            return False
        if kind == QEvent.KeyPress and event.modifiers() == combo.keyboardModifiers():
            if not event.isAutoRepeat() and not self.held:
                self.held = True
                self.bar.press()
            return True
        if kind == QEvent.KeyRelease and self.held and not event.isAutoRepeat():
            self.held = False
            self.bar.release()
            return True
        return False


def _default_microphone(voice_settings):
    from assistant.voice.devices import Microphone

    return Microphone(voice_settings.input_device)  # raises AudioDeviceError with the reason


def _default_pipeline(assistant, microphone):
    from assistant.voice.devices import AudioDeviceError, SpeakerSink
    from assistant.voice.pipeline import VoicePipeline
    from assistant.voice.sinks import NullSink
    from assistant.voice.stt import Transcriber
    from assistant.voice.tts import Synthesizer

    settings = assistant.settings.voice
    try:
        sink = SpeakerSink(settings.output_device)
    except AudioDeviceError:
        sink = NullSink()  # no speaker: the answer is shown, not spoken
    speak = settings.speak_replies and not isinstance(sink, NullSink)
    synthesizer = Synthesizer(settings.tts_voice, settings.tts_rate) if speak else None
    return VoicePipeline(assistant, Transcriber(settings, assistant.paths), synthesizer, sink, settings,
                         speak=speak)
