"""Rehearsal: general questions answered by the base model itself, trained alongside the user's examples.

On a small model, a few dozen personal examples trained for several epochs also overwrite general
knowledge (measured: the sanity set fell from 80% to 50%, "Leonardo da Vinci wrote Romeo and Juliet").
Mixing in the base model's own answers to unrelated questions holds the rest of its behaviour in place
(self-distillation); these examples are never part of the held-out evaluation, whose sanity set they
do not overlap.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable

from assistant.learning.dataset import Example

# General requests of many kinds; none of them is in the sanity set (assistant/learning/sanity.py).
REHEARSAL_PROMPTS: tuple[str, ...] = (
    "What is the capital of Canada?",
    "Who wrote Pride and Prejudice?",
    "How many hours are in a week?",
    "What is the largest mammal on Earth?",
    "Which planet is closest to the Sun?",
    "What is 15 times 3?",
    "What is the boiling point of water in Fahrenheit?",
    "Who painted The Starry Night?",
    "What language is spoken in Mexico?",
    "How many strings does a standard guitar have?",
    "What is the chemical formula of water?",
    "Name three primary colors.",
    "What is the opposite of fast?",
    "How many months have 31 days?",
    "What does a thermometer measure?",
    "Write a Python function that returns the maximum of a list.",
    "Explain what a noun is in one sentence.",
    "Give me a tip for sleeping better.",
    "What is the capital of Australia?",
    "Which ocean lies between Africa and Australia?",
    "How many players are on a soccer team on the field?",
    "What is photosynthesis, in one sentence?",
    "Translate 'good morning' into French.",
    "What is the square of 12?",
)


def rehearsal_examples(answer: Callable[[list[dict[str, str]]], str], system_prompt: str, *,
                       count: int, cache: Path | None = None, model_key: str = "") -> list[Example]:
    """Up to `count` rehearsal chats: each prompt with the base model's own greedy answer (cached per model
    and system prompt, so later runs do not generate them again)."""
    prompts = REHEARSAL_PROMPTS[:max(0, count)]
    key = hashlib.sha1(f"{model_key}\0{system_prompt}".encode()).hexdigest()[:16]
    stored: dict[str, Any] = {}
    if cache is not None and cache.is_file():
        try:
            stored = json.loads(cache.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            stored = {}
    answers: dict[str, str] = dict(stored.get(key) or {})
    for prompt in prompts:
        if prompt not in answers:
            answers[prompt] = answer([{"role": "system", "content": system_prompt},
                                      {"role": "user", "content": prompt}])
    if cache is not None:
        from assistant.learning.registry import write_json_atomic

        stored[key] = answers
        write_json_atomic(cache, stored)
    return [Example(id=f"rehearsal-{i}", source="rehearsal",
                    messages=[{"role": "system", "content": system_prompt}, {"role": "user", "content": p},
                              {"role": "assistant", "content": answers[p]}])
            for i, p in enumerate(prompts) if answers[p].strip()]
