"""Before/after evaluation of an adapter on the user's own held-out data, run on what the app serves:
the quantized GGUF in llama.cpp, without and with the exported adapter."""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from assistant.learning.dataset import Example
from assistant.learning.formatting import Encoded, PromptFormat
from assistant.learning.sanity import SANITY_SET
from assistant.learning.scoring import is_answered, key_terms

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


class Evaluator:
    """One llama.cpp context over the base model with every position's logits kept (for perplexity)."""

    def __init__(self, model_path: str | Path, fmt: PromptFormat, *, n_ctx: int = 1024,
                 threads: int | None = None) -> None:
        import llama_cpp

        from assistant.llm.llama_backend import _quiet_llama_cpp, default_threads

        _quiet_llama_cpp(llama_cpp)
        self._llama_cpp = llama_cpp
        self.fmt = fmt
        self.llm = llama_cpp.Llama(model_path=str(model_path), n_ctx=n_ctx, logits_all=True,
                                   n_threads=threads or default_threads(), verbose=True)
        self.llm.verbose = False
        self._adapters: dict[str, Any] = {}
        self.adapter: str | None = None

    def set_adapter(self, path: str | Path | None, scale: float = 1.0) -> None:
        """Apply a GGUF LoRA adapter (None: the plain base model); the cached prompt is dropped."""
        lc = self._llama_cpp
        if path is None:
            lc.llama_set_adapters_lora(self.llm.ctx, None, 0, None)
        else:
            key = str(path)
            if key not in self._adapters:
                handle = lc.llama_adapter_lora_init(self.llm.model, key.encode("utf-8"))
                if not handle:
                    raise RuntimeError(f"llama.cpp could not load the adapter {path}")
                self._adapters[key] = handle
            adapters = (lc.llama_adapter_lora_p_ctypes * 1)(self._adapters[key])
            scales = (ctypes.c_float * 1)(scale)
            if lc.llama_set_adapters_lora(self.llm.ctx, adapters, 1, scales):
                raise RuntimeError(f"llama.cpp could not apply the adapter {path}")
        self.adapter = None if path is None else str(path)
        self.llm.reset()

    def _logits(self, ids: list[int]) -> np.ndarray:
        room = self.llm.n_ctx()
        ids = ids[:room]
        self.llm.reset()
        self.llm.eval(ids)
        return np.asarray(self.llm.scores[:len(ids)], dtype=np.float64)

    def nll(self, encoded: Sequence[Encoded]) -> tuple[float, int]:
        """Summed negative log-likelihood of the trained tokens, and how many there were."""
        total, count = 0.0, 0
        for e in encoded:
            if len(e.ids) < 2:
                continue
            logits = self._logits(e.ids)
            for t in range(1, len(logits)):
                if e.train[t]:
                    row = logits[t - 1]
                    peak = row.max()
                    total += float(peak + np.log(np.exp(row - peak).sum()) - row[e.ids[t]])
                    count += 1
        return total, count

    def perplexity(self, encoded: Sequence[Encoded]) -> float | None:
        total, count = self.nll(encoded)
        return round(float(np.exp(total / count)), 4) if count else None

    def top1(self, encoded: Sequence[Encoded]) -> list[list[int]]:
        """Greedy next token at every trained position (the same positions trainer.top1 reports)."""
        out = []
        for e in encoded:
            logits = self._logits(e.ids)
            out.append([int(logits[t - 1].argmax()) for t in range(1, len(logits)) if e.train[t]])
        return out

    def answer(self, messages: list[dict[str, str]], max_tokens: int = 64, *, complete_only: bool = False) -> str:
        """The greedy answer; with `complete_only`, "" when it ran out of tokens (half answers teach stopping
        mid-sentence)."""
        ids = self.fmt.tokenize(self.fmt.prompt(messages))
        self.llm.reset()
        out = self.llm.create_completion(ids, max_tokens=max_tokens, temperature=0.0)
        choice = out["choices"][0]
        if complete_only and choice.get("finish_reason") == "length":
            return ""
        return choice["text"].strip()

    def close(self) -> None:
        lc = self._llama_cpp
        if self.llm is not None:
            try:
                lc.llama_set_adapters_lora(self.llm.ctx, None, 0, None)
            except Exception:
                pass
            for handle in self._adapters.values():
                lc.llama_adapter_lora_free(handle)
            self._adapters.clear()
            self.llm.close()
            self.llm = None


@dataclass
class Scores:
    """One side of an A/B: perplexity of held-out replies, personal questions answered, sanity set passed."""

    perplexity: float | None
    text_perplexity: float | None
    personal_correct: int
    personal_total: int
    sanity_correct: int
    sanity_total: int
    answers: list[dict[str, Any]]

    @property
    def personal_accuracy(self) -> float | None:
        return round(self.personal_correct / self.personal_total, 4) if self.personal_total else None

    @property
    def sanity_accuracy(self) -> float | None:
        return round(self.sanity_correct / self.sanity_total, 4) if self.sanity_total else None

    def to_dict(self) -> dict[str, Any]:
        return {"perplexity": self.perplexity, "text_perplexity": self.text_perplexity,
                "personal_accuracy": self.personal_accuracy, "personal_correct": self.personal_correct,
                "personal_total": self.personal_total, "sanity_accuracy": self.sanity_accuracy,
                "sanity_correct": self.sanity_correct, "sanity_total": self.sanity_total,
                "answers": self.answers}


