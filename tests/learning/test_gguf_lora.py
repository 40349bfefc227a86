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


@pytest.mark.slow
def test_adapters_eval_reruns_the_ab_on_the_stored_data(qwen_gguf, capsys):
    import json

    from assistant.cli import main
    from assistant.learning.dataset import Dataset, Example
    from assistant.learning.registry import AdapterRegistry
    from assistant.paths import resolve_paths

    registry = AdapterRegistry(resolve_paths().ensure().data_dir / "adapters")
    number, partial = registry.reserve("noise")
    random_adapter(partial / "adapter.gguf", scale=0.05, seed=4)
    system = "You are Biseo."
    Dataset([], [Example(id="1", source="correction", messages=[
        {"role": "system", "content": system}, {"role": "user", "content": "What is my cat's name?"},
        {"role": "assistant", "content": "Your cat is called Dubu."}])]).save(partial / "data.jsonl")
    version = registry.commit("noise", number, partial, {"system_prompt": system,
                                                          "base_model": {"size": qwen_gguf.stat().st_size}})
    assert main(["adapters", "eval", version.ref, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    stored = registry.get(version.ref).meta["evaluation"]
    assert printed["verdict"] == stored["verdict"] and stored["verdict"] in ("better", "same", "worse")
    assert [row["strength"] for row in stored["strengths"]] == [1.0, 0.75, 0.5]
    assert stored["before"]["personal_total"] == 1 and stored["before"]["sanity_total"] == 20
    assert stored["before"]["perplexity"] > 1.0
