"""`biseo transcribe FILE`: print what is said in an audio file."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

CHANNELS = {"left": 0, "right": 1}


def register(sub: "argparse._SubParsersAction[Any]") -> argparse.ArgumentParser:
    """Add the `transcribe` command to the `biseo` subcommands."""
    p = sub.add_parser("transcribe", help="speech to text: print what is said in an audio file")
    p.add_argument("file", help="an audio file (WAV, FLAC, MP3, OGG, ...)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object: text, segments, durations, real-time factor, model, device")
    p.add_argument("--model", help="speech model name (see `biseo models list`) or a CTranslate2 Whisper "
                   "folder; default: voice.stt_model")
    p.add_argument("--channel", choices=sorted(CHANNELS), help="transcribe one side of a stereo file")
    p.add_argument("--no-vad", action="store_true", help="do not trim silence before transcribing")
    p.set_defaults(func=cmd_transcribe)
    return p


def cmd_transcribe(args: argparse.Namespace) -> int:
    """Transcribe args.file and print it; any fault is one plain line on stderr and exit code 1."""
    from assistant.paths import resolve_paths
    from assistant.settings import SettingsError, load_settings
    from assistant.voice.audio import AudioFileError
    from assistant.voice.stt import SpeechToTextError, Transcriber

    try:
        paths = resolve_paths().ensure()
        voice = load_settings(paths).voice
        if args.model:
            voice = voice.model_copy(update={"stt_model": args.model})
        transcriber = Transcriber(voice, paths)
        try:
            result = transcriber.transcribe(args.file, vad=False if args.no_vad else None,
                                            channel=CHANNELS.get(args.channel or ""))
        finally:
            transcriber.close()
    except (AudioFileError, SpeechToTextError, SettingsError) as exc:
        print(f"biseo: {exc}", file=sys.stderr)
        return 1
    if args.json:
        data = result.to_dict()
        data["device"] = transcriber.device
        data["compute_type"] = transcriber.compute_type
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        print(result.text)
    return 0
