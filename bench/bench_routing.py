"""Tool-routing benchmark: the app's own decision step vs llama-cpp-python's chatml-function-calling.

Every request in bench/routing_requests.jsonl goes through

  app       the prompt and grammar the agent loop uses for one step (router_system_prompt,
            router_messages, decision_schema, parse_decision; backend.stream(purpose="router",
            temperature=0)), tools NOT executed;
  baseline  Llama(chat_format="chatml-function-calling").create_chat_completion(tools=...,
            tool_choice="auto", temperature=0) on the same GGUF, with OpenAI-style tool
            definitions built from the same ToolSpec schemas.

Per approach it reports choice accuracy (overall, tool-needed, no-tool), the share of well-formed
calls (valid JSON whose arguments pass ToolSpec.validate) and latency per decision.

    export OMP_WAIT_POLICY=PASSIVE BISEO_HOME=$(mktemp -d) BISEO_MODELS_DIR=/tmp/bh-models
    python bench/bench_routing.py [--limit N] [--skip-baseline]
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

from assistant.agent.loop import (NO_TOOL, decision_schema, parse_decision, router_messages,  # noqa: E402
                                  router_system_prompt)
from assistant.app import Assistant  # noqa: E402
from assistant.tools.spec import ArgumentError, ToolSpec  # noqa: E402


def load_requests(path: Path, limit: int | None) -> list[dict[str, str]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows[:limit] if limit else rows


def check_call(specs: dict[str, ToolSpec], name: str | None, arguments: Any) -> tuple[bool, str]:
    """(well-formed, problem): 'none', or a known tool whose arguments pass ToolSpec.validate."""
    if name == NO_TOOL:
        return True, ""
    spec = specs.get(name or "")
    if spec is None:
        return False, f"unknown tool {name!r}"
    try:
        spec.validate(arguments)
    except ArgumentError as exc:
        return False, f"invalid arguments: {exc}"
    return True, ""


def record(req: dict[str, str], chosen: str, well_formed: bool, problem: str, arguments: Any,
           raw: str, latency: float, **extra: Any) -> dict[str, Any]:
    # "also": other tools that serve the request as well (searching "my documents" with the files tool
    # or the document index are both right).
    match = chosen == req["expect"] or chosen in req.get("also", [])
    return {"text": req["text"], "expect": req["expect"], "chosen": chosen, "match": match,
            "well_formed": well_formed, "problem": problem, "arguments": arguments, "raw": raw,
            "latency_s": round(latency, 3), **extra}


# ----------------------------------------------------------------------------- the app's router

def run_app(assistant: Assistant, tools: list[ToolSpec], requests: list[dict[str, str]]) -> list[dict[str, Any]]:
    backend = assistant.backend()
    specs = {t.name: t for t in tools}
    system = router_system_prompt(tools)
    schema = decision_schema(tools)
    max_tokens = assistant.agent.config.decision_max_tokens
    out = []
    for i, req in enumerate(requests, 1):
        start = time.perf_counter()
        raw = "".join(backend.stream(router_messages(system, req["text"], [], None), json_schema=schema,
                                     temperature=0.0, purpose="router", max_tokens=max_tokens))
        latency = time.perf_counter() - start
        usage = backend.last_usage
        name, arguments, problem = parse_decision(raw)
        ok = not problem
        if ok:
            ok, problem = check_call(specs, name, arguments if arguments is not None else {})
        row = record(req, name or "?", ok, problem, arguments, raw, latency,
                     prompt_tokens=usage.prompt_tokens, cached_tokens=usage.cached_tokens,
                     completion_tokens=usage.completion_tokens)
        out.append(row)
        _progress("app", i, len(requests), row)
    return out


# ----------------------------------------------------------------------------- the baseline

def openai_tools(tools: list[ToolSpec]) -> list[dict[str, Any]]:
    return [{"type": "function", "function": {"name": t.name, "description": t.description,
                                              "parameters": t.schema}} for t in tools]


def run_baseline(model_path: str, n_ctx: int, n_threads: int, seed: int, persona: str,
                 tools: list[ToolSpec], requests: list[dict[str, str]], max_tokens: int) -> list[dict[str, Any]]:
    import llama_cpp

    llm = llama_cpp.Llama(model_path=model_path, n_ctx=n_ctx, n_gpu_layers=0, n_threads=n_threads,
                          n_threads_batch=n_threads, seed=seed, verbose=False,
                          chat_format="chatml-function-calling")
    specs = {t.name: t for t in tools}
    defs = openai_tools(tools)
    guard = _CompletionGuard(llm, max_tokens)
    out = []
    try:
        for i, req in enumerate(requests, 1):
            messages = [{"role": "system", "content": persona}, {"role": "user", "content": req["text"]}]
            guard.calls = 0
            start = time.perf_counter()
            try:
                resp = llm.create_chat_completion(messages=messages, tools=defs, tool_choice="auto",
                                                  temperature=0.0, max_tokens=max_tokens, seed=seed)
            except Exception as exc:  # noqa: BLE001 - a crash of the handler is a result too
                latency = time.perf_counter() - start
                row = record(req, "error", False, f"{type(exc).__name__}: {exc}", None, "", latency,
                             inner_completions=guard.calls)
                out.append(row)
                _progress("baseline", i, len(requests), row)
                continue
            latency = time.perf_counter() - start
            message = resp["choices"][0]["message"]
            calls = message.get("tool_calls") or []
            if calls:
                fn = calls[0]["function"]
                name, raw = fn["name"], fn.get("arguments") or ""
                try:
                    arguments = json.loads(raw)
                    ok, problem = check_call(specs, name, arguments)
                except json.JSONDecodeError as exc:
                    arguments, ok, problem = None, False, f"arguments not valid JSON ({exc.msg})"
                if len(calls) > 1:
                    problem = (problem + "; " if problem else "") + f"{len(calls)} calls, first scored"
            else:
                name, arguments, raw = NO_TOOL, None, message.get("content") or ""
                ok, problem = True, ""
            # In this handler the text branch ("message:") is decoded under the follow-up grammar
            # (function names or <|im_end|>), so a "text reply" can be the bare string
            # "functions.<tool>:": the model named a tool but no call was made. Scored as "none"
            # (strict); noted here for the lenient figure.
            named = raw.strip().removeprefix("functions.").removesuffix(":") if not calls else ""
            row = record(req, name, ok, problem, arguments, raw, latency, n_calls=len(calls),
                         inner_completions=guard.calls,
                         text_names_tool=named if named in specs else None,
                         completion_tokens=(resp.get("usage") or {}).get("completion_tokens"))
            out.append(row)
            _progress("baseline", i, len(requests), row)
    finally:
        llm.close()
    return out


class _CompletionGuard:
    """Hold the handler to the same token budget as the app's router.

    With tool_choice="auto", chatml-function-calling ignores max_tokens (it passes max_tokens=None to
    every inner completion) and keeps asking for further calls until the model stops; on a runaway
    that decodes until the 4096-token context overflows (minutes per request on 2 cores). This caps
    each inner completion at `max_tokens` (a truncated argument object then fails to parse, which is
    what the app's router does at decision_max_tokens) and a request at MAX_INNER inner completions.
    """

    MAX_INNER = 8

    def __init__(self, llm: Any, max_tokens: int) -> None:
        self.inner = llm.create_completion
        self.max_tokens = max_tokens
        self.calls = 0
        llm.create_completion = self  # the handler calls llama.create_completion(...)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls > self.MAX_INNER:
            raise RuntimeError(f"handler made more than {self.MAX_INNER} inner completions (repeated calls)")
        if kwargs.get("max_tokens") is None:
            kwargs["max_tokens"] = self.max_tokens
        return self.inner(*args, **kwargs)


# ----------------------------------------------------------------------------- report

def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def share(sel: list[dict[str, Any]], key: str) -> float | None:
        return round(sum(r[key] for r in sel) / len(sel), 4) if sel else None

    tool_rows = [r for r in rows if r["expect"] != NO_TOOL]
    none_rows = [r for r in rows if r["expect"] == NO_TOOL]
    calls = [r for r in rows if r["chosen"] not in (NO_TOOL,)]
    lat = [r["latency_s"] for r in rows]
    extra = {}
    if any("text_names_tool" in r for r in rows):
        def lenient(sel: list[dict[str, Any]]) -> float | None:
            hits = [(r.get("text_names_tool") or r["chosen"]) == r["expect"] for r in sel]
            return round(sum(hits) / len(hits), 4) if hits else None

        extra = {"accuracy_lenient": lenient(rows), "accuracy_lenient_tool_needed": lenient(tool_rows),
                 "accuracy_lenient_no_tool": lenient(none_rows),
                 "text_replies_naming_a_tool": sum(1 for r in rows if r.get("text_names_tool"))}
    return {**extra, "n": len(rows), "accuracy": share(rows, "match"), "accuracy_tool_needed": share(tool_rows, "match"),
            "accuracy_no_tool": share(none_rows, "match"), "well_formed": share(rows, "well_formed"),
            "well_formed_calls": share(calls, "well_formed"), "n_calls": len(calls),
            "latency_mean_s": round(statistics.mean(lat), 3) if lat else None,
            "latency_median_s": round(statistics.median(lat), 3) if lat else None,
            "latency_first_s": lat[0] if lat else None}


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:5.1f}%"


def print_report(results: dict[str, list[dict[str, Any]]], summaries: dict[str, dict[str, Any]]) -> None:
    print()
    head = f"{'approach':<10} {'n':>3} {'acc':>7} {'tool':>7} {'no-tool':>7} {'well-formed':>11} " \
           f"{'mean s':>7} {'median s':>8} {'first s':>7}"
    print(head)
    print("-" * len(head))
    for name, s in summaries.items():
        print(f"{name:<10} {s['n']:>3} {_pct(s['accuracy']):>7} {_pct(s['accuracy_tool_needed']):>7} "
              f"{_pct(s['accuracy_no_tool']):>7} {_pct(s['well_formed']):>11} {s['latency_mean_s']:>7.2f} "
              f"{s['latency_median_s']:>8.2f} {s['latency_first_s']:>7.2f}")
        if "accuracy_lenient" in s:
            print(f"{'':<10} text replies that are just 'functions.<tool>:' (no call made): "
                  f"{s['text_replies_naming_a_tool']}; counted as that tool: acc "
                  f"{_pct(s['accuracy_lenient']).strip()}, tool {_pct(s['accuracy_lenient_tool_needed']).strip()}, "
                  f"no-tool {_pct(s['accuracy_lenient_no_tool']).strip()}")
    for name, rows in results.items():
        bad = [r for r in rows if not r["match"] or not r["well_formed"]]
        print(f"\n{name}: {len(bad)} mismatched or malformed")
        for r in bad:
            flag = "" if r["well_formed"] else f"  MALFORMED: {r['problem']}"
            if r.get("text_names_tool"):
                flag += f"  (text reply {r['raw'].strip()!r})"
            args = json.dumps(r["arguments"], ensure_ascii=False) if r["arguments"] is not None else ""
            print(f"  expect {r['expect']:<10} got {r['chosen']:<10} {r['text']!r} {args}{flag}")


def _progress(name: str, i: int, n: int, row: dict[str, Any]) -> None:
    mark = "ok " if row["match"] else "MIS"
    wf = "" if row["well_formed"] else " MALFORMED"
    print(f"[{name} {i:>2}/{n}] {mark} {row['latency_s']:6.2f}s {row['expect']:>10} -> {row['chosen']:<10}"
          f" {row['text'][:60]}{wf}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=None, help="only the first N requests")
    ap.add_argument("--skip-baseline", action="store_true", help="only the app's router")
    ap.add_argument("--requests", type=Path, default=HERE / "routing_requests.jsonl")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "routing.json")
    ap.add_argument("--baseline-max-tokens", type=int, default=256,
                    help="token cap per inner completion of the handler (the app's router uses "
                         "decision_max_tokens, 256)")
    args = ap.parse_args(argv)

    requests = load_requests(args.requests, args.limit)
    assistant = Assistant()
    tools = assistant.registry.enabled(assistant.settings.tools.disabled)
    backend = assistant.backend()
    info = {"model": backend.info.model, "path": str(backend.path), "n_ctx": backend.info.context_length,
            "threads": backend.n_threads, "llama_cpp_python": backend.info.details.get("llama_cpp_python"),
            "cpu_count": os.cpu_count(), "machine": platform.machine(),
            "tools": [t.name for t in tools], "requests": str(args.requests), "n_requests": len(requests)}
    print(f"model {info['model']}  threads {info['threads']}  n_ctx {info['n_ctx']}  tools {info['tools']}",
          file=sys.stderr)

    results = {"app": run_app(assistant, tools, requests)}
    persona = assistant.settings.chat.system_prompt
    model_path, n_ctx, n_threads, seed = str(backend.path), backend.info.context_length, backend.n_threads, \
        backend.seed
    assistant.close()  # free the app's two contexts before loading the baseline
    if not args.skip_baseline:
        results["baseline"] = run_baseline(model_path, n_ctx, n_threads, seed, persona, tools, requests,
                                           args.baseline_max_tokens)
    summaries = {name: summarize(rows) for name, rows in results.items()}
    print_report(results, summaries)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"info": info, "summary": summaries, "results": results}, indent=2,
                                   ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
