"""Exported adapters load in llama.cpp on the quantized base, change its output, and switch without a reload."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.learning.gguf_lora import ExportError, export_lora, gguf_tensor_name

PROMPT = [{"role": "system", "content": "You are Biseo."}, {"role": "user", "content": "Name a colour."}]


def test_peft_names_map_to_llama_cpp_tensors():
    assert gguf_tensor_name("base_model.model.model.layers.3.self_attn.q_proj.lora_A.default.weight") == (
        "blk.3.attn_q.weight", "a")
    assert gguf_tensor_name("base_model.model.model.layers.12.mlp.down_proj.lora_B.weight") == (
        "blk.12.ffn_down.weight", "b")
    with pytest.raises(ExportError, match="no tensor for module"):
        gguf_tensor_name("model.layers.0.self_attn.rotary.lora_A.weight")


def test_an_incomplete_pair_is_refused(tmp_path):
    with pytest.raises(ExportError, match="incomplete"):
        export_lora(tmp_path / "a.gguf", [("model.layers.0.self_attn.q_proj.lora_A.weight", np.zeros((2, 4)))],
                    architecture="qwen2", alpha=4)


def random_adapter(path, *, scale: float, seed: int, layers: int = 24, hidden: int = 896, kv: int = 128,
                   rank: int = 4):
    """A LoRA on q and v of every layer of the default model (Qwen2.5-0.5B: 896 wide, 128 for k/v)."""
    rng = np.random.default_rng(seed)
    weights = []
    for layer in range(layers):
        for module, out in (("q_proj", hidden), ("v_proj", kv)):
            base = f"base_model.model.model.layers.{layer}.self_attn.{module}"
            weights.append((f"{base}.lora_A.default.weight", rng.normal(0, 0.5, (rank, hidden))))
            weights.append((f"{base}.lora_B.default.weight", rng.normal(0, scale, (out, rank))))
    export_lora(path, weights, architecture="qwen2", alpha=rank)
    return path


@pytest.mark.slow
def test_adapters_switch_on_the_live_model_and_back(qwen_gguf, tmp_path):
    from assistant.llm.llama_backend import LlamaCppBackend

    zero = random_adapter(tmp_path / "zero.gguf", scale=0.0, seed=1)
    a = random_adapter(tmp_path / "a.gguf", scale=0.05, seed=2)
    b = random_adapter(tmp_path / "b.gguf", scale=0.05, seed=3)
    backend = LlamaCppBackend(qwen_gguf, n_ctx=512)
    try:
        model = backend.llm

        def reply() -> str:
            return "".join(backend.stream(PROMPT, max_tokens=12, temperature=0.0))

        base = reply()
        assert backend.set_adapter(zero) is True
        assert reply() == base  # B = 0 changes nothing: the adapter really sits on the same weights
        backend.set_adapter(a)
        with_a = reply()
        assert backend.set_adapter(a, 0.0) is True  # same file, another strength: applied again
        assert reply() == base  # strength 0 is the base model
        backend.set_adapter(b)
        with_b = reply()
        assert len({base, with_a, with_b}) == 3
        backend.set_adapter(a)
        assert reply() == with_a  # switching back gives the same answers
        assert backend.set_adapter(a) is False  # already on: nothing to do, the cache stays
        backend.set_adapter(None)
        assert reply() == base
        assert backend.llm is model  # never reloaded
    finally:
        backend.close()


@pytest.mark.slow
def test_a_broken_adapter_file_is_a_clear_error(qwen_gguf, tmp_path):
    from assistant.llm.base import LLMError
    from assistant.llm.llama_backend import LlamaCppBackend

    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\x00" * 64)
    backend = LlamaCppBackend(qwen_gguf, n_ctx=512)
    try:
        with pytest.raises(LLMError, match="could not load the adapter"):
            backend.set_adapter(bad)
        assert "".join(backend.stream(PROMPT, max_tokens=4, temperature=0.0))  # still answers
    finally:
        backend.close()
