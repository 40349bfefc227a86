"""Write trained LoRA weights as a GGUF adapter that llama.cpp applies on top of the quantized base model."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

import numpy as np

# Hugging Face module names -> llama.cpp tensor names (the same for llama, qwen2, mistral and their kin).
_MODULES = {
    "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
_PARAM = re.compile(r"layers\.(\d+)\.(.+)\.lora_([AB])(?:\.[^.]+)?\.weight$")
# Architectures whose converter interleaves the rows of q and k (rotary layout); transformers undoes it on
# load, so an adapter's B rows for q and k must be interleaved again to match the GGUF's own weights.
_PERMUTED = {"llama"}


class ExportError(RuntimeError):
    """The adapter could not be written (a module llama.cpp has no tensor for, a shape mismatch)."""


def gguf_tensor_name(hf_name: str) -> tuple[str, str]:
    """('blk.N.attn_q.weight', 'a'|'b') for a PEFT parameter name such as `...layers.3.self_attn.q_proj.lora_A.default.weight`."""
    m = _PARAM.search(hf_name)
    if not m:
        raise ExportError(f"not a LoRA weight of a transformer layer: {hf_name}")
    layer, module, which = m.groups()
    target = _MODULES.get(module)
    if target is None:
        raise ExportError(f"llama.cpp has no tensor for module {module!r} ({hf_name})")
    return f"blk.{layer}.{target}.weight", which.lower()


def _interleave(rows: np.ndarray, n_head: int) -> np.ndarray:
    return (rows.reshape(n_head, 2, rows.shape[0] // n_head // 2, *rows.shape[1:])
            .swapaxes(1, 2).reshape(rows.shape))


def export_lora(path: Path | str, weights: Iterable[tuple[str, np.ndarray]], *, architecture: str, alpha: float,
                n_head: int = 0, n_head_kv: int = 0, name: str = "") -> int:
    """Write `weights` (PEFT names -> float arrays) as a LoRA GGUF; returns the number of adapted matrices.

    llama.cpp scales the product B·A by alpha / rank, as PEFT does, so the trained alpha is stored as is.
    """
    import gguf

    pairs: dict[str, dict[str, np.ndarray]] = {}
    for hf_name, array in weights:
        target, which = gguf_tensor_name(hf_name)
        pairs.setdefault(target, {})[which] = np.ascontiguousarray(array, dtype=np.float32)
    if not pairs:
        raise ExportError("the adapter has no LoRA weights")
    writer = gguf.GGUFWriter(str(path), architecture)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
    if name:
        writer.add_name(name)
    for target in sorted(pairs, key=_order):
        a, b = pairs[target].get("a"), pairs[target].get("b")
        if a is None or b is None or a.shape[0] != b.shape[1]:
            raise ExportError(f"incomplete or mismatched LoRA pair for {target}")
        if architecture in _PERMUTED and (".attn_q." in target or ".attn_k." in target):
            b = _interleave(b, n_head if ".attn_q." in target else (n_head_kv or n_head))
        # numpy (rank, in) / (out, rank) is ggml's ne = [in, rank] / [rank, out], the layout llama.cpp checks.
        writer.add_tensor(target + ".lora_a", a)
        writer.add_tensor(target + ".lora_b", b)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return len(pairs)


def _order(target: str) -> tuple[int, str]:
    parts = target.split(".")
    return int(parts[1]), parts[2]
