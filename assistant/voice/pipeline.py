"""One voice command end to end: speech → transcript → the same chat turn as typed text → spoken reply."""

from __future__ import annotations

import logging
import threading
import time
from typing import Iterator

from assistant.cancel import CancelToken
from assistant.events import ApprovalRequested, ErrorEvent, Event, Final, Token
from assistant.settings import VoiceSettings
from assistant.voice.approval import approval_question, heard_yes
from assistant.voice.audio import Audio
from assistant.voice.events import ApprovalHeard, BargeIn, Heard, Listening, VoiceTiming
from assistant.voice.sinks import AudioSink
from assistant.voice.speaker import SpeechQueue

log = logging.getLogger("biseo.voice")


class VoicePipeline:
    """Drives an Assistant by voice: transcribes, runs the turn, speaks the reply sentence by sentence."""

    def __init__(self, assistant, transcriber, synthesizer, sink: AudioSink, settings: VoiceSettings, *,
                 speak: bool = True) -> None:
        self.assistant = assistant
        self.transcriber = transcriber
        self.synthesizer = synthesizer
        self.sink = sink
        self.settings = settings
        self.speak = speak and settings.speak_replies
        self._lock = threading.Lock()
        self._cancel: CancelToken | None = None
        self._speech: SpeechQueue | None = None
        self.barged_in = threading.Event()
        self.awaiting_answer = False  # while listening for a yes/no, speech is an answer, not a barge-in
        self._barge_reason = ""
        self._advanced = 0.0  # seconds of speech already counted on a recording's clock (approval questions)

    # hearing
    def hear(self, audio: Audio, hotwords: str | None = None) -> Heard:
        """Transcribe one utterance."""
        result = self.transcriber.transcribe(audio, hotwords=hotwords)
        return Heard(text=result.text.strip(), audio_s=round(audio.duration_s, 3),
                     speech_s=round(result.speech_s, 3), stt_s=round(result.elapsed_s, 3))

    # interrupting
    def barge_in(self, reason: str = "the user spoke") -> bool:
        """Stop speaking and cancel the turn in progress (from any thread); False when nothing was running."""
        with self._lock:
            cancel, speech = self._cancel, self._speech
        if cancel is None and speech is None:
            return False
        self.barged_in.set()
        self._barge_reason = reason
        if cancel is not None:
            cancel.cancel()
        if speech is not None:
            speech.stop()
        return True

    @property
    def busy(self) -> bool:
        return self._cancel is not None

    # one command
    def command(self, text: str, conversation_id: str | None, *, t_end_speech: float, stt_s: float = 0.0,
                source=None, auto_yes: bool = False) -> Iterator[Event]:
        """Run a transcribed command as a chat turn and speak the answer while it streams."""
        from assistant.voice.speech_text import SentenceSplitter

        cancel = CancelToken()
        self.sink.reset()
        self.barged_in.clear()
        speech = SpeechQueue(self.synthesizer, self.sink, t_end_speech) if self.speak else None
        with self._lock:
            self._cancel, self._speech = cancel, speech
        splitter = SentenceSplitter()
        self._advanced = 0.0
        first_token: float | None = None
        try:
            for event in self.assistant.chat(text, conversation_id, cancel=cancel):
                if isinstance(event, Token):
                    if first_token is None:
                        first_token = time.monotonic() - t_end_speech
                    if speech is not None:
                        for sentence in splitter.feed(event.text):
                            speech.say(sentence)
                elif isinstance(event, ApprovalRequested):
                    yield event  # a window may answer it with a click while the question is spoken
                    yield from self._ask(event, speech, source, auto_yes)
                    continue
                elif isinstance(event, (Final, ErrorEvent)) and speech is not None:
                    for sentence in splitter.flush():
                        speech.say(sentence)
                    if isinstance(event, ErrorEvent):
                        speech.say(event.message)
                yield event
                if speech is not None:
                    yield from speech.events()
            if speech is not None:
                speech.finish()
                yield from speech.events()
                if source is not None:
                    source.advance(speech.spoken_s - self._advanced)
        finally:
            with self._lock:
                self._cancel, self._speech = None, None
        if self.barged_in.is_set():
            yield BargeIn(reason=self._barge_reason)
        yield VoiceTiming(stt_s=round(stt_s, 3),
                          first_token_s=None if first_token is None else round(first_token, 3),
                          first_audio_s=None if speech is None or speech.first_audio_s is None
                          else round(speech.first_audio_s, 3),
                          total_s=round(time.monotonic() - t_end_speech, 3))

    def _ask(self, request: ApprovalRequested, speech: SpeechQueue | None, source, auto_yes: bool):
        """Get a yes or no for a side-effecting tool: a click, --yes, or a spoken answer; silence is no."""
        if request.wait(0):
            return
        if auto_yes:
            request.approve()
            return
        question = approval_question(request.name, request.arguments, request.description)
        if speech is not None:
            # Speak what came before, then the question, and listen only after it was said.
            before = speech.spoken_s
            speech.say(question)
            speech.wait_idle()
            yield from speech.events()
            if source is not None:
                source.advance(speech.spoken_s - before)
                self._advanced += speech.spoken_s - before
        if source is None:
            request.deny("no one answered: there was no microphone or recording to hear a yes")
            yield ApprovalHeard(heard="", approved=False)
            return
        yield Listening(mode="approval")
        self.awaiting_answer = True
        try:
            utterance = self._listen_for_answer(request, source)
        finally:
            self.awaiting_answer = False
        if request.wait(0):  # clicked while we listened
            return
        heard = self.hear(utterance.audio).text if utterance is not None else ""
        approved = heard_yes(heard)
        if approved:
            request.approve()
        else:
            request.deny("the user said no" if heard else "no answer was heard (silence means no)")
        yield ApprovalHeard(heard=heard, approved=approved)

    def _listen_for_answer(self, request: ApprovalRequested, source):
        """The next utterance within the approval timeout (None: silence), or None as soon as a click answered."""
        if not source.live:  # a recording: its own clock decides what falls within the timeout
            return source.next(self.settings.approval_timeout_s)
        deadline = time.monotonic() + self.settings.approval_timeout_s
        while not request.wait(0) and (left := deadline - time.monotonic()) > 0:
            utterance = source.next(min(left, 0.25))  # short waits, so a click is noticed quickly
            if utterance is not None:
                return utterance
        return None
