"""`biseo say`: text to speech from the command line, to the speaker or to a WAV file."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from assistant.voice.audio import Audio, write_wav


class _SayError(RuntimeError):
    """A failure of `biseo say`, reported as one plain line."""


def register(sub: Any) -> None:
    """Add the `say` command to the `biseo` sub-command parsers."""
    p = sub.add_parser("say", help="speak text aloud, or write it as a WAV file")
    p.add_argument("text", nargs="*", metavar="TEXT", help="what to say; `-` reads it from stdin")
    p.add_argument("--output", "-o", metavar="FILE", help="write a WAV file (16-bit mono) instead of playing")
    p.add_argument("--voice", help="a voice id, name or language code (default: settings voice.tts_voice)")
    p.add_argument("--rate", type=int, help="words per minute (default: settings voice.tts_rate)")
    p.add_argument("--markdown", action="store_true", help="read TEXT as markdown: skip code, links become their text")
    p.add_argument("--list-voices", action="store_true", help="list the voices of the speech synthesizer")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_say)


def cmd_say(args: argparse.Namespace) -> int:
    from assistant.voice.audio import AudioFileError
    from assistant.voice.tts import TextToSpeechError

    try:
        return _say(args)
    except (_SayError, TextToSpeechError, AudioFileError) as exc:
        print(f"biseo: {exc}", file=sys.stderr)
        return 1


def _say(args: argparse.Namespace) -> int:
    from assistant.settings import load_settings
    from assistant.voice.tts import Synthesizer

    settings = load_settings().voice
    voice = settings.tts_voice if args.voice is None else args.voice
    rate = settings.tts_rate if args.rate is None else args.rate
    if args.list_voices:
        with Synthesizer(voice="", rate=rate) as synth:
            return _list_voices(synth.voices(), args.json)

    text = _read_text(args.text)
    if args.markdown:
        from assistant.voice.speech_text import speakable

        text = speakable(text)
    if not text.strip():
        raise _SayError("nothing to say: give TEXT, or `-` to read it from stdin")
    with Synthesizer(voice=voice, rate=rate) as synth:
        audio = synth.synthesize(text)
        chosen = synth.voice
    if len(audio.samples) == 0:
        raise _SayError("the speech synthesizer produced no sound for this text")
    if args.output:
        try:
            path = str(write_wav(args.output, audio))
        except OSError as exc:
            raise _SayError(f"cannot write {args.output}: {exc.strerror or exc}") from exc
    else:
        _play(audio)
        path = None
    if args.json:
        print(json.dumps({"output": path, "duration_s": round(audio.duration_s, 3), "sample_rate": audio.rate,
                          "voice": chosen, "rate": rate}, ensure_ascii=False))
    elif path:
        print(f"wrote {path} ({audio.duration_s:.1f} s)", file=sys.stderr)
    return 0


def _read_text(words: list[str]) -> str:
    if words == ["-"]:
        return sys.stdin.read()
    return " ".join(words)


def _list_voices(voices: list, as_json: bool) -> int:
    if as_json:
        print(json.dumps([{"id": v.id, "name": v.name, "languages": v.languages} for v in voices],
                         indent=2, ensure_ascii=False))
        return 0
    for v in voices:
        print(f"{v.id:<28} {v.name:<36} {', '.join(v.languages)}")
    return 0


def _play(audio: Audio) -> None:
    """Play through the default speaker and wait until it has finished."""
    try:
        import sounddevice as sd

        sd.check_output_settings(samplerate=audio.rate, channels=1, dtype="float32")
    except Exception as exc:  # noqa: BLE001 - OSError without PortAudio, PortAudioError without a device
        raise _SayError("no speaker found: use --output FILE") from exc
    try:
        sd.play(audio.samples, audio.rate, blocking=True)
    except sd.PortAudioError as exc:
        raise _SayError(f"the speaker failed: {exc}") from exc
    finally:
        sd.stop()
