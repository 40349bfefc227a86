"""Retrieval benchmark on LoCoMo: Biseo's HybridIndex against dense-only and BM25-only baselines.

Data: `../shared/data/locomo/locomo10.json` from the repository root (see its SOURCES.md; research data
for evaluation only, never shipped). 10 conversations, 5,882 dialog turns, 1,986 questions.

What is indexed. One item per dialog turn, id `<conversation>:<dia_id>`. The *turn text* every method
sees is what a reader of the chat sees: `"<speaker>: <text>"`, plus `" [shares <caption>]"` when the turn
shared an image (the dataset's BLIP caption; the image search `query` field is not used). Each question
searches only its own conversation's turns: a `conversation` metadata filter for the Chroma-backed
methods, one keyword collection per conversation for BM25.

Methods, all in one run, with the same embedding model (all-MiniLM-L6-v2, Biseo's `load_embedder()`):
  hybrid  `assistant.index.HybridIndex` as the app uses it. Items carry the turn text, the session
          date as `metadata["context"]` and the previous turn of the same session as
          `metadata["surroundings"]` (searched, never returned); queries lose stop words for the
          keyword side, which also searches the words its two best hits share (pseudo-relevance
          feedback); BM25 and cosine scores are fused (see docs/retrieval.md).
  dense   plain Chroma (`VectorIndex`) nearest neighbours of the question over the turn texts.
  bm25    plain SQLite FTS5 BM25 (`LexicalIndex`) over the turn texts, the question as typed.
Ablations switch one part of the hybrid off at a time (listed in the output).

Metric. For a question with evidence turns E (its `evidence` dia_ids that exist in the conversation;
malformed ones like "D8:6; D9:17" or "D:11:26" are split/repaired, unknown ones dropped, and the 4
questions left with none are skipped: 1,982 questions), recall@k = |E ∩ top-k turns| / |E|, averaged
over questions; reported overall and per category (1 multi-hop, 2 temporal, 3 open-domain,
4 single-hop, 5 adversarial).

Tuning. The hybrid's parameters (lexical weight, pool depth, context form) were chosen on the first
three conversations (conv-26, conv-30, conv-41); figures are reported for all ten and for the held-out
seven separately. `--sweep` re-runs the weight choice on the tuning split and prints it.

Latency: wall time of `HybridIndex.search` per question with the query vector already computed
(the one query embedding is reported separately), over the 5,882 turns and over a 10,000-item index
(the turns repeated under new ids), with and without a metadata filter.

    flock /tmp/biseo-cpu.lock .venv/bin/python bench/bench_locomo.py [--data FILE] [--ablation] [--sweep]

3-4 minutes on 2 cores (most of it embedding 5,882 turns twice: plain and with context);
--ablation adds about 4, --sweep about 1.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from assistant.embeddings import load_embedder  # noqa: E402
from assistant.index import CONTEXT_KEY, SURROUNDINGS_KEY, HybridIndex, IndexItem  # noqa: E402
from assistant.index.hybrid import DEFAULT_LEXICAL_WEIGHT, FEEDBACK_DOCS  # noqa: E402
from assistant.index.lexical import LexicalIndex  # noqa: E402
from assistant.index.ranking import keyword_query  # noqa: E402
from assistant.index.vector import VectorIndex  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "locomo" / "locomo10.json"
DEFAULT_OUT = HERE / "results" / "locomo.json"
TUNE_CONVERSATIONS = ("conv-26", "conv-30", "conv-41")
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
KS = (5, 10)
_DIA = re.compile(r"D:?(\d+):(\d+)")


@dataclass(frozen=True)
class Turn:
    conversation: str
    dia_id: str
    session: int
    date: str
    text: str  # "<speaker>: <text> [shares <caption>]"

    @property
    def id(self) -> str:
        return f"{self.conversation}:{self.dia_id}"


@dataclass(frozen=True)
class Question:
    conversation: str
    text: str
    category: int
    evidence: tuple[str, ...]


def load_locomo(path: Path) -> tuple[list[Turn], list[Question]]:
    """Every dialog turn, and every question that names at least one existing evidence turn."""
    data = json.loads(path.read_text(encoding="utf-8"))
    turns: list[Turn] = []
    questions: list[Question] = []
    for sample in data:
        conv_id, conv = sample["sample_id"], sample["conversation"]
        known: set[str] = set()
        sessions = sorted(int(key.split("_")[1]) for key in conv if re.fullmatch(r"session_\d+", key))
        for number in sessions:
            for raw in conv[f"session_{number}"]:
                match = _DIA.match(raw["dia_id"])
                if not match:
                    continue
                dia_id = "D{}:{}".format(*map(int, match.groups()))
                text = f"{raw['speaker']}: {raw['text']}"
                if raw.get("blip_caption"):
                    text += f" [shares {raw['blip_caption']}]"
                turns.append(Turn(conv_id, dia_id, number, conv.get(f"session_{number}_date_time", ""), text))
                known.add(dia_id)
        for qa in sample["qa"]:
            evidence: list[str] = []
            for field in qa.get("evidence", []):
                for a, b in _DIA.findall(str(field)):  # "D8:6; D9:17" -> two ids, "D30:05" -> D30:5
                    dia_id = f"D{int(a)}:{int(b)}"
                    if dia_id in known and dia_id not in evidence:
                        evidence.append(dia_id)
            if evidence:
                questions.append(Question(conv_id, str(qa["question"]), int(qa["category"]), tuple(evidence)))
    return turns, questions


def turn_context(turns: Sequence[Turn]) -> dict[str, dict[str, str]]:
    """Per turn id, what the app would store with it: the session date as its context, and the
    previous turn of the same session as its surroundings (known when the turn is stored)."""
    extra: dict[str, dict[str, str]] = {}
    previous: Turn | None = None
    for turn in turns:
        same_session = previous is not None and (previous.conversation, previous.session) == (
            turn.conversation, turn.session)
        extra[turn.id] = {CONTEXT_KEY: turn.date, SURROUNDINGS_KEY: previous.text if same_session else ""}
        previous = turn
    return extra


class CachedEmbedder:
    """The real embedder, remembering vectors by text so each text is embedded once per run."""

    def __init__(self, embedder: Any) -> None:
        self.inner = embedder
        self.name, self.dim = embedder.name, embedder.dim
        self.cache: dict[str, np.ndarray] = {}
        self.seconds = 0.0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self.cache))
        if missing:
            started = time.perf_counter()
            for text, vector in zip(missing, self.inner.embed(missing)):
                self.cache[text] = vector
            self.seconds += time.perf_counter() - started
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self.cache[t] for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


Ranker = Callable[[Question], list[str]]  # question -> ranked turn ids (best first, at least max(KS))


def evaluate(questions: Sequence[Question], rank: Ranker) -> tuple[dict[str, Any], list[float]]:
    """Recall@k overall, per category and per split; and the seconds each ranking took."""
    per: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    seconds: list[float] = []
    for question in questions:
        started = time.perf_counter()
        ranked = rank(question)
        seconds.append(time.perf_counter() - started)
        found = [item_id.split(":", 1)[1] for item_id in ranked]  # "<conversation>:<dia_id>"
        split = "tune" if question.conversation in TUNE_CONVERSATIONS else "held_out"
        for k in KS:
            top = set(found[:k])
            recall = sum(e in top for e in question.evidence) / len(question.evidence)
            for group in ("all", f"cat{question.category}", split):
                per[group][k].append(recall)
    result = {group: {f"recall@{k}": round(statistics.fmean(v), 4) for k, v in by_k.items()}
              | {"questions": len(by_k[KS[0]])} for group, by_k in per.items()}
    return result, seconds


def hybrid_ranker(index: HybridIndex) -> Ranker:
    def rank(question: Question) -> list[str]:
        hits = index.search(question.text, max(KS), where={"conversation": question.conversation})
        return [hit.id for hit in hits]
    return rank


def build_hybrid(folder: Path, turns: Sequence[Turn], embedder: CachedEmbedder, with_context: bool) -> HybridIndex:
    context = turn_context(turns)
    index = HybridIndex(folder, "locomo", embedder)
    index.rebuild(IndexItem(t.id, t.text, {"conversation": t.conversation, "dia_id": t.dia_id,
                                           **(context[t.id] if with_context else {})})
                  for t in turns)
    return index


def dense_ranker(folder: Path, turns: Sequence[Turn], embedder: CachedEmbedder) -> tuple[Ranker, VectorIndex]:
    index = VectorIndex("locomo_dense", folder=folder)
    texts = [t.text for t in turns]
    index.upsert([t.id for t in turns], texts, [{"conversation": t.conversation} for t in turns],
                 embeddings=embedder.embed(texts))

    def rank(question: Question) -> list[str]:
        vector = embedder.embed_query(question.text)
        return [item_id for item_id, _ in index.query(vector, max(KS), where={"conversation": question.conversation})]
    return rank, index


def bm25_ranker(turns: Sequence[Turn], drop_stop_words: bool) -> tuple[Ranker, sqlite3.Connection]:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    indexes: dict[str, LexicalIndex] = {}
    for turn in turns:
        if turn.conversation not in indexes:
            indexes[turn.conversation] = LexicalIndex(conn, "c_" + re.sub(r"\W", "_", turn.conversation))
    by_conv: dict[str, list[Turn]] = defaultdict(list)
    for turn in turns:
        by_conv[turn.conversation].append(turn)
    for conv, items in by_conv.items():
        indexes[conv].upsert([t.id for t in items], [t.text for t in items])

    def rank(question: Question) -> list[str]:
        query = keyword_query(question.text) if drop_stop_words else question.text
        return [item_id for item_id, _ in indexes[question.conversation].search(query, max(KS))]
    return rank, conn


def latency_at(size: int, turns: Sequence[Turn], questions: Sequence[Question], embedder: CachedEmbedder,
               folder: Path) -> dict[str, dict[str, float]]:
    """Search time per question in a HybridIndex of `size` items (turns repeated under new ids, so their
    vectors come from the cache), with and without a metadata filter."""
    context = turn_context(turns)
    index = HybridIndex(folder, "latency", embedder)
    try:
        index.upsert([IndexItem(f"x{n}", turns[n % len(turns)].text,
                                {"conversation": turns[n % len(turns)].conversation, **context[turns[n % len(turns)].id]})
                      for n in range(size)])
        sample = questions[::max(1, len(questions) // 300)]
        timings: dict[str, list[float]] = {"no filter": [], "conversation filter": []}
        for question in sample:
            for label, where in (("no filter", None), ("conversation filter", {"conversation": question.conversation})):
                started = time.perf_counter()
                index.search(question.text, max(KS), where=where)
                timings[label].append(time.perf_counter() - started)
    finally:
        index.close()
    return {label: {"p50_ms": round(percentile(v, 0.5) * 1000, 2), "p95_ms": round(percentile(v, 0.95) * 1000, 2)}
            for label, v in timings.items()}


def print_table(results: dict[str, dict[str, Any]]) -> None:
    groups = ["all"] + [f"cat{c}" for c in CATEGORIES] + ["tune", "held_out"]
    labels = ["all"] + [CATEGORIES[c][:11] for c in CATEGORIES] + ["tune(3)", "held-out(7)"]
    width = max(len(name) for name in results) + 2
    print(f"{'recall@5 / @10':{width}s}" + "".join(f"{label:>14s}" for label in labels))
    for name, result in results.items():
        cells = []
        for group in groups:
            cell = result.get(group)
            cells.append(f"{cell['recall@5']:.3f}/{cell['recall@10']:.3f}" if cell else "-")
        print(f"{name:{width}s}" + "".join(f"{c:>14s}" for c in cells))
    counts = {g: results[next(iter(results))].get(g, {}).get("questions", 0) for g in groups}
    print(f"{'questions':{width}s}" + "".join(f"{counts[g]:>14d}" for g in groups))


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="locomo10.json")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the JSON results")
    parser.add_argument("--latency-items", type=int, default=10_000,
                        help="size of the index the latency check searches (default 10000)")
    parser.add_argument("--sweep", action="store_true", help="also re-pick the lexical weight on the tuning split")
    parser.add_argument("--ablation", action="store_true",
                        help="also switch off one part of the hybrid at a time (about 4 more minutes)")
    args = parser.parse_args(argv)
    if not args.data.is_file():
        print(f"error: LoCoMo data not found at {args.data} (see ../shared/data/locomo/SOURCES.md)", file=sys.stderr)
        return 2

    turns, questions = load_locomo(args.data)
    print(f"LoCoMo: {len(turns)} turns, {len(questions)} questions with evidence, "
          f"{len({t.conversation for t in turns})} conversations; tuned on {', '.join(TUNE_CONVERSATIONS)}")
    embedder = CachedEmbedder(load_embedder())
    results: dict[str, dict[str, Any]] = {}
    timings: dict[str, list[float]] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="biseo-locomo-") as tmp:
        work = Path(tmp)
        # Queries first: every method then finds the question's vector in the cache, so the timings
        # below are search time only.
        embedder.embed([q.text for q in questions])
        embedder.inner.embed_query("warm up")
        t0 = time.perf_counter()
        for question in questions[:50]:
            embedder.inner.embed_query(question.text)
        query_embed_ms = (time.perf_counter() - t0) / 50 * 1000

        hybrid = build_hybrid(work / "hybrid", turns, embedder, with_context=True)
        dense, dense_index = dense_ranker(work / "dense", turns, embedder)
        bm25, bm25_conn = bm25_ranker(turns, drop_stop_words=False)
        print(f"indexed in {time.perf_counter() - started:.0f} s ({embedder.seconds:.0f} s embedding)")

        results["hybrid"], timings["hybrid"] = evaluate(questions, hybrid_ranker(hybrid))
        results["dense (Chroma)"], timings["dense"] = evaluate(questions, dense)
        results["bm25 (FTS5)"], timings["bm25"] = evaluate(questions, bm25)
        sweep: dict[str, float] = {}
        if args.ablation:
            bm25_stop, conn2 = bm25_ranker(turns, drop_stop_words=True)
            results["ablation: bm25 + stop words"], _ = evaluate(questions, bm25_stop)
            conn2.close()
            hybrid.lexical_weight = 1.0
            results["ablation: hybrid keywords only"], _ = evaluate(questions, hybrid_ranker(hybrid))
            hybrid.lexical_weight = 0.0
            results["ablation: hybrid meaning only"], _ = evaluate(questions, hybrid_ranker(hybrid))
            hybrid.lexical_weight = DEFAULT_LEXICAL_WEIGHT
            hybrid.drop_stop_words = False
            results["ablation: hybrid keeps stop words"], _ = evaluate(questions, hybrid_ranker(hybrid))
            hybrid.drop_stop_words = True
            hybrid.feedback_docs = 0
            results["ablation: hybrid without feedback"], _ = evaluate(questions, hybrid_ranker(hybrid))
            hybrid.feedback_docs = FEEDBACK_DOCS
            plain = build_hybrid(work / "plain", turns, embedder, with_context=False)
            results["ablation: hybrid without context"], _ = evaluate(questions, hybrid_ranker(plain))
            plain.close()
        if args.sweep:
            tune = [q for q in questions if q.conversation in TUNE_CONVERSATIONS]
            for weight in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
                hybrid.lexical_weight = weight
                sweep[str(weight)] = evaluate(tune, hybrid_ranker(hybrid))[0]["all"]["recall@10"]
            print("lexical weight sweep on the tuning split (recall@10):", sweep)
        hybrid.close()
        dense_index.close()
        bm25_conn.close()
        at_10k = latency_at(args.latency_items, turns, questions, embedder, work / "latency")

    print()
    print_table(results)
    best_baseline = max(results["dense (Chroma)"]["all"]["recall@10"], results["bm25 (FTS5)"]["all"]["recall@10"])
    margin = results["hybrid"]["all"]["recall@10"] - best_baseline
    latency = {name: {"p50_ms": round(percentile(v, 0.5) * 1000, 2), "p95_ms": round(percentile(v, 0.95) * 1000, 2),
                      "mean_ms": round(statistics.fmean(v) * 1000, 2)} for name, v in timings.items()}
    print(f"\nhybrid recall@10 minus the better baseline: {margin * 100:+.1f} points")
    print(f"search latency per question over {len(turns)} items (query vector cached): "
          + ", ".join(f"{n} p50 {v['p50_ms']} ms / p95 {v['p95_ms']} ms" for n, v in latency.items()))
    print(f"hybrid search over {args.latency_items} items: "
          + ", ".join(f"{n} p50 {v['p50_ms']} ms / p95 {v['p95_ms']} ms" for n, v in at_10k.items()))
    print(f"one query embedding: {query_embed_ms:.1f} ms; total run {time.perf_counter() - started:.0f} s")

    report = {
        "dataset": str(args.data.name), "turns": len(turns), "questions": len(questions),
        "metric": "recall@k = share of a question's evidence turns in its top k, averaged over questions",
        "tune_conversations": list(TUNE_CONVERSATIONS), "categories": CATEGORIES,
        "embedding_model": embedder.name, "results": results,
        "hybrid_minus_best_baseline_recall@10": round(margin, 4),
        "search_latency": latency, f"hybrid_search_latency_{args.latency_items}_items": at_10k,
        "query_embedding_ms": round(query_embed_ms, 2), "lexical_weight_sweep": sweep,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "seconds": round(time.perf_counter() - started, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
