"""Voice latency: from the end of the user's speech to the first spoken audio, through the whole app.

Each command is spoken by espeak-ng into a recording, handed to the voice pipeline exactly as a microphone
utterance would be (the VAD has already cut it), and answered by the default model with Whisper tiny.en hearing
and espeak-ng speaking. Reported per command (medians over --runs): speech-to-text time, first token of the
answer, first audio ready to play, whole turn; plus the VAD's end-of-speech pause (settings.voice.end_of_speech_ms),
which a live microphone adds before any of this starts. The model is warmed up first, as `biseo chat` does.

    export OMP_WAIT_POLICY=PASSIVE ORT_DISABLE_TELEMETRY=1 BISEO_HOME=$(mktemp -d) BISEO_MODELS_DIR=.test-home/models
    python bench/bench_voice_latency.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from assistant.app import Assistant  # noqa: E402
from assistant.events import Final, ToolCallRequested  # noqa: E402
from assistant.voice.events import VoiceTiming  # noqa: E402
from assistant.voice.pipeline import VoicePipeline  # noqa: E402
from assistant.voice.sinks import RecordingSink  # noqa: E402
from assistant.voice.stt import Transcriber  # noqa: E402
from assistant.voice.tts import Synthesizer  # noqa: E402

COMMANDS = [
    "What is twelve times seven?",
    "What time is it in Seoul?",
    "Tell me one fun fact about octopuses.",
    "Give me a tip for sleeping better.",
]


def run_once(pipeline: VoicePipeline, audio, cid: str | None) -> dict:
    ended = time.monotonic()  # the utterance is complete: the user stopped speaking (plus the VAD pause)
    heard = pipeline.hear(audio)
    row = {"heard": heard.text, "stt_s": heard.stt_s, "tool": None, "answer": ""}
    for event in pipeline.command(heard.text, cid, t_end_speech=ended, stt_s=heard.stt_s):
        if isinstance(event, ToolCallRequested):
            row["tool"] = event.name
        elif isinstance(event, Final):
            row["answer"] = event.text
        elif isinstance(event, VoiceTiming):
            row.update(first_token_s=event.first_token_s, first_audio_s=event.first_audio_s, total_s=event.total_s)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "voice_latency.json")
    args = parser.parse_args()

    app = Assistant()
    settings = app.settings.voice
    transcriber = Transcriber(settings, app.paths).load()
    synth = Synthesizer(settings.tts_voice, settings.tts_rate)
    pipeline = VoicePipeline(app, transcriber, synth, RecordingSink(), settings)
    app.agent.warm_up()
    recordings = {text: synth.synthesize(text) for text in COMMANDS}
    rows: dict[str, list[dict]] = {text: [] for text in COMMANDS}
    for _ in range(args.runs):
        for text in COMMANDS:
            cid = app.new_conversation("bench")  # a fresh conversation, as a new voice command would be
            rows[text].append(run_once(pipeline, recordings[text], cid))

    def med(values):
        values = [v for v in values if v is not None]
        return round(statistics.median(values), 3) if values else None

    summary = []
    print(f"{'command':40} {'stt':>6} {'token':>6} {'audio':>6} {'total':>6}  tool / answer")
    for text, runs in rows.items():
        s = {"command": text, "stt_s": med([r["stt_s"] for r in runs]),
             "first_token_s": med([r.get("first_token_s") for r in runs]),
             "first_audio_s": med([r.get("first_audio_s") for r in runs]),
             "total_s": med([r.get("total_s") for r in runs]), "tool": runs[-1]["tool"],
             "heard": runs[-1]["heard"], "answer": runs[-1]["answer"][:120]}
        summary.append(s)
        print(f"{text[:40]:40} {s['stt_s']:6.2f} {s['first_token_s'] or 0:6.2f} {s['first_audio_s'] or 0:6.2f} "
              f"{s['total_s']:6.2f}  {s['tool'] or '-'} / {s['answer'][:50]!r}")
    overall = med([s["first_audio_s"] for s in summary])
    pause = settings.end_of_speech_ms / 1000
    print(f"\nend of speech → first audio (median over commands): {overall:.2f} s after the utterance is cut; "
          f"{overall + pause:.2f} s with the {pause:.1f} s end-of-speech pause a live microphone waits for")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform()},
        "stt": {"model": transcriber.model_name, "device": transcriber.device,
                "compute_type": transcriber.compute_type},
        "runs": args.runs, "end_of_speech_pause_s": pause, "median_first_audio_s": overall,
        "median_first_audio_with_pause_s": round(overall + pause, 3), "commands": summary}, indent=2))
    synth.close()
    transcriber.close()
    app.close()


if __name__ == "__main__":
    main()
