"""Probe for issue 6: LoRA training speed on a GPU for the default model's shape and a 7B shape.

Weights are random (the timing of a training step does not depend on their values, and the real files are too
large to carry to the GPU machine); shapes are Qwen2.5-0.5B's and Qwen2.5-7B's. LoRA r=16 on every attention and
MLP projection, bf16, AdamW, sequences of 256 tokens, batches of 8, loss on every token. Prints one JSON object.

    python bench/probe_lora_gpu.py [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import time

import torch

SHAPES = {
    "qwen2.5-0.5b": dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                         num_key_value_heads=2, vocab_size=151936, tie_word_embeddings=True),
    "qwen2.5-7b": dict(hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
                       num_key_value_heads=4, vocab_size=152064, tie_word_embeddings=False),
}


def probe(name: str, shape: dict, examples: int = 96, seq: int = 256, batch: int = 8) -> dict:
    from peft import LoraConfig, get_peft_model
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    config = Qwen2Config(max_position_embeddings=32768, rope_theta=1_000_000.0, **shape)
    torch.set_default_dtype(torch.bfloat16)
    with torch.device("cuda"):
        model = Qwen2ForCausalLM(config)
    torch.set_default_dtype(torch.float32)
    params = sum(p.numel() for p in model.parameters())
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, task_type="CAUSAL_LM",
                                             target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                                             "up_proj", "down_proj"]))
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-4)
    model.train()
    data = torch.randint(0, shape["vocab_size"], (examples, seq), device="cuda")

    def step(x: torch.Tensor) -> float:
        out = model(input_ids=x, labels=x)
        out.loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return float(out.loss.detach())

    for i in range(2):  # warm-up: kernels, allocator
        step(data[:batch])
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for i in range(0, examples, batch):
        step(data[i:i + batch])
    torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    result = {"model_shape": name, "parameters": params, "lora_parameters": sum(p.numel() for p in trainable),
              "examples": examples, "tokens_per_example": seq, "batch": batch,
              "seconds": round(seconds, 3), "seconds_per_100_examples": round(seconds * 100 / examples, 3),
              "tokens_per_s": round(examples * seq / seconds), "peak_gpu_gb": round(torch.cuda.max_memory_allocated() / 2**30, 2)}
    del model, optimizer, data
    torch.cuda.empty_cache()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out")
    args = parser.parse_args()
    import peft
    import transformers

    report = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__,
              "transformers": transformers.__version__, "peft": peft.__version__, "runs": []}
    for name, shape in SHAPES.items():
        try:
            report["runs"].append(probe(name, shape))
        except Exception as exc:  # noqa: BLE001 - report what failed and go on
            report["runs"].append({"model_shape": name, "error": f"{type(exc).__name__}: {exc}"})
        print(json.dumps(report["runs"][-1]), flush=True)
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)


if __name__ == "__main__":
    main()
