"""LoRA training on the base model's own weights (dequantized from the GGUF), on the GPU when there is one.

Imported only by the training process: it pulls in torch, transformers and peft.
"""

from __future__ import annotations

import math
import os
import random
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything is local; never reach for the Hub
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")

import torch  # noqa: E402

from assistant.learning.errors import TrainingCancelled  # noqa: E402
from assistant.learning.formatting import Encoded  # noqa: E402

TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass
class TrainConfig:
    """How to train: LoRA shape, optimizer and where."""

    rank: int = 16
    alpha: float = 32.0
    learning_rate: float = 1e-3
    epochs: int = 5
    batch_tokens: int = 512           # tokens per optimizer step (padding included)
    max_tokens: int = 512             # longest example
    device: str = "auto"              # auto | cpu | cuda
    precision: str = "auto"           # auto | float32 | bfloat16
    seed: int = 0
    threads: int | None = None
    distill_weight: float = 1.0       # weight of the pull toward the base model on rehearsal examples


@dataclass
class Progress:
    """One optimizer step done."""

    step: int
    total: int
    epoch: int
    loss: float
    examples_done: int
    elapsed_s: float


@dataclass
class TrainResult:
    """What a run produced and what it cost."""

    device: str
    precision: str
    steps: int
    examples: int
    trained_tokens: int
    total_tokens: int
    seconds: float
    load_seconds: float
    peak_memory_mb: float
    losses: list[float] = field(default_factory=list)
    epochs_run: int = 1

    @property
    def seconds_per_100_examples(self) -> float:
        """Training seconds per 100 examples per epoch (loading not counted)."""
        per_epoch = self.examples and self.seconds / max(1, self.epochs_run) / self.examples
        return round(100 * per_epoch, 2) if per_epoch else 0.0


def pick_device(wanted: str = "auto") -> str:
    if wanted == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("settings ask to train on the GPU (cuda), but torch sees no CUDA GPU here")
    if wanted in ("cpu", "cuda"):
        return wanted
    return "cuda" if torch.cuda.is_available() else "cpu"


def pick_precision(device: str, wanted: str = "auto") -> torch.dtype:
    if wanted == "float32":
        return torch.float32
    if wanted == "bfloat16":
        return torch.bfloat16
    if device == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    return torch.bfloat16 if _cpu_has_bf16() else torch.float32


def _cpu_has_bf16() -> bool:
    """CPUs with native bf16 matrix units (AVX512-BF16, AMX) train about twice as fast in bf16."""
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="ignore")
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def load_base(model_path: Path, device: str, dtype: torch.dtype):
    """The GGUF's weights, dequantized into a transformers model (frozen)."""
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    model = AutoModelForCausalLM.from_pretrained(str(model_path.parent), gguf_file=model_path.name, dtype=dtype)
    model.config.use_cache = False
    model.to(device)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def add_lora(model, config: TrainConfig):
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(config.seed)
    peft_model = get_peft_model(model, LoraConfig(
        r=config.rank, lora_alpha=config.alpha, lora_dropout=0.0, bias="none",
        target_modules=list(TARGET_MODULES), task_type="CAUSAL_LM"))
    for p in peft_model.parameters():
        if p.requires_grad:
            p.data = p.data.float()  # the adapter itself trains in full precision
    return peft_model


def batches(examples: Sequence[Encoded], batch_tokens: int, seed: int) -> list[list[int]]:
    """Indices grouped by similar length (little padding), each group within the token budget, shuffled."""
    groups: list[list[int]] = []
    for distill in (False, True):  # rehearsal examples get batches of their own (another loss)
        order = sorted((i for i in range(len(examples)) if examples[i].distill == distill),
                       key=lambda i: len(examples[i].ids))
        current: list[int] = []
        for i in order:
            longest = max([len(examples[j].ids) for j in current] + [len(examples[i].ids)])
            if current and longest * (len(current) + 1) > batch_tokens:
                groups.append(current)
                current = []
            current.append(i)
        if current:
            groups.append(current)
    random.Random(seed).shuffle(groups)
    return groups


