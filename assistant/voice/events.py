"""Events of the voice pipeline, in addition to a chat turn's own (same base class, same JSON shape)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from assistant.events import Event


@dataclass
class Listening(Event):
    """The microphone is open (mode: push_to_talk, hands_free, follow_up, approval)."""

    type: ClassVar[str] = "listening"
    mode: str


@dataclass
class Heard(Event):
    """What the user said, as Whisper heard it."""

    type: ClassVar[str] = "transcript"
    text: str
    audio_s: float
    speech_s: float
    stt_s: float


@dataclass
class WakeHeard(Event):
    """The wake phrase was heard; `command` is what followed it in the same breath (may be empty)."""

    type: ClassVar[str] = "wake"
    heard: str
    command: str


@dataclass
class Ignored(Event):
    """Speech that did not become a command (no wake phrase, nothing understood)."""

    type: ClassVar[str] = "ignored"
    text: str
    reason: str


@dataclass
class Spoken(Event):
    """One sentence of the reply went to the speaker; `at_s` is seconds since the end of the user's speech."""

    type: ClassVar[str] = "speech"
    text: str
    audio_s: float
    at_s: float


@dataclass
class ApprovalHeard(Event):
    """The spoken answer to an approval question (silence or anything unclear is a no)."""

    type: ClassVar[str] = "approval_answer"
    heard: str
    approved: bool


@dataclass
class BargeIn(Event):
    """The user interrupted: speech stopped and generation was cancelled."""

    type: ClassVar[str] = "barge_in"
    reason: str


@dataclass
class VoiceTiming(Event):
    """How long each stage of a voice command took (seconds); first_audio_s is the figure users feel."""

    type: ClassVar[str] = "voice_timing"
    stt_s: float
    first_token_s: float | None
    first_audio_s: float | None
    total_s: float
