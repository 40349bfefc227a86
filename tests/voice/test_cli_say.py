"""`biseo say`: speech to a WAV file or the speaker, voices listed, errors as one plain line."""

from __future__ import annotations

import argparse
import io
import json
import wave

import numpy as np
import pytest

from assistant.voice.audio import load_audio
from assistant.voice.cli_say import register


def say(argv: list[str]) -> int:
    """Run `biseo say ...` through the same parser hook the real `biseo` command uses."""
    parser = argparse.ArgumentParser(prog="biseo")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["say", *argv])
    return args.func(args)


def test_say_writes_a_16_bit_mono_wav_and_prints_nothing_on_stdout(tmp_path, capfd):
    out = tmp_path / "answer.wav"
    assert say(["what", "is", "twelve", "times", "seven", "--output", str(out)]) == 0
    with wave.open(str(out), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        seconds = w.getnframes() / w.getframerate()
    assert 0.5 < seconds < 10
    assert load_audio(out).rms() > 0.01
    stdout, _stderr = capfd.readouterr()
    assert stdout == ""


def test_say_json_reports_the_file_voice_and_rate(tmp_path, capfd):
    out = tmp_path / "x.wav"
    assert say(["hello there", "-o", str(out), "--rate", "250", "--json"]) == 0
    stdout, _ = capfd.readouterr()
    lines = stdout.strip().splitlines()
    assert len(lines) == 1
    report = json.loads(lines[0])
    assert report["output"] == str(out) and report["rate"] == 250 and report["sample_rate"] == 16_000
    assert 0.3 < report["duration_s"] < 5


def test_text_dash_reads_stdin(tmp_path, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("words that came from a pipe\n"))
    out = tmp_path / "piped.wav"
    assert say(["-", "--output", str(out)]) == 0
    assert load_audio(out).duration_s > 0.5


def test_markdown_text_is_read_without_its_code(tmp_path):
    plain, marked = tmp_path / "plain.wav", tmp_path / "marked.wav"
    assert say(["Run this.", "--output", str(plain)]) == 0
    code = "Run this.\n```\n" + "print('a very long line of code that must not be read aloud')\n" * 5 + "```"
    assert say([code, "--markdown", "--output", str(marked)]) == 0
    assert load_audio(marked).duration_s < load_audio(plain).duration_s + 2.5


def test_rate_and_voice_defaults_come_from_settings(tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("BISEO_VOICE__TTS_RATE", "300")
    monkeypatch.setenv("BISEO_VOICE__TTS_VOICE", "en-us")
    assert say(["hello", "-o", str(tmp_path / "a.wav"), "--json"]) == 0
    report = json.loads(capfd.readouterr().out)
    assert report["rate"] == 300
    assert "en-us" in report["voice"].lower()


def test_list_voices_prints_ids_names_and_languages(capfd):
    assert say(["--list-voices"]) == 0
    lines = capfd.readouterr().out.strip().splitlines()
    assert len(lines) > 1
    assert any(" en" in line for line in lines)
    assert say(["--list-voices", "--json"]) == 0
    voices = json.loads(capfd.readouterr().out)
    assert all({"id", "name", "languages"} <= set(v) for v in voices)


@pytest.mark.parametrize("argv, words", [
    (["hello", "--voice", "no-such-voice-anywhere", "-o", "x.wav"], "unknown voice"),
    (["hello", "--rate", "5", "-o", "x.wav"], "words per minute"),
    ([], "nothing to say"),
    (["   "], "nothing to say"),
])
def test_errors_are_one_plain_line_on_stderr(argv, words, capfd, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert say(argv) == 1
    out, err = capfd.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and words in err and "Traceback" not in err
    assert not (tmp_path / "x.wav").exists()


def test_without_a_speaker_the_user_is_told_to_use_output(capfd, monkeypatch):
    import sounddevice as sd

    def no_device(*_args, **_kwargs):
        raise sd.PortAudioError("Error querying device -1")

    monkeypatch.setattr(sd, "check_output_settings", no_device)
    assert say(["hello"]) == 1
    assert capfd.readouterr().err == "biseo: no speaker found: use --output FILE\n"


def test_with_a_speaker_the_speech_is_played(monkeypatch):
    import sounddevice as sd

    played = []
    monkeypatch.setattr(sd, "check_output_settings", lambda **_kw: None)
    monkeypatch.setattr(sd, "play", lambda data, rate, blocking=False: played.append((np.asarray(data), rate)))
    assert say(["hello there"]) == 0
    (data, rate), = played
    assert rate == 16_000 and len(data) / rate > 0.3 and float(np.abs(data).max()) > 0.05
