"""Speech-to-text speed: the app's Transcriber vs raw faster-whisper on the same model, options and files.

Both sides load the same CTranslate2 folder (the model voice.stt_model resolves to) with the same device,
compute type and CPU threads, and transcribe the same file path with the same options (beam 5, language,
VAD, condition_on_previous_text off). Each side is warmed once, then the sides alternate (who goes first
swaps every round) and the medians of --runs rounds are compared. Time is wall-clock around the whole call,
file decoding included, so anything the app adds (decoding, copies, locks) shows up.

RTF (real-time factor) = seconds of work / seconds of audio; ratio = raw_rtf / app_rtf (target >= 0.95).

    export OMP_WAIT_POLICY=PASSIVE BISEO_HOME=$(mktemp -d)
    python bench/bench_stt.py [--runs 7] [--model whisper-tiny.en] [--out bench/results/stt.json]
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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from assistant.paths import resolve_paths  # noqa: E402
from assistant.settings import load_settings  # noqa: E402
from assistant.voice.stt import BEAM_SIZE, Transcriber  # noqa: E402
from assistant.voice.wer import word_error_rate  # noqa: E402

DATA = HERE.parent / "tests" / "voice" / "data"
FILES = ["jfk.wav", "jfk.flac"]
REFERENCE = ("And so my fellow Americans, ask not what your country can do for you, ask what you can do for "
             "your country.")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed rounds per file (each side once per round)")
    parser.add_argument("--model", help="speech model (default: voice.stt_model)")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "stt.json")
    args = parser.parse_args()

    from faster_whisper import WhisperModel

    paths = resolve_paths().ensure()
    voice = load_settings(paths).voice
    if args.model:
        voice = voice.model_copy(update={"stt_model": args.model})
    app = Transcriber(voice, paths)
    started = time.perf_counter()
    app.load()
    app_load_s = time.perf_counter() - started
    started = time.perf_counter()
    raw = WhisperModel(str(app.model_path), device=app.device, compute_type=app.compute_type,
                       cpu_threads=app.cpu_threads, local_files_only=True)
    raw_load_s = time.perf_counter() - started
    options = dict(language=voice.language or None, beam_size=BEAM_SIZE, vad_filter=voice.vad,
                   condition_on_previous_text=False)

    def run_app(path: Path) -> tuple[float, str, float]:
        t0 = time.perf_counter()
        result = app.transcribe(path)
        return time.perf_counter() - t0, result.text, result.duration_s

    def run_raw(path: Path) -> tuple[float, str, float]:
        t0 = time.perf_counter()
        segments, info = raw.transcribe(str(path), **options)
        text = " ".join(s.text.strip() for s in segments)  # decoding happens while the generator runs
        return time.perf_counter() - t0, text, info.duration

    load_before = os.getloadavg()
    report: dict = {
        "model": app.model_name, "model_path": str(app.model_path), "device": app.device,
        "compute_type": app.compute_type, "cpu_threads": app.cpu_threads, "options": options,
        "runs": args.runs, "load_s": {"app": round(app_load_s, 3), "raw": round(raw_load_s, 3)},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "files": {},
    }
    print(f"model {app.model_name} on {app.device} ({app.compute_type}, {app.cpu_threads} threads), "
          f"{args.runs} rounds per file, medians")
    print(f"{'file':<10} {'audio s':>7} {'app s':>7} {'raw s':>7} {'app RTF':>8} {'raw RTF':>8} {'ratio':>6}"
          f" {'WER app':>8} {'WER raw':>8}")
    ratios = []
    for name in FILES:
        path = DATA / name
        _, app_text, duration = run_app(path)  # warm-up: first-call allocations, VAD model, caches
        _, raw_text, _ = run_raw(path)
        app_times, raw_times = [], []
        for round_no in range(args.runs):
            sides = [(run_app, app_times), (run_raw, raw_times)]
            for run, times in sides if round_no % 2 == 0 else reversed(sides):
                times.append(run(path)[0])
        app_s, raw_s = statistics.median(app_times), statistics.median(raw_times)
        app_rtf, raw_rtf = app_s / duration, raw_s / duration
        ratio = raw_rtf / app_rtf
        ratios.append(ratio)
        wer_app, wer_raw = word_error_rate(REFERENCE, app_text), word_error_rate(REFERENCE, raw_text)
        print(f"{name:<10} {duration:7.2f} {app_s:7.3f} {raw_s:7.3f} {app_rtf:8.4f} {raw_rtf:8.4f} {ratio:6.3f}"
              f" {wer_app:8.3f} {wer_raw:8.3f}")
        report["files"][name] = {
            "audio_s": duration, "app_s": [round(t, 4) for t in app_times], "raw_s": [round(t, 4) for t in raw_times],
            "app_median_s": round(app_s, 4), "raw_median_s": round(raw_s, 4), "app_rtf": round(app_rtf, 4),
            "raw_rtf": round(raw_rtf, 4), "ratio_raw_over_app": round(ratio, 4), "wer_app": round(wer_app, 4),
            "wer_raw": round(wer_raw, 4), "text_app": app_text, "text_raw": raw_text,
        }
    report["ratio_min"] = round(min(ratios), 4)
    report["loadavg_before_after"] = [round(x, 2) for x in load_before + os.getloadavg()]
    print(f"ratio raw_rtf/app_rtf (target >= 0.95): {', '.join(f'{r:.3f}' for r in ratios)}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    app.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
