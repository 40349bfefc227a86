"""`biseo voice` end to end on real components: espeak-ng speaks the command, Whisper hears it, Qwen answers."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from assistant.voice.audio import Audio, load_audio, write_wav
from assistant.voice.tts import Synthesizer
from assistant.voice.wer import word_error_rate
from tests.voice.conftest import DATA

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def voice():
    with Synthesizer() as synth:
        yield synth


def biseo(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assistant.cli", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=timeout)


def events_of(proc) -> list[dict]:
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def noise(seconds: float, level: float = 0.01) -> Audio:
    return Audio(np.random.default_rng(7).normal(0, level, int(seconds * 16000)).astype(np.float32))


def test_a_spoken_question_calls_the_calculator_and_the_spoken_reply_says_84(qwen_gguf, voice, transcriber,
                                                                             tmp_path):
    command = write_wav(tmp_path / "command.wav", voice.synthesize("What is twelve times seven?"))
    reply = tmp_path / "reply.wav"
    proc = biseo("voice", "--input", str(command), "--output", str(reply), "--json")
    assert proc.returncode == 0, proc.stderr
    events = events_of(proc)
    heard = [e for e in events if e["type"] == "transcript"][0]["text"].lower()
    assert "times" in heard and ("12" in heard or "twelve" in heard)
    calls = [e for e in events if e["type"] == "tool_call"]
    assert calls and calls[0]["name"] == "calculator"
    final = [e for e in events if e["type"] == "final"][0]
    assert "84" in final["text"]
    spoken = [e for e in events if e["type"] == "speech"]
    assert spoken and spoken[0]["at_s"] >= 0
    timing = events[-1]
    assert timing["type"] == "voice_timing" and timing["first_audio_s"] is not None
    # What the reply WAV says, heard back by Whisper.
    said = transcriber.transcribe(load_audio(reply)).text.lower()
    assert "84" in said or "eighty-four" in said or "eighty four" in said, said


def _conversation(voice, with_wake: bool) -> Audio:
    other = voice.synthesize("The weather was lovely yesterday, and we walked to the park.")
    command = voice.synthesize(("Hey Biseo, " if with_wake else "") + "what is twelve times seven?")
    return Audio.concat([noise(1.0), other, noise(1.5), command, noise(1.5)])


def test_hands_free_runs_exactly_one_command_after_the_wake_phrase(qwen_gguf, voice, tmp_path):
    wav = write_wav(tmp_path / "room.wav", _conversation(voice, with_wake=True))
    proc = biseo("voice", "--hands-free", "--input", str(wav), "--no-speak", "--json")
    assert proc.returncode == 0, proc.stderr
    events = events_of(proc)
    assert len([e for e in events if e["type"] == "wake"]) == 1
    assert len([e for e in events if e["type"] == "turn_started"]) == 1
    ignored = [e["text"].lower() for e in events if e["type"] == "ignored"]
    assert any("weather" in t for t in ignored)
    assert "84" in [e for e in events if e["type"] == "final"][0]["text"]


def test_without_the_wake_phrase_no_command_runs(voice, tmp_path):
    wav = write_wav(tmp_path / "room.wav", _conversation(voice, with_wake=False))
    proc = biseo("voice", "--hands-free", "--input", str(wav), "--no-speak", "--json")
    assert proc.returncode == 0, proc.stderr
    events = events_of(proc)
    assert [e for e in events if e["type"] in ("wake", "turn_started", "final")] == []
    assert len([e for e in events if e["type"] == "ignored"]) == 2


def test_a_real_recording_is_transcribed_by_voice_and_reported_first(qwen_gguf, tmp_path):
    proc = biseo("voice", "--input", str(DATA / "jfk.flac"), "--no-speak", "--json")
    assert proc.returncode == 0, proc.stderr
    heard = events_of(proc)[0]
    assert heard["type"] == "transcript"
    assert word_error_rate("And so my fellow Americans, ask not what your country can do for you, ask what you "
                           "can do for your country.", heard["text"]) < 0.1


def test_a_file_that_is_not_audio_is_a_plain_error(tmp_path):
    bad = tmp_path / "command.wav"
    bad.write_bytes(b"not audio at all" * 100)
    proc = biseo("voice", "--input", str(bad))
    assert proc.returncode == 1
    assert "not a readable audio file" in proc.stderr and "Traceback" not in proc.stderr


def test_silence_gives_a_clear_nothing_heard(tmp_path):
    quiet = write_wav(tmp_path / "quiet.wav", noise(3, level=0.001))
    proc = biseo("voice", "--input", str(quiet), "--no-speak", "--json")
    events = events_of(proc)
    assert [e["type"] for e in events][-1] == "ignored"
    assert "no speech" in events[-1]["reason"]


@pytest.mark.parametrize("answer, approved", [("Yes, go ahead.", True), ("No.", False)])
def test_a_spoken_answer_heard_by_whisper_decides_a_file_write(fake_backend, voice, transcriber, tmp_path,
                                                               answer, approved):
    import time

    from assistant.app import Assistant
    from assistant.settings import Settings, ToolSettings, VoiceSettings
    from assistant.voice.events import ApprovalHeard
    from assistant.voice.pipeline import VoicePipeline
    from assistant.voice.sinks import RecordingSink
    from assistant.voice.sources import RecordingSource

    folder = tmp_path / "docs"
    folder.mkdir()
    write = {"tool": "files", "arguments": {"action": "write", "path": "todo.txt", "content": "buy milk"}}
    app = Assistant(Settings(tools=ToolSettings(file_roots=[str(folder)])),
                    backend=fake_backend([write, {"tool": "none"}], ["Done."]), builtin_plugins=("plugins.files",))
    sink = RecordingSink()
    pipeline = VoicePipeline(app, transcriber, voice, sink, VoiceSettings())
    source = RecordingSource(Audio.concat([Audio.silence(0.5), voice.synthesize(answer), Audio.silence(1)]))
    events = list(pipeline.command("save buy milk to todo.txt", None, t_end_speech=time.monotonic(),
                                   source=source))
    app.close()
    heard = [e for e in events if isinstance(e, ApprovalHeard)][0]
    assert heard.approved is approved
    assert (folder / "todo.txt").exists() is approved
    question = transcriber.transcribe(sink.clips[0]).text.lower()  # the question was really spoken
    assert "yes or no" in question.replace(",", "")
