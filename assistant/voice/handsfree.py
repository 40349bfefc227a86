"""Hands-free listening: commands start with the wake phrase; a short follow-up window needs none."""

from __future__ import annotations

import time
from typing import Iterator

from assistant.events import Event, Final
from assistant.voice.events import Ignored, Listening, WakeHeard
from assistant.voice.pipeline import VoicePipeline
from assistant.voice.wake import WakePhrase


class HandsFree:
    """Turns a stream of utterances into commands; everything else is heard and ignored."""

    def __init__(self, pipeline: VoicePipeline, source, *, conversation_id: str | None = None,
                 auto_yes: bool = False) -> None:
        self.pipeline = pipeline
        self.source = source
        settings = pipeline.settings
        self.wake = WakePhrase(settings.wake_phrase)
        self.follow_up_s = settings.follow_up_s
        self.conversation_id = conversation_id
        self.auto_yes = auto_yes
        self.follow_up_until = -1.0  # on the source's clock
        self.commands = 0

    def run(self, max_commands: int | None = None) -> Iterator[Event]:
        """Listen until the source ends (a recording) or `max_commands` ran."""
        yield Listening(mode="hands_free")
        while max_commands is None or self.commands < max_commands:
            utterance = self.source.next(None if not self.source.live else 0.5)
            if utterance is None:
                if self.source.live:
                    continue
                return
            yield from self.handle(utterance)

    def handle(self, utterance) -> Iterator[Event]:
        """One utterance: a command when it follows the wake phrase or falls in the follow-up window."""
        ended = time.monotonic()
        following = utterance.start_s <= self.follow_up_until
        heard = self.pipeline.hear(utterance.audio, hotwords=self.wake.phrase)
        yield heard
        if not heard.text:
            yield Ignored(text="", reason="no words were recognised")
            return
        command = heard.text
        match = self.wake.find(heard.text)
        if match is not None:
            yield WakeHeard(heard=match.heard, command=match.command)
            command = match.command
            if not command:  # "Hey Biseo" … (pause) … "what time is it?"
                self.follow_up_until = self.source.clock_s + self.follow_up_s
                yield Listening(mode="follow_up")
                return
        elif not following:
            yield Ignored(text=heard.text, reason=f"not addressed to the assistant (no \"{self.wake.phrase}\")")
            return
        self.commands += 1
        final = None
        for event in self.pipeline.command(command, self.conversation_id, t_end_speech=ended,
                                           stt_s=heard.stt_s, source=self.source, auto_yes=self.auto_yes):
            if isinstance(event, Final):
                final = event
                self.conversation_id = event.conversation_id
            yield event
        self.source.discard_pending()
        if final is not None:
            self.follow_up_until = self.source.clock_s + self.follow_up_s
            yield Listening(mode="follow_up")
