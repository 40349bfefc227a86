"""No microphone, no speaker, no PortAudio: a plain message, never a crash, and the rest of the app works."""

from __future__ import annotations

import builtins

import pytest

from assistant.cli import main
from assistant.voice import devices
from assistant.voice.devices import AudioDeviceError, Microphone, SpeakerSink


@pytest.fixture
def no_devices(monkeypatch):
    monkeypatch.setattr(devices, "list_devices", lambda: [])


def test_no_microphone_is_a_clear_message(no_devices):
    with pytest.raises(AudioDeviceError, match="No microphone found.*--input"):
        Microphone()


def test_no_speaker_is_a_clear_message(no_devices):
    with pytest.raises(AudioDeviceError, match="No speaker found.*--output"):
        SpeakerSink()


def test_missing_portaudio_is_a_clear_message(monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "sounddevice":
            raise OSError("PortAudio library not found")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(AudioDeviceError, match="PortAudio"):
        devices.list_devices()


def test_a_named_microphone_that_is_not_there_lists_the_real_ones(monkeypatch):
    monkeypatch.setattr(devices, "list_devices", lambda: [
        {"index": 0, "name": "USB Mic", "inputs": 1, "outputs": 0, "default_rate": 48000.0}])
    with pytest.raises(AudioDeviceError, match="USB Mic"):
        devices.pick_device("Headset", "input")
    assert devices.pick_device("usb", "input") == 0


def test_voice_without_a_microphone_says_so_and_exits(no_devices, capsys):
    assert main(["voice"]) == 1
    err = capsys.readouterr().err
    assert "No microphone found" in err and "Traceback" not in err


def test_list_devices_works_with_none(no_devices, capsys):
    assert main(["voice", "--list-devices"]) == 0
    assert "No sound devices found" in capsys.readouterr().out
