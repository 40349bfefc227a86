"""How unsure an answer was: the entropy meter's arithmetic, and the real model's doubt on questions it can't know."""

from __future__ import annotations

import math

import numpy as np
import pytest

from assistant.learning.uncertainty import EntropyMeter


def measure(*rows: list[float]) -> EntropyMeter:
    meter = EntropyMeter()
    for row in rows:
        scores = np.asarray(row, dtype=np.float32)
        assert meter(None, scores) is scores  # the meter only watches: sampling sees the same logits
    return meter


def test_uniform_logits_have_the_entropy_of_the_vocabulary():
    meter = measure([3.0] * 1000)
    assert meter.entropies[0] == pytest.approx(math.log(1000), rel=1e-4)


def test_a_near_certain_token_has_almost_no_entropy():
    meter = measure([50.0] + [0.0] * 999)
    assert meter.entropies[0] == pytest.approx(0.0, abs=1e-6)


def test_masked_tokens_are_ignored():
    # -inf logits (tokens a grammar or a bias forbids) have zero probability; 4 finite equal ones remain.
    meter = measure([1.0, 1.0, -math.inf, 1.0, -math.inf, 1.0])
    assert meter.entropies[0] == pytest.approx(math.log(4), rel=1e-5)


def test_summary_gives_mean_max_and_token_count_and_none_when_empty():
    assert EntropyMeter().summary() is None
    meter = measure([0.0, 0.0], [9.0] + [0.0] * 99, [0.0] * 8)
    summary = meter.summary()
    assert summary["tokens"] == 3
    assert summary["max_entropy"] == pytest.approx(math.log(8), abs=1e-3)
    assert summary["mean_entropy"] == pytest.approx(sum(meter.entropies) / 3, abs=1e-3)
    meter.reset()
    assert meter.summary() is None


@pytest.mark.slow
def test_the_real_model_is_less_sure_about_the_users_private_life(qwen_gguf):
    from assistant.agent.prompt import NO_TOOL
    from assistant.llm.llama_backend import LlamaCppBackend

    backend = LlamaCppBackend(qwen_gguf, n_ctx=2048, n_gpu_layers=0, n_threads=2)
    try:
        def unsure(question: str) -> float:
            text = "".join(backend.stream([{"role": "user", "content": question}], max_tokens=48,
                                          temperature=0.0))
            assert text.strip()
            measured = backend.last_uncertainty
            assert measured is not None and measured["tokens"] > 0
            return measured["mean_entropy"]

        # It knows the capital of France; it can only guess the name of the user's cat.
        assert unsure("What is the capital of France?") < unsure("What is my cat's name?")

        schema = {"type": "object", "properties": {"tool": {"const": NO_TOOL}}, "required": ["tool"]}
        decision = "".join(backend.stream([{"role": "user", "content": "Hi"}], json_schema=schema,
                                          temperature=0.0, max_tokens=32, purpose="router"))
        assert NO_TOOL in decision
        assert backend.last_uncertainty is None  # forced grammar tokens say nothing about doubt
    finally:
        backend.close()
