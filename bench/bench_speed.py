"""Speed benchmark: the app's streaming path vs raw llama-cpp-python, and time-to-first-token over a chat.

(a) decode   The same rendered prompt, threads, n_ctx, max_tokens and greedy decoding, through
             Assistant.chat() (tools off) and through llama_cpp.Llama.create_completion(stream=True);
             each run on a freshly loaded model (so the prompt is never cached), sides alternating.
             Reports medians of time-to-first-token and decode tokens/s, and the ratios.
(b) turns    One conversation through Assistant.chat() with normal settings (tools on): TTFT at
             every turn with prompt and cached tokens per generation (router and answer), to show
             that turn 10 only evaluates what is new since turn 9.

    export OMP_WAIT_POLICY=PASSIVE BISEO_HOME=$(mktemp -d) BISEO_MODELS_DIR=/tmp/bh-models
    python bench/bench_speed.py [--runs 3] [--max-tokens 128] [--skip-decode] [--skip-turns]
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
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before llama_cpp is imported

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from assistant.app import Assistant  # noqa: E402
from assistant.events import (ApprovalRequested, ErrorEvent, Final, Token, ToolCallRequested,  # noqa: E402
                              ToolResult)
from assistant.paths import resolve_paths  # noqa: E402
from assistant.settings import load_settings  # noqa: E402

PROMPT = "Write a 300-word story about a lighthouse keeper."
QUIET = 0.05  # a run counts as quiet when other processes used at most this share of all CPU time

CONVERSATION = [
    "Hi! I'm planning a small dinner party this weekend.",
    "What is 18% of 240?",
    "Suggest a simple main course for six people.",
    "What time is it in Paris?",
    "Thanks! Any idea for a dessert?",
    "How much is 6 times 14.5?",
    "Give me a short shopping list for that.",
    "What day of the week is it today?",
    "Should I serve lemonade or iced tea?",
    "Summarize the plan in two sentences.",
]


# ----------------------------------------------------------------------------- a shared box

def _cpu_busy(interval: float = 1.0) -> float | None:
    """Share of all CPU time spent busy over `interval` seconds (Linux /proc/stat), else None."""
    def sample() -> tuple[int, int]:
        with open("/proc/stat", encoding="ascii") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        return fields[3] + fields[4], sum(fields)  # idle + iowait, total

    try:
        idle0, total0 = sample()
        time.sleep(interval)
        idle1, total1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    return 1.0 - (idle1 - idle0) / max(1, total1 - total0)


class OtherLoad:
    """CPU time used by other processes while a block runs, as a share of all CPU time (Linux)."""

    def __enter__(self) -> "OtherLoad":
        self.share: float | None = None
        self._start = self._sample()
        return self

    def __exit__(self, *exc: Any) -> None:
        end = self._sample()
        if self._start and end:
            busy = (end[0] - self._start[0]) - (end[2] - self._start[2])
            self.share = max(0.0, busy / max(1, end[1] - self._start[1]))

    @staticmethod
    def _sample() -> tuple[int, int, int] | None:
        try:
            with open("/proc/stat", encoding="ascii") as f:
                fields = [int(x) for x in f.readline().split()[1:]]
            with open("/proc/self/stat", encoding="ascii") as f:
                mine = f.read().rsplit(")", 1)[1].split()
            # system busy, system total, this process (all threads): utime + stime, all in clock ticks
            return sum(fields) - fields[3] - fields[4], sum(fields), int(mine[11]) + int(mine[12])
        except (OSError, ValueError, IndexError):
            return None


def wait_for_idle(threshold: float, max_wait_s: float) -> float | None:
    """Wait (at most max_wait_s) until other processes leave the CPUs mostly idle; returns busy share.

    On 2 cores any other process decoding at the same time halves our tokens/s, and the app/raw
    comparison means nothing if only one side was disturbed.
    """
    deadline = time.monotonic() + max_wait_s
    busy = _cpu_busy()
    while busy is not None and busy > threshold and time.monotonic() < deadline:
        busy = _cpu_busy()
    return busy


# ----------------------------------------------------------------------------- (a) decode

def app_run(max_tokens: int) -> dict[str, Any]:
    """One generation through Assistant.chat() on a freshly loaded model, tools off, greedy."""
    paths = resolve_paths()
    settings = load_settings(paths, tools={"enabled": False},
                             llm={"temperature": 0.0, "max_tokens": max_tokens})
    assistant = Assistant(settings=settings, paths=paths)
    try:
        backend = assistant.backend()  # loading is not timed
        persona = settings.chat.system_prompt
        prompt = backend.render([{"role": "system", "content": persona}, {"role": "user", "content": PROMPT}])
        first = last = None
        pieces = 0
        final: Final | None = None
        start = time.perf_counter()
        for event in assistant.chat(PROMPT):
            if isinstance(event, Token):
                last = time.perf_counter()
                first = first or last
                pieces += 1
            elif isinstance(event, Final):
                final = event
            elif isinstance(event, ErrorEvent):
                raise RuntimeError(f"app turn failed: {event.message}")
        assert final is not None and first is not None and last is not None
        # usage["completion_tokens"] is the token count of the text generated (the answer only: no tool
        # decision happens for this prompt), the same count the raw side takes from its stream.
        n = final.usage["completion_tokens"]
        return {"side": "app", "ttft_s": first - start, "tokens": n, "token_events": pieces,
                "usage_completion_tokens": final.usage["completion_tokens"],
                "decode_tok_s": (n - 1) / (last - first) if n > 1 and last > first else 0.0,
                "prompt_tokens": final.usage["prompt_tokens"], "cached_tokens": final.usage["cached_tokens"],
                "text": final.text, "prompt": prompt, "threads": backend.n_threads,
                "n_ctx": backend.info.context_length, "model_path": str(backend.path), "seed": backend.seed,
                "persona": persona}
    finally:
        assistant.close()


def raw_run(model_path: str, prompt: str, *, n_ctx: int, threads: int, seed: int,
            max_tokens: int) -> dict[str, Any]:
    """The same prompt text through llama-cpp-python directly, on a freshly loaded model."""
    import llama_cpp

    llm = llama_cpp.Llama(model_path=model_path, n_ctx=n_ctx, n_gpu_layers=0, n_threads=threads,
                          n_threads_batch=threads, seed=seed, verbose=False)
    try:
        prompt_tokens = len(llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True))
        pieces: list[str] = []
        n = 0
        first = last = None
        start = time.perf_counter()
        for chunk in llm.create_completion(prompt, max_tokens=max_tokens, temperature=0.0, stream=True,
                                           seed=seed):
            if chunk["choices"][0]["finish_reason"] is None:  # the last chunk is empty, not a token
                n += 1
            text = chunk["choices"][0]["text"]
            if text:
                last = time.perf_counter()
                first = first or last
                pieces.append(text)
        assert first is not None and last is not None
        return {"side": "raw", "ttft_s": first - start, "tokens": n, "token_events": len(pieces),
                "decode_tok_s": (n - 1) / (last - first) if n > 1 and last > first else 0.0,
                "prompt_tokens": prompt_tokens, "cached_tokens": 0, "text": "".join(pieces).strip()}
    finally:
        llm.close()


def bench_decode(runs: int, max_tokens: int, idle_threshold: float, idle_wait_s: float) -> dict[str, Any]:
    print(f"(a) decode: {runs} runs per side, max_tokens {max_tokens}, prompt {PROMPT!r}", file=sys.stderr)
    probe = app_run(16)  # learns the rendered prompt, path, threads, n_ctx; also warms the page cache
    cfg = dict(n_ctx=probe["n_ctx"], threads=probe["threads"], seed=probe["seed"], max_tokens=max_tokens)
    rows: list[dict[str, Any]] = []
    for i in range(runs):
        order = ("app", "raw") if i % 2 == 0 else ("raw", "app")
        for side in order:
            busy = wait_for_idle(idle_threshold, idle_wait_s)
            with OtherLoad() as load:
                row = app_run(max_tokens) if side == "app" else raw_run(probe["model_path"], probe["prompt"],
                                                                          **cfg)
            row["run"] = i + 1
            row["cpu_busy_before"] = None if busy is None else round(busy, 3)
            row["other_cpu_share"] = None if load.share is None else round(load.share, 3)
            rows.append(row)
            print(f"  run {i + 1} {side:<3} ttft {row['ttft_s']:.3f}s  decode {row['decode_tok_s']:.2f} tok/s  "
                  f"tokens {row['tokens']}  prompt {row['prompt_tokens']}  other processes' CPU share "
                  f"{row['other_cpu_share']}",
                  file=sys.stderr, flush=True)
    med = {}
    for side in ("app", "raw"):
        sel = [r for r in rows if r["side"] == side]
        quiet = [r for r in sel if r["other_cpu_share"] is not None and r["other_cpu_share"] <= QUIET]
        med[side] = {"ttft_s": statistics.median(r["ttft_s"] for r in sel),
                     "decode_tok_s": statistics.median(r["decode_tok_s"] for r in sel),
                     "tokens": statistics.median(r["tokens"] for r in sel),
                     "best_ttft_s": min(r["ttft_s"] for r in sel),
                     "best_decode_tok_s": max(r["decode_tok_s"] for r in sel),
                     "quiet_runs": len(quiet),
                     "quiet_ttft_s": statistics.median(r["ttft_s"] for r in quiet) if quiet else None,
                     "quiet_decode_tok_s": statistics.median(r["decode_tok_s"] for r in quiet) if quiet else None,
                     "prompt_tokens": sel[0]["prompt_tokens"]}
    # Each run's app/raw pair ran back to back, so its ratio is less exposed to load that changes
    # over the minutes of the benchmark (the box is shared) than the ratio of the medians.
    pairs = [(next(r for r in rows if r["run"] == i and r["side"] == "app"),
              next(r for r in rows if r["run"] == i and r["side"] == "raw")) for i in range(1, runs + 1)]
    pair_decode = [a["decode_tok_s"] / b["decode_tok_s"] for a, b in pairs]
    pair_ttft = [b["ttft_s"] / a["ttft_s"] for a, b in pairs]
    app_texts = {r["text"] for r in rows if r["side"] == "app"}
    raw_texts = {r["text"] for r in rows if r["side"] == "raw"}
    for r in rows:
        r.pop("prompt", None)
        r.pop("persona", None)
        r["text"] = r["text"][:120]
    return {"prompt": PROMPT, "rendered_prompt": probe["prompt"], "max_tokens": max_tokens, "runs": rows,
            "median": med, "config": {k: v for k, v in cfg.items()},
            "ratio_decode_app_over_raw": med["app"]["decode_tok_s"] / med["raw"]["decode_tok_s"],
            "ratio_ttft_raw_over_app": med["raw"]["ttft_s"] / med["app"]["ttft_s"],
            "ratio_quiet_decode_app_over_raw": (med["app"]["quiet_decode_tok_s"] / med["raw"]["quiet_decode_tok_s"]
                                                if med["app"]["quiet_runs"] and med["raw"]["quiet_runs"] else None),
            "ratio_quiet_ttft_raw_over_app": (med["raw"]["quiet_ttft_s"] / med["app"]["quiet_ttft_s"]
                                              if med["app"]["quiet_runs"] and med["raw"]["quiet_runs"] else None),
            "ratio_best_decode_app_over_raw": med["app"]["best_decode_tok_s"] / med["raw"]["best_decode_tok_s"],
            "ratio_best_ttft_raw_over_app": med["raw"]["best_ttft_s"] / med["app"]["best_ttft_s"],
            "pair_ratios_decode_app_over_raw": pair_decode, "pair_ratios_ttft_raw_over_app": pair_ttft,
            "median_pair_ratio_decode_app_over_raw": statistics.median(pair_decode),
            "median_pair_ratio_ttft_raw_over_app": statistics.median(pair_ttft),
            "same_output": app_texts == raw_texts and len(app_texts) == 1}


# ----------------------------------------------------------------------------- (b) turns

def bench_turns(messages: list[str], idle_threshold: float, idle_wait_s: float,
                warm: bool = True) -> dict[str, Any]:
    print(f"(b) turns: {len(messages)} turns, normal settings (tools on), warm-up {warm}", file=sys.stderr)
    assistant = Assistant()
    try:
        backend = assistant.backend()
        warm_up_s = None
        if warm:
            # What `biseo chat` does in the background while the user types the first message.
            t0 = time.perf_counter()
            assistant.agent.warm_up()
            warm_up_s = round(time.perf_counter() - t0, 3)
        generations: list[dict[str, Any]] = []
        original = backend.stream

        def recording_stream(messages_, **kwargs):
            # Wraps the app's backend.stream to read its per-generation Usage; changes nothing else.
            yield from original(messages_, **kwargs)
            u = backend.last_usage
            generations.append({"purpose": kwargs.get("purpose", "chat"), "prompt_tokens": u.prompt_tokens,
                                "cached_tokens": u.cached_tokens, "completion_tokens": u.completion_tokens,
                                "ttft_s": round(u.ttft_s, 3), "total_s": round(u.total_s, 3)})

        backend.stream = recording_stream
        cid = assistant.new_conversation("speed bench")
        turns = []
        for i, text in enumerate(messages, 1):
            generations.clear()
            first = None
            final: Final | None = None
            error = None
            tools: list[str] = []
            calls: list[dict[str, Any]] = []
            wait_for_idle(idle_threshold, idle_wait_s)
            load = OtherLoad().__enter__()
            start = time.perf_counter()
            for event in assistant.chat(text, cid):
                if isinstance(event, Token) and first is None:
                    first = time.perf_counter()
                elif isinstance(event, ToolCallRequested):
                    tools.append(event.name)
                    calls.append({"name": event.name, "arguments": event.arguments})
                elif isinstance(event, ToolResult) and calls:
                    calls[-1].update(ok=event.ok, denied=event.denied, output=event.output[:160])
                elif isinstance(event, ApprovalRequested):
                    calls[-1]["approval_requested"] = True  # left unanswered: the app counts it as a no
                elif isinstance(event, Final):
                    final = event
                elif isinstance(event, ErrorEvent):
                    error = event.message
            end = time.perf_counter()
            load.__exit__(None, None, None)
            usage = final.usage if final else {}
            answer_gen = next((g for g in reversed(generations) if g["purpose"] != "router"), {})
            row = {"turn": i, "text": text, "tools": tools, "calls": calls, "error": error,
                   "other_cpu_share": None if load.share is None else round(load.share, 3),
                   "ttft_s": round(first - start, 3) if first else None, "total_s": round(end - start, 3),
                   "usage": usage, "generations": list(generations),
                   "answer_prompt_tokens": answer_gen.get("prompt_tokens"),
                   "answer_cached_tokens": answer_gen.get("cached_tokens"),
                   "answer_new_tokens": (answer_gen["prompt_tokens"] - answer_gen["cached_tokens"]
                                         if answer_gen else None),
                   "router_s": sum(g["total_s"] for g in generations if g["purpose"] == "router"),
                   "answer": (final.text if final else "")[:160]}
            # What the chat context held after the previous turn: that turn's answer prompt plus the
            # tokens it generated. Cached close to this means the earlier turns were not evaluated again.
            prev = turns[-1]["generations"] if turns else []
            prev_answer = next((g for g in reversed(prev) if g["purpose"] != "router"), None)
            row["prev_context_tokens"] = (prev_answer["prompt_tokens"] + prev_answer["completion_tokens"]
                                          if prev_answer else 0)
            turns.append(row)
            print(f"  turn {i:>2} ttft {row['ttft_s']}s  prompt {usage.get('prompt_tokens')} cached "
                  f"{usage.get('cached_tokens')}  tools {tools}  total {row['total_s']}s  other processes' CPU "
                  f"share {row['other_cpu_share']}", file=sys.stderr,
                  flush=True)
        return {"messages": messages, "turns": turns, "threads": backend.n_threads,
                "n_ctx": backend.info.context_length, "warm_up_s": warm_up_s}
    finally:
        assistant.close()


# ----------------------------------------------------------------------------- report

def print_report(result: dict[str, Any]) -> None:
    d = result.get("decode")
    if d:
        print(f"\n(a) streaming path, {d['config']['threads']} threads, n_ctx {d['config']['n_ctx']}, "
              f"max_tokens {d['max_tokens']}, greedy, fresh model per run; medians of {len(d['runs']) // 2}")
        print(f"{'side':<5} {'prompt tok':>10} {'gen tok':>8} {'TTFT s':>8} {'decode tok/s':>13} "
              f"{'best TTFT':>10} {'best tok/s':>11}")
        for side in ("app", "raw"):
            m = d["median"][side]
            print(f"{side:<5} {m['prompt_tokens']:>10} {m['tokens']:>8.0f} {m['ttft_s']:>8.3f} "
                  f"{m['decode_tok_s']:>13.2f} {m['best_ttft_s']:>10.3f} {m['best_decode_tok_s']:>11.2f}")
        print(f"decode tok/s app/raw = {d['ratio_decode_app_over_raw']:.3f}   "
              f"TTFT raw/app = {d['ratio_ttft_raw_over_app']:.3f}   (ratios of the medians)")
        if d["ratio_quiet_decode_app_over_raw"] is not None:
            print(f"quiet runs only (other processes <= {QUIET:.0%} of CPU; app {d['median']['app']['quiet_runs']}, "
                  f"raw {d['median']['raw']['quiet_runs']}): decode app/raw = "
                  f"{d['ratio_quiet_decode_app_over_raw']:.3f} ({d['median']['app']['quiet_decode_tok_s']:.2f} vs "
                  f"{d['median']['raw']['quiet_decode_tok_s']:.2f} tok/s)   TTFT raw/app = "
                  f"{d['ratio_quiet_ttft_raw_over_app']:.3f}")
        else:
            print(f"no quiet runs on both sides (other processes <= {QUIET:.0%} of CPU): see best-of")
        print(f"best of each side: decode app/raw = {d['ratio_best_decode_app_over_raw']:.3f}   "
              f"TTFT raw/app = {d['ratio_best_ttft_raw_over_app']:.3f}")
        print("per run pair (back to back): decode app/raw "
              + " ".join(f"{x:.3f}" for x in d["pair_ratios_decode_app_over_raw"])
              + f"  median {d['median_pair_ratio_decode_app_over_raw']:.3f};  TTFT raw/app "
              + " ".join(f"{x:.3f}" for x in d["pair_ratios_ttft_raw_over_app"])
              + f"  median {d['median_pair_ratio_ttft_raw_over_app']:.3f}")
        print(f"same output text on both sides in every run: {d['same_output']}")
    t = result.get("turns")
    if t:
        print(f"\n(b) one conversation, normal settings (tools on), {t['threads']} threads, warm-up "
              + (f"{t['warm_up_s']} s before turn 1" if t.get("warm_up_s") is not None else "skipped (--cold)"))
        print(f"{'turn':>4} {'TTFT s':>7} {'router s':>8} {'prompt':>7} {'cached':>7} {'new':>5} {'prev ctx':>8} "
              f"{'total s':>8} {'others':>6}  tools / message")
        for r in t["turns"]:
            ttft = f"{r['ttft_s']:.2f}" if r["ttft_s"] is not None else "-"
            print(f"{r['turn']:>4} {ttft:>7} {r['router_s']:>8.2f} {str(r['answer_prompt_tokens']):>7} "
                  f"{str(r['answer_cached_tokens']):>7} {str(r['answer_new_tokens']):>5} "
                  f"{r['prev_context_tokens']:>8} {r['total_s']:>8.2f} {_share(r['other_cpu_share']):>6}  "
                  f"{_calls_text(r['calls'])} / {r['text']}" + (f"  ERROR {r['error']}" if r["error"] else ""))
        print("prompt/cached/new: tokens of the answer prompt, reused from the context, evaluated now.\n"
              "prev ctx: tokens the chat context held after the previous turn's answer.\n"
              "router s: time in tool-choice decisions before the answer starts (part of TTFT).\n"
              "others: CPU share used by other processes during the turn (the box may be shared).")


def _share(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


def _calls_text(calls: list[dict[str, Any]]) -> str:
    if not calls:
        return "-"
    parts = []
    for c in calls:
        args = ",".join(f"{k}={v!r}" for k, v in c["arguments"].items() if v is not None)
        verdict = "denied" if c.get("denied") else ("ok" if c.get("ok") else "failed")
        parts.append(f"{c['name']}({args}) {verdict}")
    return "; ".join(parts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="runs per side in (a)")
    ap.add_argument("--max-tokens", type=int, default=128, help="tokens to generate in (a)")
    ap.add_argument("--turns", type=int, default=len(CONVERSATION), help="turns in (b)")
    ap.add_argument("--idle-threshold", type=float, default=0.15,
                    help="before each run in (a), wait until the CPUs are at most this busy (0-1)")
    ap.add_argument("--idle-wait", type=float, default=20.0,
                    help="longest wait in seconds for that before running anyway")
    ap.add_argument("--skip-decode", action="store_true")
    ap.add_argument("--skip-turns", action="store_true")
    ap.add_argument("--cold", action="store_true", help="in (b), skip the warm-up that `biseo chat` runs "
                    "while the user types, so turn 1 pays for evaluating the tool list")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "speed.json")
    args = ap.parse_args(argv)
    import llama_cpp

    result: dict[str, Any] = {"info": {"cpu_count": os.cpu_count(), "machine": platform.machine(),
                                       "llama_cpp_python": llama_cpp.__version__,
                                       "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY")}}
    if not args.skip_decode:
        result["decode"] = bench_decode(args.runs, args.max_tokens, args.idle_threshold, args.idle_wait)
    if not args.skip_turns:
        result["turns"] = bench_turns(CONVERSATION[:args.turns], args.idle_threshold, args.idle_wait,
                                      warm=not args.cold)
    print_report(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
