"""What an adapter learns from: the user's feedback (chats) and documents the user chose (plain text)."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from assistant.learning.scoring import key_terms
from assistant.learning.selection import pick

SOURCES = ("feedback", "docs", "both")


class DatasetError(ValueError):
    """Nothing to train on, or a choice of data that cannot work; the message says what to do."""


@dataclass
class Example:
    """One training example: a chat (loss on the assistant's replies) or a document passage (every token)."""

    id: str
    source: str                       # correction | rating | conversation | document
    messages: list[dict[str, str]] = field(default_factory=list)
    text: str = ""
    uncertainty: float | None = None  # mean token entropy of the original answer, when it was measured
    origin: str = ""                  # message id or file the example came from

    @property
    def kind(self) -> str:
        return "chat" if self.messages else "text"

    @property
    def question(self) -> str:
        users = [m["content"] for m in self.messages if m["role"] == "user"]
        return users[-1] if users else ""

    @property
    def answer(self) -> str:
        replies = [m["content"] for m in self.messages if m["role"] == "assistant"]
        return replies[-1] if replies else ""

    @property
    def is_single_exchange(self) -> bool:
        return sum(1 for m in self.messages if m["role"] == "assistant") == 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Example":
        return cls(**{k: data[k] for k in ("id", "source", "messages", "text", "uncertainty", "origin") if k in data})


@dataclass
class Dataset:
    """The examples of one training run, split into what trains and what is held out to judge it."""

    train: list[Example]
    held_out: list[Example]
    skipped: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict[str, Any]:
        by_source: dict[str, int] = {}
        for e in self.train + self.held_out:
            by_source[e.source] = by_source.get(e.source, 0) + 1
        return {"train": len(self.train), "held_out": len(self.held_out), "by_source": by_source,
                "skipped": dict(self.skipped)}

    def save(self, path: Path) -> None:
        """data.jsonl beside the adapter: every example with its split, so evaluations can be rerun."""
        with open(path, "w", encoding="utf-8") as f:
            for split, items in (("train", self.train), ("held_out", self.held_out)):
                for e in items:
                    f.write(json.dumps({"split": split, **e.to_dict()}, ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, path: Path) -> "Dataset":
        train: list[Example] = []
        held: list[Example] = []
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    row = json.loads(line)
                    (held if row.get("split") == "held_out" else train).append(Example.from_dict(row))
        return cls(train, held)


def from_feedback(records: Iterable[dict[str, Any]], system_prompt: str,
                  uncertainty_of=lambda message_id: None) -> tuple[list[Example], dict[str, int]]:
    """Corrections (the user's right answer), answers rated good, and conversations marked for learning.

    A thumbs-down without a correction says what not to say but not what to say: it is counted, not used.
    """
    examples: dict[str, Example] = {}
    skipped: dict[str, int] = {}
    for r in records:
        kind = r.get("kind")
        if kind == "rating" and (r.get("rating") or 0) < 0:
            skipped["rated bad, no correction"] = skipped.get("rated bad, no correction", 0) + 1
            continue
        messages = [m for m in r.get("messages") or [] if m.get("content", "").strip()]
        if not any(m["role"] == "assistant" for m in messages):
            continue
        key = r.get("message_id") or r.get("feedback_id")
        if key in examples and examples[key].source == "correction":
            continue  # the user's correction of an answer beats a rating of the same answer
        examples[key] = Example(
            id=str(r.get("feedback_id") or key), source=str(kind),
            messages=[{"role": "system", "content": system_prompt}] + [
                {"role": m["role"], "content": m["content"]} for m in messages],
            uncertainty=uncertainty_of(r.get("message_id")) if r.get("message_id") else None,
            origin=str(r.get("message_id") or r.get("conversation_id") or ""))
    return list(examples.values()), skipped


def from_documents(paths: Sequence[str | Path], *, max_file_mb: float = 50.0,
                   words_per_passage: int = 160) -> tuple[list[Example], dict[str, int]]:
    """Passages of the chosen files (folders are searched for readable files) for next-token training."""
    from assistant.documents.parsers import ParseError, file_kind, parse_file

    files: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file() and file_kind(p)
                                and not any(part.startswith(".") for part in p.relative_to(path).parts)))
        elif path.is_file():
            files.append(path)
        else:
            raise DatasetError(f"{path} does not exist.")
    examples: list[Example] = []
    skipped: dict[str, int] = {}
    for path in files:
        try:
            parsed = parse_file(path, int(max_file_mb * 2**20))
        except ParseError as exc:
            skipped[f"{path.name}: {exc}"] = 1
            continue
        for n, passage in enumerate(_passages(parsed.sections, words_per_passage)):
            digest = hashlib.sha1(f"{path}\0{n}\0{passage}".encode("utf-8", "replace")).hexdigest()[:16]
            examples.append(Example(id=f"doc-{digest}", source="document", text=passage, origin=str(path)))
    return examples, skipped


