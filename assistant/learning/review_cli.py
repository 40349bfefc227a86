"""`biseo review`: rate or correct the answers Biseo was least sure of, most unsure first."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any, Callable

EMPTY = ("Nothing to review: the queue is empty. Answers get measured as you chat, and the ones "
         "Biseo was least sure of show up here.")
CHOICES = "[g]ood  [b]ad  [c]orrect  [s]kip  [q]uit: "


def register(sub: Any) -> None:
    """Add `biseo review` to the `biseo` parser."""
    p = sub.add_parser("review", help="rate or correct the answers Biseo was least sure of")
    p.add_argument("--list", action="store_true", help="print the queue instead of asking")
    p.add_argument("--json", action="store_true", help="with --list: one JSON object per line")
    p.add_argument("--limit", type=_count, default=20, metavar="N", help="at most N answers (default 20)")
    p.set_defaults(func=cmd_review)


def _count(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 1:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number of 1 or more")
    return value


def cmd_review(args: argparse.Namespace) -> int:
    """Open only the history and feedback stores (no model load), then list or ask."""
    from assistant.cli import CLIError
    from assistant.feedback.store import FeedbackError, FeedbackStore
    from assistant.history.store import HistoryStore
    from assistant.learning.review import ReviewQueue
    from assistant.paths import resolve_paths

    paths = resolve_paths().ensure()
    history = HistoryStore(paths.history_db)
    feedback = FeedbackStore(paths.data_dir / "feedback.db", history=history)
    try:
        queue = ReviewQueue(history, feedback)
        if args.list or args.json:  # JSON only makes sense as a listing
            return _list(queue, args.limit, args.json)
        return _interactive(queue, feedback, args.limit)
    except FeedbackError as exc:
        raise CLIError(str(exc)) from None
    finally:
        feedback.close()
        history.close()


def _list(queue: Any, limit: int, as_json: bool) -> int:
    items = queue.pending(limit)
    if as_json:
        for item in items:
            print(json.dumps(item.to_dict(), ensure_ascii=False))
        return 0
    if not items:
        print(EMPTY)
        return 0
    print(f"{'unsure':>6}  {'answer':8}  {'when':16}  question -> answer")
    for item in items:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(item.created_at))
        print(f"{item.uncertainty:6.2f}  {item.message_id[:8]}  {when}  {_clip(item.prompt)} -> {_clip(item.answer)}")
    total = queue.count_pending()
    if total > len(items):
        print(f"({total - len(items)} more; use --limit to see them)")
    return 0


def _interactive(queue: Any, feedback: Any, limit: int, ask: Callable[[str], str] = input) -> int:
    items = queue.pending(limit)
    if not items:
        print(EMPTY)
        return 0
    reviewed = skipped = 0
    for number, item in enumerate(items, 1):
        print(f"\n[{number}/{len(items)}] You asked: {item.prompt}")
        print(f"Biseo answered: {item.answer}")
        print(f"unsure: {item.uncertainty:.2f} (mean token entropy)")
        outcome = _review_one(item, feedback, ask)
        if outcome == "quit":
            break
        reviewed += outcome == "reviewed"
        skipped += outcome == "skipped"
    print(f"\nReviewed {reviewed}, skipped {skipped}; {queue.count_pending()} left.")
    return 0


def _review_one(item: Any, feedback: Any, ask: Callable[[str], str]) -> str:
    """Ask until the user decides; returns "reviewed", "skipped" or "quit" (q, or the input ended)."""
    from assistant.feedback.store import FeedbackError

    while True:
        choice = _read(ask, CHOICES)
        if choice is None:
            return "quit"
        choice = choice.strip().lower()[:1]
        try:
            if choice in ("g", "b"):
                feedback.rate(item.message_id, item.conversation_id, 1 if choice == "g" else -1)
                print("Saved: good." if choice == "g" else "Saved: bad.")
                return "reviewed"
            if choice == "c":
                text, ended = _read_correction(ask)
                if text:
                    feedback.correct(item.message_id, item.conversation_id, corrected=text)
                    print("Saved your answer.")
                    return "reviewed"  # if the input ended, the next question reads the end and stops
                if ended:
                    return "quit"
                continue  # nothing typed: back to the question
        except FeedbackError as exc:  # e.g. the conversation was deleted meanwhile
            print(f"Not saved: {exc}")
            return "skipped"
        if choice == "s":
            return "skipped"
        if choice == "q":
            return "quit"
        print("Type g, b, c, s or q.")


def _read_correction(ask: Callable[[str], str]) -> tuple[str, bool]:
    """The right answer, lines until an empty one; (text, whether the input ended)."""
    print("Type the right answer; an empty line ends it (an empty answer goes back).")
    lines: list[str] = []
    while True:
        line = _read(ask, "> ")
        if line is None:
            return "\n".join(lines).strip(), True  # what was typed before the input ended is kept
        if not line.strip():
            return "\n".join(lines).strip(), False
        lines.append(line.rstrip())


def _read(ask: Callable[[str], str], prompt: str) -> str | None:
    try:
        return ask(prompt)
    except EOFError:
        return None


def _clip(text: str, limit: int = 40) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."
