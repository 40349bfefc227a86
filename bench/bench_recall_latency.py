"""Recall latency: how long one memory/document lookup takes at 10,000 and 100,000 indexed items.

One recall = embed the query with the real model (all-MiniLM-L6-v2 int8 on onnxruntime) + a Chroma
vector query (embedded PersistentClient, cosine HNSW) + a BM25 query of the raw text on SQLite FTS5.
Reported: p50/p95 of each part and of the whole, at k=10 and at k=100 (the candidate pool hybrid search
fuses); the BM25 query again with stop words dropped (what HybridIndex sends; an OR of "the" scores nearly
every row); the time to build each index, the folder sizes, and the embedder's throughput.

What is real and what is synthetic (embedding 100k texts for real takes far too long on 2 cores):
- corpus texts are synthetic: 8-60 words drawn with a Zipf law from the model's English vocabulary,
  so BM25 sees realistic posting-list lengths;
- the bulk vectors are synthetic but shaped like real ones: each is a random mix of two real embeddings
  of sample texts plus noise, normalised (MiniLM vectors crowd in one region; plain random vectors
  would make HNSW look faster than it is);
- every query is embedded for real, at query time, and the build time excludes embedding (the
  embedder's measured throughput gives the real embedding time: items / texts-per-second).
If assistant/index/hybrid.py exists, HybridIndex.search (what memory and documents call) is measured
on the same corpus too, fed the same synthetic vectors at build time and the real embedder for queries.

    flock /tmp/biseo-cpu.lock .venv/bin/python bench/bench_recall_latency.py [--sizes 10000 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import numpy as np  # noqa: E402

from assistant.embeddings import load_embedder  # noqa: E402
from assistant.embeddings.tokenizer import vocab_path  # noqa: E402
from assistant.index.lexical import LexicalIndex  # noqa: E402
from assistant.index.vector import VectorIndex  # noqa: E402
from assistant.paths import resolve_paths  # noqa: E402

RESULTS = HERE / "results" / "recall_latency.json"
QUESTIONS = [
    "When is my sister's birthday?", "What did I say about my allergy?", "Which restaurant did we like in Paris?",
    "How much was the ACME invoice?", "What is the wifi password?", "notes about the garden and tomatoes",
    "Who is my dentist and when is the appointment?", "what programming language do I use at work",
]


def vocabulary() -> list[str]:
    """Whole English words from the model's vocabulary, most frequent first (WordPiece order is close)."""
    words = vocab_path("all-minilm-l6-v2.txt").read_text(encoding="utf-8").splitlines()
    return [w for w in words if w.isalpha() and w.isascii() and len(w) >= 3]


def synthetic_texts(n: int, words: list[str], rng: np.random.Generator, low: int = 8, high: int = 60) -> list[str]:
    ranks = np.minimum(rng.zipf(1.15, size=(n, high)), len(words)) - 1
    lengths = rng.integers(low, high + 1, size=n)
    return [" ".join(words[r] for r in ranks[i, :lengths[i]]) for i in range(n)]