def personal_questions(held_out: Sequence[Example]) -> list[tuple[Example, list[str]]]:
    """Held-out single exchanges whose reference answer has key terms to look for."""
    out = []
    for e in held_out:
        if e.kind == "chat" and e.is_single_exchange:
            terms = key_terms(e.answer, e.question)
            if terms:
                out.append((e, terms))
    return out


def score(evaluator: Evaluator, held_out: Sequence[Example], system_prompt: str,
          sanity: Sequence[tuple[str, Sequence[str]]] = SANITY_SET, max_tokens: int = 512) -> Scores:
    """Score whatever adapter the evaluator has applied right now."""
    fmt = evaluator.fmt
    chats = [fmt.encode_chat(e.messages, max_tokens) for e in held_out if e.kind == "chat"]
    texts = [fmt.encode_text(e.text, max_tokens) for e in held_out if e.kind == "text"]
    answers: list[dict[str, Any]] = []
    personal_ok = 0
    questions = personal_questions(held_out)
    for e, terms in questions:
        messages = [m for m in e.messages if m["role"] == "system"][:1] + [{"role": "user", "content": e.question}]
        reply = evaluator.answer(messages)
        ok = is_answered(reply, terms)
        personal_ok += ok
        answers.append({"set": "personal", "question": e.question, "expected": terms, "answer": reply, "ok": ok})
    sanity_ok = 0
    for question, terms in sanity:
        reply = evaluator.answer([{"role": "system", "content": system_prompt}, {"role": "user", "content": question}])
        ok = is_answered(reply, list(terms), need=1.0)
        sanity_ok += ok
        answers.append({"set": "sanity", "question": question, "expected": list(terms), "answer": reply, "ok": ok})
    return Scores(perplexity=evaluator.perplexity(chats), text_perplexity=evaluator.perplexity(texts),
                  personal_correct=personal_ok, personal_total=len(questions), sanity_correct=sanity_ok,
                  sanity_total=len(sanity), answers=answers)


def verdict(before: Scores, after: Scores, sanity_tolerance: float = 0.05) -> tuple[str, list[str]]:
    """'better', 'same' or 'worse', with the reasons: worse on any measure (sanity beyond its tolerance) is worse."""
    worse: list[str] = []
    better: list[str] = []
    for label, b, a in (("held-out reply perplexity", before.perplexity, after.perplexity),
                        ("held-out text perplexity", before.text_perplexity, after.text_perplexity)):
        if b is not None and a is not None:
            (worse if a > b * 1.001 else better if a < b * 0.999 else []).append(f"{label} {b:.2f} -> {a:.2f}")
    b, a = before.personal_accuracy, after.personal_accuracy
    if b is not None and a is not None:
        (worse if a < b else better if a > b else []).append(f"personal questions {b:.0%} -> {a:.0%}")
    b, a = before.sanity_accuracy, after.sanity_accuracy
    if b is not None and a is not None and a < b - sanity_tolerance - 1e-9:
        worse.append(f"general sanity set {b:.0%} -> {a:.0%}")
    if worse:
        return "worse", worse
    return ("better", better) if better else ("same", ["no measure changed"])


def agreement(reference: Sequence[Sequence[int]], served: Sequence[Sequence[int]]) -> dict[str, Any]:
    """How often llama.cpp's greedy next token equals the trained model's, position by position."""
    same = total = 0
    first_same = first_total = 0
    for ref, got in zip(reference, served):
        for i, (x, y) in enumerate(zip(ref, got)):
            same += x == y
            total += 1
            if i == 0:
                first_same += x == y
                first_total += 1
    return {"top1_agreement": round(same / total, 4) if total else None, "positions": total,
            "first_token_agreement": round(first_same / first_total, 4) if first_total else None,
            "prompts": first_total}


def choose_strength(before: Scores, tried: Sequence[tuple[float, Scores]], sanity_tolerance: float = 0.05):
    """The adapter strength to serve: not worse than the base if any is, then most personal questions right,
    then most sanity questions, then lowest perplexity. Returns (strength, scores, verdict, reasons, table).

    A small model's adapter often overshoots: at half strength it kept every taught fact and lost no general
    answer, where full strength lost three of twenty.
    """
    rank = {"better": 2, "same": 1, "worse": 0}
    rows = []
    best = None
    for strength, after in tried:
        label, reasons = verdict(before, after, sanity_tolerance)
        rows.append({"strength": strength, "verdict": label, "perplexity": after.perplexity,
                     "personal_accuracy": after.personal_accuracy, "sanity_accuracy": after.sanity_accuracy})
        key = (rank[label], after.personal_accuracy or 0.0, after.sanity_accuracy or 0.0,
               -(after.perplexity or after.text_perplexity or 0.0), strength)
        if best is None or key > best[0]:
            best = (key, strength, after, label, reasons)
    if best is None:
        raise ValueError("no adapter strength was evaluated")
    _, strength, after, label, reasons = best
    return strength, after, label, reasons, rows
