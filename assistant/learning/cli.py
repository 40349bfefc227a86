"""The `biseo train` and `biseo adapters` commands."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any


def register(sub: Any) -> None:
    """Add `biseo train` and `biseo adapters ...` to the `biseo` parser."""
    t = sub.add_parser("train", help="train a personal adapter on this computer from your feedback or documents")
    t.add_argument("--adapter", help="adapter name (default: the learning.adapter_name setting, 'personal')")
    t.add_argument("--from", dest="source", choices=["feedback", "docs", "both"],
                   help="learn from your feedback, chosen documents, or both (default: learning.source)")
    t.add_argument("--docs", nargs="+", metavar="PATH", help="files or folders to learn from (with --from docs/both)")
    t.add_argument("--epochs", type=int, help="passes over the examples (default: learning.epochs)")
    t.add_argument("--persona", help="train for this persona: its system prompt, and active only for it")
    t.add_argument("--activate", choices=["if-better", "always", "never"],
                   help="make it active afterwards: only if the evaluation says better (default), always, never")
    t.add_argument("--limit", type=int, help="most examples to use")
    t.add_argument("--json", action="store_true", help="print the run's events as JSON lines")
    t.set_defaults(func=cmd_train)

    a = sub.add_parser("adapters", help="list, use, turn off, roll back, delete or evaluate trained adapters")
    asub = a.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = asub.add_parser("list", help="every version, with its data, metrics and date")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_list)
    u = asub.add_parser("use", help="answer with this adapter (NAME for its newest version, or NAME/vN)")
    u.add_argument("ref")
    u.add_argument("--persona", help="only for conversations with this persona")
    u.set_defaults(func=cmd_use)
    o = asub.add_parser("off", help="answer with the base model alone")
    o.add_argument("--persona", help="only for this persona (it then uses no adapter, not the default one)")
    o.set_defaults(func=cmd_off)
    r = asub.add_parser("rollback", help="go back to the adapter that was active before the last change")
    r.add_argument("--persona")
    r.set_defaults(func=cmd_rollback)
    d = asub.add_parser("delete", help="delete a version (NAME/vN) or every version of NAME")
    d.add_argument("ref")
    d.set_defaults(func=cmd_delete)
    s = asub.add_parser("show", help="one version in full: data, settings, training, evaluation")
    s.add_argument("ref")
    s.set_defaults(func=cmd_show)
    e = asub.add_parser("eval", help="rerun the before/after evaluation of a version on its held-out data")
    e.add_argument("ref")
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=cmd_eval)


def _registry():
    from assistant.learning.registry import AdapterRegistry
    from assistant.paths import resolve_paths

    return AdapterRegistry(resolve_paths().ensure().data_dir / "adapters")


def _guard(action):
    from assistant.cli import CLIError
    from assistant.learning.registry import AdapterError

    try:
        return action()
    except AdapterError as exc:
        raise CLIError(str(exc)) from None


def _scope(persona: str | None) -> str:
    from assistant.learning.registry import scope_for

    return scope_for(persona)


# train
def cmd_train(args: argparse.Namespace) -> int:
    from assistant.learning.process import TrainingRun, train_command
    from assistant.paths import resolve_paths

    paths = resolve_paths().ensure()
    log_file = paths.data_dir / "logs" / "training.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    run = TrainingRun(train_command(adapter=args.adapter, source=args.source, docs=args.docs, epochs=args.epochs,
                                    persona=args.persona, activate=args.activate, limit=args.limit),
                      log_file=log_file)
    bar = _Bar(enabled=not args.json and sys.stderr.isatty())
    try:
        for event in run.events():
            if args.json:
                print(json.dumps(event, ensure_ascii=False), flush=True)
            else:
                bar.show(event)
    except KeyboardInterrupt:
        print("\nStopping the training run…", file=sys.stderr)
        run.cancel()
        for event in run.events():
            if args.json:
                print(json.dumps(event, ensure_ascii=False), flush=True)
    outcome = run.outcome()
    bar.close()
    if args.json:
        if outcome is not run.last:
            print(json.dumps(outcome, ensure_ascii=False), flush=True)
        return 0 if outcome["event"] == "done" else (130 if outcome["event"] == "cancelled" else 1)
    if outcome["event"] == "cancelled":
        print(outcome["message"], file=sys.stderr)
        return 130
    if outcome["event"] == "error":
        print(f"biseo: training failed: {outcome['message']}", file=sys.stderr)
        return 1
    _print_summary(outcome)
    return 0


class _Bar:
    """A one-line progress bar on stderr (plain lines when stderr is not a terminal)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.started = time.monotonic()
        self.last_phase = ""

    def show(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "phase":
            self._line(f"{event.get('message') or event.get('phase')}…", newline=True)
        elif kind == "dataset":
            by = ", ".join(f"{v} {k}" for k, v in (event.get("by_source") or {}).items())
            self._line(f"{event['train']} examples to train on, {event['held_out']} held out to judge it ({by})",
                       newline=True)
        elif kind == "progress":
            total = max(1, int(event["total"]))
            done = int(event["step"])
            width = 30
            filled = int(width * done / total)
            elapsed = float(event.get("elapsed_s") or 0.0)
            left = elapsed / done * (total - done) if done else 0.0
            text = (f"[{'#' * filled}{'.' * (width - filled)}] step {done}/{total}  epoch {event['epoch']}/"
                    f"{event['epochs']}  loss {event['loss']:.3f}  ~{left:.0f} s left")
            if self.enabled:
                print("\r" + text, end="", file=sys.stderr, flush=True)
            elif done == total or done % max(1, total // 10) == 0:
                print(text, file=sys.stderr, flush=True)

    def _line(self, text: str, newline: bool) -> None:
        if self.enabled:
            print("\r\033[K" + text, file=sys.stderr, flush=True)
        else:
            print(text, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.enabled:
            print("", file=sys.stderr)


def _print_summary(outcome: dict[str, Any]) -> None:
    meta = outcome.get("meta") or {}
    training = meta.get("training") or {}
    print(f"Trained {outcome['adapter']} on {training.get('examples')} examples in {training.get('seconds')} s "
          f"({training.get('device')}, {training.get('precision')}; peak memory "
          f"{(training.get('peak_memory_mb') or 0) / 1024:.1f} GB).")
    print(_evaluation_text(meta))
    agreement = (meta.get("agreement") or {}).get("adapted") or {}
    if agreement.get("top1_agreement") is not None:
        print(f"llama.cpp with the exported adapter picks the trained model's next token "
              f"{agreement['top1_agreement']:.1%} of the time ({agreement['positions']} positions).")
    if outcome.get("activated"):
        print(f"{outcome['adapter']} is now active.")
    else:
        print(f"{outcome['adapter']} was kept but not made active; `biseo adapters use {outcome['adapter']}` "
              "turns it on anyway.")


def _evaluation_text(meta: dict[str, Any]) -> str:
    ev = meta.get("evaluation") or {}
    before, after = ev.get("before") or {}, ev.get("after") or {}
    rows = []
    for label, key, pct in (("held-out reply perplexity", "perplexity", False),
                            ("held-out text perplexity", "text_perplexity", False),
                            ("personal questions", "personal_accuracy", True),
                            ("general sanity set", "sanity_accuracy", True)):
        b, a = before.get(key), after.get(key)
        if b is None and a is None:
            continue
        fmt = (lambda v: "-" if v is None else f"{v:.0%}") if pct else (lambda v: "-" if v is None else f"{v:.2f}")
        rows.append(f"  {label:<28} {fmt(b):>8} -> {fmt(a):<8}")
    head = f"Evaluation (before -> after): {ev.get('verdict', 'not evaluated')}"
    if len(ev.get("strengths") or []) > 1:
        head += f" at strength {ev.get('strength', 1.0):g} (tried " + ", ".join(
            f"{row['strength']:g} {row['verdict']}" for row in ev["strengths"]) + ")"
    reasons = "; ".join(ev.get("reasons") or [])
    return "\n".join([head + (f" ({reasons})" if reasons else "")] + rows)


# adapters
def cmd_list(args: argparse.Namespace) -> int:
    registry = _registry()
    versions = registry.all()
    active = registry.state()["active"]
    if args.json:
        for v in versions:
            print(json.dumps({**_brief(v), "active_for": _active_for(active, v.ref)}, ensure_ascii=False))
        return 0
    if not versions:
        print("No adapters yet. Rate and correct answers as you chat (or `biseo review`), then `biseo train`.")
        return 0
    print(f"{'ADAPTER':<22} {'DATE':<17} {'EXAMPLES':>8} {'VERDICT':<8} {'PERSONAL':>15} {'SANITY':>15}  ACTIVE")
    for v in versions:
        b = _brief(v)
        print(f"{v.ref:<22} {b['date']:<17} {b['examples']!s:>8} {v.verdict:<8} {b['personal']:>15} "
              f"{b['sanity']:>15}  {', '.join(_active_for(active, v.ref)) or '-'}")
    return 0


def _active_for(active: dict[str, str], ref: str) -> list[str]:
    return ["default" if scope == "" else scope.removeprefix("persona:") for scope, r in active.items() if r == ref]


def _brief(v) -> dict[str, Any]:
    ev = v.meta.get("evaluation") or {}
    before, after = ev.get("before") or {}, ev.get("after") or {}

    def change(key: str) -> str:
        b, a = before.get(key), after.get(key)
        return "-" if b is None or a is None else f"{b:.0%} -> {a:.0%}"

    data = v.meta.get("data") or {}
    return {"ref": v.ref, "date": time.strftime("%Y-%m-%d %H:%M", time.localtime(v.created_at)),
            "examples": data.get("train"), "held_out": data.get("held_out"), "verdict": v.verdict,
            "personal": change("personal_accuracy"), "sanity": change("sanity_accuracy"),
            "perplexity": [before.get("perplexity"), after.get("perplexity")],
            "persona": v.meta.get("persona"), "base_model": (v.meta.get("base_model") or {}).get("name")}


def cmd_use(args: argparse.Namespace) -> int:
    version = _guard(lambda: _registry().use(args.ref, _scope(args.persona)))
    where = f"for persona {args.persona}" if args.persona else "by default"
    print(f"Answering with {version.ref} {where} from the next message on.")
    if version.verdict == "worse":
        print("Note: its evaluation was worse than the base model on your held-out data.", file=sys.stderr)
    return 0


def cmd_off(args: argparse.Namespace) -> int:
    _guard(lambda: _registry().off(_scope(args.persona)))
    print(f"No adapter {'for persona ' + args.persona if args.persona else 'by default'}: answers come from the "
          "base model.")
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    version = _guard(lambda: _registry().rollback(_scope(args.persona)))
    print(f"Back to {version.ref}." if version else "Back to no adapter (the base model).")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    deleted = _guard(lambda: _registry().delete(args.ref))
    print("Deleted " + ", ".join(v.ref for v in deleted) + ".")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    version = _guard(lambda: _registry().get(args.ref))
    print(json.dumps(version.to_dict(), indent=2, ensure_ascii=False))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from assistant.learning.reevaluate import rerun

    registry = _registry()
    version = _guard(lambda: registry.get(args.ref))
    print(f"Evaluating {version.ref} (base model without and with it)…", file=sys.stderr)
    try:
        version = rerun(registry, version)
    except (OSError, RuntimeError, ValueError) as exc:
        from assistant.cli import CLIError

        raise CLIError(f"could not evaluate {version.ref}: {exc}") from None
    if args.json:
        print(json.dumps(version.meta.get("evaluation"), ensure_ascii=False))
    else:
        print(_evaluation_text(version.meta))
    return 0