def _tensors(examples: Sequence[Encoded], device: str):
    width = max(len(e.ids) for e in examples)
    ids = torch.zeros((len(examples), width), dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    target = torch.zeros((len(examples), width), dtype=torch.bool)
    for row, e in enumerate(examples):
        ids[row, :len(e.ids)] = torch.tensor(e.ids)
        mask[row, :len(e.ids)] = 1
        target[row, :len(e.train)] = torch.tensor(e.train)
    return ids.to(device), mask.to(device), target.to(device)


def answer_logits(model, ids, mask, target) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits at the positions that predict a trained token, and those tokens.

    The output layer runs only there: with a 150k vocabulary it is a fifth of the work per token.
    """
    causal = model.get_base_model() if hasattr(model, "get_base_model") else model
    hidden = causal.model(input_ids=ids, attention_mask=mask).last_hidden_state
    predicts = target[:, 1:]  # position t predicts token t+1
    chosen = hidden[:, :-1][predicts]
    return causal.lm_head(chosen).float(), ids[:, 1:][predicts]


def train_lora(model_path: Path, examples: Sequence[Encoded], config: TrainConfig, *,
               on_progress: Callable[[Progress], None] | None = None,
               should_stop: Callable[[], bool] | None = None, on_phase: Callable[[str], None] | None = None):
    """Train an adapter; returns (peft model, TrainResult). Raises TrainingCancelled when `should_stop()` says so."""
    if not examples:
        raise ValueError("there is nothing to train on")
    torch.set_num_threads(config.threads or max(1, min(8, os.cpu_count() or 1)))
    device = pick_device(config.device)
    dtype = pick_precision(device, config.precision)
    started = time.monotonic()
    if on_phase:
        on_phase("loading")
    model = add_lora(load_base(model_path, device, dtype), config)
    load_seconds = time.monotonic() - started
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=0.0)
    plan = [batches(examples, config.batch_tokens, config.seed + epoch) for epoch in range(config.epochs)]
    total = sum(len(p) for p in plan)
    warmup = max(1, total // 10)

    def lr_at(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_at)
    if on_phase:
        on_phase("training")
    model.train()
    losses: list[float] = []
    step = 0
    train_started = time.monotonic()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    for epoch, groups in enumerate(plan):
        done = 0
        for group in groups:
            if should_stop and should_stop():
                raise TrainingCancelled("training was cancelled")
            batch = [examples[i] for i in group]
            ids, mask, target = _tensors(batch, device)
            with torch.autocast(device_type=device, dtype=dtype, enabled=dtype != torch.float32):
                logits, labels = answer_logits(model, ids, mask, target)
                if batch[0].distill:
                    with torch.no_grad(), model.disable_adapter():
                        reference, _ = answer_logits(model, ids, mask, target)
            if batch[0].distill:
                # KL(base || adapted) over the whole vocabulary: holds general behaviour in place far more
                # firmly than the base model's greedy tokens alone would.
                loss = config.distill_weight * torch.nn.functional.kl_div(
                    torch.log_softmax(logits, -1), torch.log_softmax(reference.float(), -1), log_target=True,
                    reduction="batchmean")
            else:
                loss = torch.nn.functional.cross_entropy(logits, labels)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            done += len(batch)
            if not batch[0].distill:  # the figures users see are the loss on their own examples
                losses.append(round(float(loss.detach()), 4))
            if on_progress:
                on_progress(Progress(step, total, epoch + 1, losses[-1] if losses else 0.0, done,
                                     time.monotonic() - train_started))
    model.eval()
    seconds = time.monotonic() - train_started
    result = TrainResult(device=device, precision=str(dtype).removeprefix("torch."), steps=step,
                         examples=len(examples), trained_tokens=sum(e.trained_tokens for e in examples),
                         total_tokens=sum(len(e.ids) for e in examples), seconds=round(seconds, 2),
                         load_seconds=round(load_seconds, 2), peak_memory_mb=round(peak_memory_mb(device), 1),
                         losses=losses, epochs_run=config.epochs)
    return model, result


def peak_memory_mb(device: str = "cpu") -> float:
    """Peak resident memory of this process (and of the GPU, when training there)."""
    if device == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def lora_weights(model) -> Iterator[tuple[str, Any]]:
    """(PEFT name, float32 numpy array) of every LoRA matrix, for the GGUF exporter."""
    for name, p in model.named_parameters():
        if "lora_" in name:
            yield name, p.detach().float().cpu().numpy()


@torch.no_grad()
def top1(model, examples: Sequence[Encoded], *, adapter: bool = True) -> list[list[int]]:
    """Greedy next token at every trained position of each example, with or without the adapter."""
    device = next(model.parameters()).device.type
    out: list[list[int]] = []
    for e in examples:
        ids, mask, target = _tensors([e], device)
        context = model.disable_adapter() if not adapter else _nothing()
        with context, torch.autocast(device_type=device, dtype=torch.bfloat16,
                                     enabled=next(model.parameters()).dtype == torch.bfloat16):
            logits, _ = answer_logits(model, ids, mask, target)
        out.append(logits.argmax(-1).tolist())
    return out


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