def _passages(sections: Iterable[Any], words: int) -> Iterable[str]:
    for section in sections:
        heading = section.section or section.sheet or ""
        tokens = (section.text or "").split()
        for start in range(0, len(tokens), words):
            chunk = " ".join(tokens[start:start + words])
            if len(chunk) >= 40:
                yield f"{heading}\n{chunk}" if heading else chunk


def select(examples: Sequence[Example], limit: int, uncertain_share: float, seed: int = 0) -> list[Example]:
    """At most `limit` examples: a share picked as the most uncertain, the rest at random (see selection.pick)."""
    return pick(examples, limit, uncertainty=lambda e: e.uncertainty, uncertain_share=uncertain_share, seed=seed)


def split(examples: Sequence[Example], share: float, seed: int = 0) -> tuple[list[Example], list[Example]]:
    """(train, held out). Held-out chats are preferably ones whose answer another example also teaches in
    other words, so that the held-out questions test recall of a taught fact from a new phrasing."""
    if not 0.0 <= share < 1.0:
        raise DatasetError("the held-out share must be between 0 and 1")
    n_hold = int(round(len(examples) * share))
    if len(examples) < 5 or n_hold == 0:
        return list(examples), []
    rng = random.Random(seed)
    order = list(range(len(examples)))
    rng.shuffle(order)
    covered = [i for i in order if _taught_elsewhere(examples, i)]
    rest = [i for i in order if i not in set(covered)]
    held: set[int] = set()
    for i in covered + rest:
        if len(held) >= n_hold:
            break
        # Never hold out the last example that teaches something: keep the held-out set paraphrases.
        if i in covered and not _taught_elsewhere(examples, i, excluding=held):
            continue
        held.add(i)
    train = [e for i, e in enumerate(examples) if i not in held]
    return train, [e for i, e in enumerate(examples) if i in held]


def _taught_elsewhere(examples: Sequence[Example], i: int, excluding: set[int] = frozenset()) -> bool:
    e = examples[i]
    if e.kind != "chat" or not e.is_single_exchange:
        return False
    terms = key_terms(e.answer, e.question)
    if not terms:
        return False
    others = " ".join(x.answer.lower() for j, x in enumerate(examples) if j != i and j not in excluding
                      and x.kind == "chat")
    return all(t.lower() in others for t in terms)


def build(examples: Sequence[Example], *, limit: int, uncertain_share: float, holdout_share: float,
          seed: int = 0, skipped: dict[str, int] | None = None) -> Dataset:
    if not examples:
        raise DatasetError("There is nothing to learn from yet: rate answers (thumbs up), correct wrong ones, "
                           "mark conversations for learning, or choose documents (--from docs --docs PATH).")
    chosen = select(examples, limit, uncertain_share, seed)
    train, held = split(chosen, holdout_share, seed)
    return Dataset(train, held, dict(skipped or {}))