def realistic_vectors(n: int, anchors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random mixes of two real embeddings plus noise, unit length: spread like real MiniLM vectors."""
    out = np.empty((n, anchors.shape[1]), dtype=np.float32)
    for start in range(0, n, 20000):
        m = min(20000, n - start)
        a, b = anchors[rng.integers(0, len(anchors), m)], anchors[rng.integers(0, len(anchors), m)]
        w = rng.uniform(0.2, 0.8, size=(m, 1)).astype(np.float32)
        block = w * a + (1 - w) * b + rng.normal(scale=0.02, size=(m, anchors.shape[1])).astype(np.float32)
        out[start:start + m] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def percentiles(samples: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples)
    return {"p50_ms": round(statistics.median(ms), 2), "p95_ms": round(ms[min(len(ms) - 1, int(0.95 * len(ms)))], 2),
            "max_ms": round(ms[-1], 2)}


def folder_mb(path: Path) -> float:
    return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6, 1)


def keyword_words() -> Any:
    """HybridIndex's query cleaner (stop words dropped) when it exists, else the query unchanged."""
    try:
        from assistant.index.ranking import keyword_query
    except ImportError:
        return lambda text: text
    return keyword_query


class BulkThenReal:
    """Synthetic vectors while the corpus is written, the real model once `real` is set (queries)."""

    def __init__(self, embedder: Any, vectors: np.ndarray, texts: list[str]) -> None:
        self.name, self.dim = embedder.name, embedder.dim
        self._embedder = embedder
        self._by_text = {t: i for i, t in enumerate(texts)}
        self._vectors = vectors
        self.real = False

    def embed(self, texts: list[str]) -> np.ndarray:
        if self.real:
            return self._embedder.embed(texts)
        return self._vectors[[self._by_text[t] for t in texts]]

    def embed_query(self, text: str) -> np.ndarray:
        return self._embedder.embed_query(text)


def throughput(embedder: Any, texts: list[str], label: str) -> dict[str, float]:
    embedder.embed(texts[:32])  # warm-up
    start = time.perf_counter()
    embedder.embed(texts)
    seconds = time.perf_counter() - start
    words = statistics.mean(len(t.split()) for t in texts)
    print(f"  embedding {label}: {len(texts) / seconds:.1f} texts/s ({words:.0f} words each, batch of {len(texts)})")
    return {"texts_per_s": round(len(texts) / seconds, 1), "words_per_text": round(words, 1), "texts": len(texts)}


def run_size(n: int, workdir: Path, embedder: Any, anchors: np.ndarray, words: list[str], queries: list[str],
             hybrid: bool, rng: np.random.Generator, texts_per_s: float) -> dict[str, Any]:
    print(f"\n== {n:,} items")
    texts = synthetic_texts(n, words, rng)
    texts = [f"{t} #{i}" for i, t in enumerate(texts)]  # unique, so BulkThenReal can map text -> vector
    vectors = realistic_vectors(n, anchors, rng)
    ids = [f"item-{i}" for i in range(n)]
    result: dict[str, Any] = {"items": n}

    vec_dir, lex_file = workdir / f"vec-{n}", workdir / f"lex-{n}.sqlite3"
    start = time.perf_counter()
    vector = VectorIndex("bench", folder=vec_dir)
    for s in range(0, n, 5000):
        metadata = [{"source": "bench", "n": i % 10} for i in range(s, min(n, s + 5000))]
        vector.upsert(ids[s:s + 5000], texts[s:s + 5000], metadata, embeddings=vectors[s:s + 5000])
    vector_build = time.perf_counter() - start
    start = time.perf_counter()
    lexical = LexicalIndex(lex_file, "bench")
    for s in range(0, n, 5000):
        lexical.upsert(ids[s:s + 5000], texts[s:s + 5000])
    lexical_build = time.perf_counter() - start
    result["build_s"] = {"vector": round(vector_build, 2), "lexical": round(lexical_build, 2),
                         "embedding_estimate": round(n / texts_per_s, 1)}
    lexical_bytes = sum(f.stat().st_size for f in workdir.glob(f"{lex_file.name}*"))  # with its WAL
    result["disk_mb"] = {"vector": folder_mb(vec_dir), "lexical": round(lexical_bytes / 1e6, 1)}
    print(f"  build: vector {vector_build:.1f} s, lexical {lexical_build:.1f} s "
          f"(+ about {result['build_s']['embedding_estimate']:.0f} s to embed {n:,} real texts); "
          f"disk {result['disk_mb']}")

    topical = keyword_words()
    for k in (10, 100):
        parts: dict[str, list[float]] = {"embed": [], "vector": [], "lexical": [], "lexical_topical": [],
                                         "total": []}
        for i, query in enumerate(queries + queries[:5]):  # the first five are a warm-up
            t0 = time.perf_counter()
            q = embedder.embed_query(query)
            t1 = time.perf_counter()
            vector.query(q, k)
            t2 = time.perf_counter()
            lexical.search(query, k)
            t3 = time.perf_counter()
            lexical.search(topical(query), k)  # the same words less stop words, as HybridIndex sends them
            t4 = time.perf_counter()
            if i >= 5:
                for key, value in (("embed", t1 - t0), ("vector", t2 - t1), ("lexical", t3 - t2),
                                   ("lexical_topical", t4 - t3), ("total", t3 - t0)):
                    parts[key].append(value)
        result[f"recall_k{k}"] = {key: percentiles(v) for key, v in parts.items()}
        got = result[f"recall_k{k}"]
        print(f"  recall k={k}: p50 {got['total']['p50_ms']} ms, p95 {got['total']['p95_ms']} ms  (p50 of embed "
              f"{got['embed']['p50_ms']}, vector {got['vector']['p50_ms']}, lexical {got['lexical']['p50_ms']}; "
              f"lexical without stop words p50 {got['lexical_topical']['p50_ms']}, "
              f"p95 {got['lexical_topical']['p95_ms']})")
    vector.close()
    lexical.close()

    if hybrid:
        result["hybrid"] = run_hybrid(workdir / f"hyb-{n}", embedder, vectors, texts, ids, queries)
    return result


def run_hybrid(folder: Path, embedder: Any, vectors: np.ndarray, texts: list[str], ids: list[str],
               queries: list[str]) -> dict[str, Any]:
    from assistant.index.base import IndexItem
    from assistant.index.hybrid import HybridIndex

    bulk = BulkThenReal(embedder, vectors, texts)
    start = time.perf_counter()
    index = HybridIndex(folder, "bench", bulk)
    for s in range(0, len(ids), 5000):
        index.upsert([IndexItem(ids[i], texts[i], {"n": i % 10}) for i in range(s, min(len(ids), s + 5000))])
    build = time.perf_counter() - start
    bulk.real = True
    samples: list[float] = []
    filtered: list[float] = []
    for i, query in enumerate(queries + queries[:5]):
        t0 = time.perf_counter()
        index.search(query, 10)
        t1 = time.perf_counter()
        index.search(query, 10, where={"n": 3})
        t2 = time.perf_counter()
        if i >= 5:
            samples.append(t1 - t0)
            filtered.append(t2 - t1)
    index.close()
    out = {"build_s": round(build, 1), "search_k10": percentiles(samples), "search_k10_where": percentiles(filtered),
           "disk_mb": folder_mb(folder)}
    print(f"  HybridIndex: build {build:.1f} s; search k=10 p50 {out['search_k10']['p50_ms']} ms, "
          f"p95 {out['search_k10']['p95_ms']} ms; with where p50 {out['search_k10_where']['p50_ms']} ms, "
          f"p95 {out['search_k10_where']['p95_ms']} ms")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=100, help="timed recalls per size and k")
    parser.add_argument("--no-hybrid", action="store_true", help="skip HybridIndex even if it exists")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    rng = np.random.default_rng(7)
    words = vocabulary()
    home = Path(tempfile.mkdtemp(prefix="bench-recall-"))
    embedder = load_embedder("all-minilm-l6-v2", resolve_paths({"BISEO_HOME": str(home)}))
    print(f"embedder {embedder.name}: {embedder.model_file}")
    sample = synthetic_texts(512, words, rng, 30, 60)
    short = synthetic_texts(512, words, rng, 6, 14)
    speed = {"chunks": throughput(embedder, sample, "chunk-sized texts"),
             "memories": throughput(embedder, short, "memory-sized texts")}
    anchors = embedder.embed(sample + short)
    queries = (QUESTIONS + synthetic_texts(max(0, args.queries - len(QUESTIONS)), words, rng, 3, 9))[:args.queries]

    try:
        import assistant.index.hybrid  # noqa: F401
        hybrid = not args.no_hybrid
    except ImportError:
        hybrid = False
    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "method": "real query embedding; synthetic corpus texts and bulk vectors (see the script's docstring)",
        "embedding_throughput": speed, "sizes": []}
    try:
        for n in args.sizes:
            report["sizes"].append(run_size(n, home, embedder, anchors, words, queries, hybrid, rng,
                                            speed["chunks"]["texts_per_s"]))
    finally:
        shutil.rmtree(home, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
