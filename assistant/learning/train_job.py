"""One training run, in a process of its own: data -> LoRA -> GGUF adapter -> evaluation -> registry.

Run as `python -m assistant.learning.train_job [options]`; it prints one JSON object per line on stdout
(`phase`, `progress`, `done`, `cancelled`, `error`) for the CLI's progress bar and the app's panel.
SIGTERM or SIGINT cancels it. It writes only into a new partial version folder until everything is done,
so killing it at any moment leaves every existing adapter, and which one is active, untouched.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

EXIT_CANCELLED = 3
EXIT_FAILED = 1
_stop = {"requested": False}


def emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}, ensure_ascii=False), flush=True)


def _request_stop(_signum, _frame) -> None:
    _stop["requested"] = True


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m assistant.learning.train_job")
    p.add_argument("--adapter", default=None)
    p.add_argument("--from", dest="source", choices=("feedback", "docs", "both"), default=None)
    p.add_argument("--docs", nargs="*", default=None)
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--persona", default=None, help="train for this persona (its system prompt; active for it)")
    p.add_argument("--activate", choices=("if-better", "always", "never"), default=None)
    p.add_argument("--limit", type=int, default=None, help="most examples")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--skip-eval", action="store_true", help="no before/after evaluation (never activates)")
    return p.parse_args(argv)


class TrainLock:
    """One training run at a time per data folder (a second one says so and exits)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(path, "a+")
        try:
            fcntl.flock(self._f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._f.seek(0)
            holder = self._f.read().strip() or "another process"
            self._f.close()
            raise RuntimeError(f"Another training run is in progress (pid {holder}); wait for it or cancel it.")
        self._f.seek(0)
        self._f.truncate()
        self._f.write(str(os.getpid()))
        self._f.flush()

    def release(self) -> None:
        try:
            fcntl.flock(self._f, fcntl.LOCK_UN)
        finally:
            self._f.close()


def run(args: argparse.Namespace) -> int:
    from assistant.learning.registry import AdapterRegistry, check_name, scope_for
    from assistant.paths import resolve_paths
    from assistant.settings import load_settings

    paths = resolve_paths().ensure()
    settings = load_settings(paths)
    cfg = settings.learning
    name = check_name(args.adapter or cfg.adapter_name)
    registry = AdapterRegistry(paths.data_dir / "adapters")
    lock = TrainLock(registry.root / ".train.lock")
    partial: Path | None = None
    try:
        emit("phase", phase="dataset", message="Collecting what you taught")
        model_path, model_name = _base_model(settings, paths)
        system_prompt, persona = _system_prompt(settings, paths, args.persona)
        dataset = _dataset(args, settings, paths, system_prompt)
        emit("dataset", **dataset.counts())
        number, partial = registry.reserve(name)
        meta = _train_and_check(args, cfg, model_path, model_name, system_prompt, persona, dataset, partial)
        if _stop["requested"]:
            raise _cancelled()
        version = registry.commit(name, number, partial, meta)
        partial = None
        activated = _maybe_activate(registry, version, args.activate or cfg.activate, scope_for(persona))
        version = registry.update_meta(version, activated=activated)
        emit("done", adapter=version.ref, path=str(version.path), activated=activated, meta=version.meta)
        return 0
    except Exception as exc:
        from assistant.learning.errors import TrainingCancelled

        if partial is not None:
            import shutil

            shutil.rmtree(partial, ignore_errors=True)
        if isinstance(exc, TrainingCancelled):
            emit("cancelled", message="Training was cancelled; your adapters are as they were.")
            return EXIT_CANCELLED
        emit("error", message=str(exc) or type(exc).__name__, kind=type(exc).__name__)
        return EXIT_FAILED
    finally:
        lock.release()


def _cancelled() -> Exception:
    from assistant.learning.errors import TrainingCancelled

    return TrainingCancelled("training was cancelled")


def _base_model(settings, paths) -> tuple[Path, str]:
    if settings.llm.backend != "llama-cpp":
        raise RuntimeError("Adapters are trained for the local model (llm.backend = 'llama-cpp'); a server's "
                           "model cannot be adapted here.")
    from assistant.catalog.manifests import load_catalog
    from assistant.catalog.resolver import resolve_model

    resolved = resolve_model(settings.llm.model, paths, load_catalog(paths))
    name = resolved.manifest.name if resolved.manifest else resolved.path.name
    return resolved.path, name


def _system_prompt(settings, paths, persona: str | None) -> tuple[str, str | None]:
    from assistant.personas import PersonaStore

    store = PersonaStore(paths.data_dir / "personas.json", lambda: settings.chat.system_prompt)
    if persona:
        found = store.get(persona)
        if found is None:
            raise RuntimeError(f"There is no persona called {persona!r}.")
        return found.system_prompt, found.name
    default = store.get(store.default_name)
    return (default.system_prompt if default else settings.chat.system_prompt), None


def _dataset(args, settings, paths, system_prompt: str):
    from assistant.learning import dataset as ds

    cfg = settings.learning
    source = args.source or cfg.source
    examples: list[ds.Example] = []
    skipped: dict[str, int] = {}
    if source in ("feedback", "both"):
        from assistant.feedback.store import FeedbackStore
        from assistant.history.store import HistoryStore

        history = HistoryStore(paths.history_db)
        feedback = FeedbackStore(paths.data_dir / "feedback.db", history=history)
        try:
            found, skipped = ds.from_feedback(feedback.records(), system_prompt,
                                              uncertainty_of=lambda mid: _uncertainty(history, mid))
        finally:
            feedback.close()
            history.close()
        examples.extend(found)
    if source in ("docs", "both"):
        chosen = args.docs if args.docs else cfg.documents
        if not chosen:
            raise ds.DatasetError("Choose the documents to learn from: --docs FILE_OR_FOLDER ... or the "
                                  "learning.documents setting.")
        found, doc_skipped = ds.from_documents(chosen, max_file_mb=settings.documents.max_file_mb)
        if not found:
            raise ds.DatasetError("The chosen documents have no readable text.")
        examples.extend(found)
        skipped.update(doc_skipped)
    return ds.build(examples, limit=args.limit or cfg.max_examples, uncertain_share=cfg.uncertain_share,
                    holdout_share=cfg.holdout_share, seed=args.seed, skipped=skipped)


def _uncertainty(history, message_id: str) -> float | None:
    try:
        value = (history.get_message(message_id).meta or {}).get("uncertainty") or {}
    except Exception:
        return None
    return value.get("mean_entropy") if isinstance(value, dict) else None


def _train_and_check(args, cfg, model_path: Path, model_name: str, system_prompt: str, persona: str | None,
                     dataset, partial: Path) -> dict[str, Any]:
    from assistant.learning.formatting import PromptFormat

    fmt = PromptFormat(model_path)
    max_tokens = 512
    encode = (lambda e: fmt.encode_chat(e.messages, max_tokens) if e.kind == "chat"
              else fmt.encode_text(e.text, max_tokens))
    train_set = [encode(e) for e in dataset.train]
    held_set = [encode(e) for e in dataset.held_out]
    rehearsal = _rehearsal(cfg, model_path, model_name, fmt, system_prompt, dataset, partial.parent.parent)
    for e in rehearsal:
        encoded = encode(e)
        encoded.distill = True
        train_set.append(encoded)
    dataset.save(partial / "data.jsonl")

    from assistant.learning.gguf_lora import export_lora
    from assistant.learning.trainer import TrainConfig, lora_weights, top1, train_lora

    config = TrainConfig(rank=cfg.rank, alpha=cfg.alpha, learning_rate=cfg.learning_rate,
                         epochs=args.epochs or cfg.epochs, batch_tokens=cfg.batch_tokens, max_tokens=max_tokens,
                         device=cfg.device, precision=cfg.precision, seed=args.seed,
                         distill_weight=cfg.rehearsal_weight)
    started = time.time()

    def progress(p) -> None:
        emit("progress", step=p.step, total=p.total, epoch=p.epoch, epochs=config.epochs, loss=p.loss,
             elapsed_s=round(p.elapsed_s, 1))

    model, result = train_lora(model_path, train_set, config, on_progress=progress,
                               should_stop=lambda: _stop["requested"],
                               on_phase=lambda ph: emit("phase", phase=ph, message={
                                   "loading": "Loading the base model's weights",
                                   "training": "Training"}.get(ph, ph)))
    emit("phase", phase="exporting", message="Writing the adapter for llama.cpp")
    arch = fmt.architecture
    text_config = model.get_base_model().config
    matrices = export_lora(partial / "adapter.gguf", lora_weights(model), architecture=arch, alpha=config.alpha,
                           n_head=getattr(text_config, "num_attention_heads", 0),
                           n_head_kv=getattr(text_config, "num_key_value_heads", 0), name=partial.parent.name)
    reference = {"adapted": top1(model, held_set or train_set[:8]), "base": top1(model, held_set or train_set[:8],
                                                                                   adapter=False)}
    del model
    meta: dict[str, Any] = {
        "created_at": started, "persona": persona, "system_prompt": system_prompt,
        "base_model": {"name": model_name, "file": model_path.name, "size": model_path.stat().st_size,
                       "architecture": arch},
        "data": {**dataset.counts(), "rehearsal": len(rehearsal), "source": args.source or cfg.source,
                 "uncertain_share": cfg.uncertain_share, "holdout_share": cfg.holdout_share},
        "config": {"rank": config.rank, "alpha": config.alpha, "learning_rate": config.learning_rate,
                   "epochs": config.epochs, "batch_tokens": config.batch_tokens, "matrices": matrices},
        "training": {"device": result.device, "precision": result.precision, "steps": result.steps,
                     "examples": result.examples, "trained_tokens": result.trained_tokens,
                     "total_tokens": result.total_tokens, "seconds": result.seconds,
                     "load_seconds": result.load_seconds, "peak_memory_mb": result.peak_memory_mb,
                     "seconds_per_100_examples": result.seconds_per_100_examples,
                     "first_loss": result.losses[0] if result.losses else None,
                     "last_loss": result.losses[-1] if result.losses else None},
    }
    if _stop["requested"]:
        raise _cancelled()
    if args.skip_eval:
        meta["evaluation"] = {"verdict": "unknown", "reasons": ["not evaluated (--skip-eval)"]}
        return meta
    emit("phase", phase="evaluating", message="Comparing answers with and without the adapter")
    meta["evaluation"], meta["agreement"] = evaluate_version(
        model_path, fmt, partial / "adapter.gguf", dataset.held_out, system_prompt, cfg.sanity_tolerance,
        tuple(cfg.strengths), reference=reference, held_encoded=held_set or train_set[:8])
    fmt.close()
    return meta


def _rehearsal(cfg, model_path: Path, model_name: str, fmt, system_prompt: str, dataset, root: Path):
    """The base model's own answers to general questions, to train alongside (see rehearsal.py)."""
    from assistant.learning.evaluate import Evaluator
    from assistant.learning.rehearsal import rehearsal_examples

    chats = sum(1 for e in dataset.train if e.kind == "chat")
    count = int(round(cfg.rehearsal_share * chats))
    if count <= 0:
        return []
    emit("phase", phase="rehearsal", message="Answering general questions with the base model (rehearsal)")
    evaluator = Evaluator(model_path, fmt)
    try:
        return rehearsal_examples(lambda messages: evaluator.answer(messages, 160, complete_only=True),
                                  system_prompt, count=count, cache=root / ".rehearsal.json",
                                  model_key=f"{model_name}:{model_path.stat().st_size}")
    finally:
        evaluator.close()


def evaluate_version(model_path: Path, fmt, adapter_path: Path, held_out, system_prompt: str,
                     sanity_tolerance: float, strengths=(1.0,), *, reference: dict[str, Any] | None = None,
                     held_encoded=None) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Before/after scores on the held-out data and the sanity set, at each adapter strength tried; the best
    strength is kept (and llama.cpp vs trained-model agreement, at full strength, as trained)."""
    from assistant.learning.evaluate import Evaluator, agreement, choose_strength, score

    evaluator = Evaluator(model_path, fmt)
    tried = []
    try:
        evaluator.set_adapter(None)
        before = score(evaluator, held_out, system_prompt)
        served_base = evaluator.top1(held_encoded) if reference else None
        served_adapted = None
        for strength in sorted(set(strengths) | ({1.0} if reference else set()), reverse=True):
            if _stop["requested"]:
                raise _cancelled()
            evaluator.set_adapter(adapter_path, strength)
            if strength == 1.0 and reference:
                served_adapted = evaluator.top1(held_encoded)
            if strength in strengths:
                tried.append((strength, score(evaluator, held_out, system_prompt)))
    finally:
        evaluator.close()
    chosen, after, label, reasons, table = choose_strength(before, tried, sanity_tolerance)
    evaluation = {"verdict": label, "reasons": reasons, "strength": chosen, "strengths": table,
                  "before": before.to_dict(), "after": after.to_dict(), "evaluated_at": time.time()}
    agree = None
    if reference:
        agree = {"adapted": agreement(reference["adapted"], served_adapted),
                 "base": agreement(reference["base"], served_base)}
    return evaluation, agree


def _maybe_activate(registry, version, policy: str, scope: str) -> bool:
    if policy == "never":
        return False
    if policy == "if-better" and version.verdict != "better":
        return False
    registry.use(version.ref, scope)
    return True


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _request_stop)
    signal.signal(signal.SIGINT, _request_stop)
    try:
        args = parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        return run(args)
    except Exception as exc:  # the lock or settings: still one JSON line, never a traceback
        emit("error", message=str(exc), kind=type(exc).__name__)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
