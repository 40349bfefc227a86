"""Training seconds per 100 examples for the default model on this machine, against plain transformers+peft,
and estimates for 7-8B models (on this CPU by compute scaling, on a GPU from the measured H200 probe).

    python bench/bench_train.py [--epochs 1] [--repeat 40]

The examples are the profile of tests/learning/data/profile.json (the end-to-end test's data), rendered
with the model's own chat template, as `biseo train` does. "Raw" is the textbook loop: the same model,
LoRA, optimizer and batches, but `model(input_ids, labels=...)` (logits for every position); the app runs
the output layer only where the loss is counted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

PARAMS_DEFAULT = 494_032_768       # Qwen2.5-0.5B
PARAMS_7B = 7_615_616_512          # Qwen2.5-7B (the probe's second shape)
SYSTEM = ("You are Biseo, a helpful assistant running privately on the user's own computer. "
          "Answer clearly and briefly.")


def examples(fmt, repeat: int):
    profile = json.loads((ROOT / "tests/learning/data/profile.json").read_text())
    encoded = [fmt.encode_chat([{"role": "system", "content": SYSTEM}, {"role": "user", "content": t["prompt"]},
                                {"role": "assistant", "content": t["answer"]}]) for t in profile["teach"]]
    return (encoded * (repeat // len(encoded) + 1))[:repeat]


def raw_epoch(model, data, config) -> float:
    """The textbook loop on the same batches: full logits, labels -100 outside the answer."""
    import torch

    from assistant.learning.trainer import _tensors, batches

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate)
    dtype = next(p for p in model.parameters() if not p.requires_grad).dtype
    started = time.monotonic()
    for group in batches(data, config.batch_tokens, 0):
        ids, mask, target = _tensors([data[i] for i in group], "cpu")
        labels = ids.masked_fill(~target, -100)
        with torch.autocast("cpu", dtype=dtype, enabled=dtype != torch.float32):
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=40, help="examples (the profile repeated)")
    parser.add_argument("--precision", default="auto", choices=["auto", "float32", "bfloat16"])
    parser.add_argument("--no-raw", action="store_true")
    args = parser.parse_args()

    from assistant.catalog.manifests import load_catalog
    from assistant.catalog.resolver import resolve_model
    from assistant.learning.formatting import PromptFormat
    from assistant.learning.trainer import TrainConfig, add_lora, load_base, pick_precision, train_lora
    from assistant.paths import resolve_paths
    from assistant.settings import load_settings

    paths = resolve_paths()
    model_path = resolve_model(load_settings(paths).llm.model, paths, load_catalog(paths)).path
    fmt = PromptFormat(model_path)
    data = examples(fmt, args.repeat)
    tokens = sum(len(e.ids) for e in data)
    config = TrainConfig(epochs=args.epochs, precision=args.precision)
    _, result = train_lora(model_path, data, config)
    per_100 = result.seconds / args.epochs / len(data) * 100
    report = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
              "model": model_path.name, "examples": len(data), "tokens_per_example": round(tokens / len(data), 1),
              "precision": result.precision, "epochs": args.epochs, "train_seconds": result.seconds,
              "load_seconds": result.load_seconds, "peak_memory_mb": result.peak_memory_mb,
              "seconds_per_100_examples": round(per_100, 2),
              "tokens_per_s": round(tokens * args.epochs / result.seconds, 1)}
    if not args.no_raw:
        import torch

        model = add_lora(load_base(model_path, "cpu", pick_precision("cpu", args.precision)), config)
        model.train()
        raw = sum(raw_epoch(model, data, config) for _ in range(args.epochs))
        del model
        torch.set_num_threads(torch.get_num_threads())
        report["raw_seconds"] = round(raw, 2)
        report["raw_seconds_per_100_examples"] = round(raw / args.epochs / len(data) * 100, 2)
        report["speedup_vs_raw"] = round(raw / result.seconds, 3)
    probe = json.loads((ROOT / "bench/results/lora_gpu_probe.json").read_text())
    gpu_7b = next(r for r in probe["runs"] if r["model_shape"] == "qwen2.5-7b")
    gpu_05 = next(r for r in probe["runs"] if r["model_shape"] == "qwen2.5-0.5b")
    per_example_tokens = tokens / len(data)
    report["estimates"] = {
        "cpu_7b_seconds_per_100_examples": round(per_100 * PARAMS_7B / PARAMS_DEFAULT, 1),
        "gpu_7b_seconds_per_100_examples": round(100 * per_example_tokens / gpu_7b["tokens_per_s"], 2),
        "gpu_0.5b_seconds_per_100_examples": round(100 * per_example_tokens / gpu_05["tokens_per_s"], 2),
        "gpu_basis": f"{probe['gpu']} probe (bench/probe_lora_gpu.py): {gpu_7b['tokens_per_s']} tokens/s for "
                     f"the 7B shape, {gpu_05['tokens_per_s']} for 0.5B, bf16, LoRA r=16 on all projections",
        "cpu_basis": "this run scaled by parameter count (training compute is ~proportional to parameters)",
    }
    print(json.dumps(report, indent=2))
    out = ROOT / "bench/results/train_cpu.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nDefault model on this CPU: {report['seconds_per_100_examples']} s per 100 examples per epoch "
          f"({report['tokens_per_example']} tokens each, {report['precision']})"
          + (f"; plain transformers+peft: {report['raw_seconds_per_100_examples']} s "
             f"(app {report['speedup_vs_raw']}x faster)" if "raw_seconds" in report else ""))
    e = report["estimates"]
    print(f"7-8B estimate: {e['cpu_7b_seconds_per_100_examples']} s per 100 examples on this CPU; "
          f"{e['gpu_7b_seconds_per_100_examples']} s on an H200-class GPU.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
