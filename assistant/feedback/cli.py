"""The `biseo feedback` commands: rate, correct, mark, list, export and delete."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

RATINGS = {"up": 1, "down": -1, "clear": 0}


def register(sub: Any) -> None:
    """Add `biseo feedback ...` to the `biseo` parser."""
    p = sub.add_parser("feedback", help="rate or correct answers, and export them for training")
    fsub = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    r = fsub.add_parser("rate", help="thumbs up or down on an answer")
    r.add_argument("message_id", help="the answer's message id (or its first characters), or 'last'")
    r.add_argument("rating", choices=list(RATINGS), help="up, down, or clear to remove the rating")
    r.add_argument("--note", default="", help="why (optional)")
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=cmd_rate)

    c = fsub.add_parser("correct", help="write the right answer for a wrong one")
    c.add_argument("message_id", help="the answer's message id (or its first characters), or 'last'")
    c.add_argument("text", nargs="+", help="the right answer")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_correct)

    m = fsub.add_parser("mark", help="mark a whole conversation as a good example to learn from")
    m.add_argument("conversation", help="conversation id or its first characters")
    m.add_argument("--off", action="store_true", help="remove the mark")
    m.set_defaults(func=cmd_mark)

    ls = fsub.add_parser("list", help="feedback given, newest first")
    ls.add_argument("--kind", choices=["rating", "correction", "conversation"])
    ls.add_argument("--limit", type=int, default=None)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_list)

    e = fsub.add_parser("export", help="write prompt/answer pairs with their ratings and corrections")
    e.add_argument("file", help="where to write (JSON lines)")
    e.add_argument("--format", choices=["jsonl", "json"], default="jsonl")
    e.set_defaults(func=cmd_export)

    i = fsub.add_parser("import", help="add ratings and corrections from a file written by export")
    i.add_argument("file", help="JSON lines (or one JSON list) of prompt/answer records")
    i.set_defaults(func=cmd_import)

    d = fsub.add_parser("delete", help="remove one feedback entry")
    d.add_argument("id", help="feedback id or its first characters")
    d.set_defaults(func=cmd_delete)


def _run(action) -> int:
    """Open the history and feedback stores, run one action, and turn faults into one-line errors."""
    from assistant.cli import CLIError
    from assistant.feedback.store import FeedbackError, FeedbackStore
    from assistant.history.store import ConversationNotFound, HistoryStore, MessageNotFound
    from assistant.paths import resolve_paths

    paths = resolve_paths().ensure()
    history = HistoryStore(paths.history_db)
    store = FeedbackStore(paths.data_dir / "feedback.db", history=history)
    try:
        return action(store, history) or 0
    except (FeedbackError, ConversationNotFound, MessageNotFound) as exc:
        raise CLIError(str(exc.args[0]) if exc.args else str(exc)) from None
    finally:
        store.close()
        history.close()


def _answer_id(history: Any, raw: str) -> str:
    """A message id from an id, a prefix, or 'last' (the last answer of the most recent conversation)."""
    from assistant.history.store import MessageNotFound

    if raw != "last":
        return history.resolve_message_id(raw)
    for conversation in history.list_conversations(limit=1):
        answers = [m for m in history.messages(conversation.id) if m.role == "assistant"]
        if answers:
            return answers[-1].id
    raise MessageNotFound("there is no answer to rate yet")


def cmd_rate(args: argparse.Namespace) -> int:
    def action(store, history) -> None:
        mid = _answer_id(history, args.message_id)
        entry = store.rate(mid, "", RATINGS[args.rating], note=args.note)
        if args.json:
            print(json.dumps(entry.to_dict() if entry else None, ensure_ascii=False))
        elif entry is None:
            print(f"rating removed from {mid[:8]}")
        else:
            print(f"rated {mid[:8]} {'up' if entry.rating > 0 else 'down'}")

    return _run(action)


def cmd_correct(args: argparse.Namespace) -> int:
    def action(store, history) -> None:
        mid = _answer_id(history, args.message_id)
        entry = store.correct(mid, "", corrected=" ".join(args.text))
        if args.json:
            print(json.dumps(entry.to_dict(), ensure_ascii=False))
        else:
            print(f"correction saved for {mid[:8]} ({entry.id[:8]})")

    return _run(action)


def cmd_mark(args: argparse.Namespace) -> int:
    def action(store, history) -> None:
        cid = history.resolve_id(args.conversation)
        store.mark_conversation(cid, not args.off)
        print(f"conversation {cid[:8]} {'unmarked' if args.off else 'marked for learning'}")

    return _run(action)


def cmd_list(args: argparse.Namespace) -> int:
    def action(store, history) -> None:
        entries = store.list(args.kind, limit=args.limit)
        if args.json:
            print(json.dumps([e.to_dict() for e in entries], indent=2, ensure_ascii=False))
            return
        if not entries:
            print("no feedback yet")
        for e in entries:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(e.created_at))
            if e.kind == "rating":
                what = ("up  " if e.rating > 0 else "down") + f"  {_clip(e.prompt)}"
            elif e.kind == "correction":
                what = f"fix   {_clip(e.prompt)} -> {_clip(e.corrected)}"
            else:
                what = f"conversation {e.conversation_id[:8]} marked for learning"
            print(f"{e.id[:8]}  {when}  {what}")

    return _run(action)


def cmd_export(args: argparse.Namespace) -> int:
    def action(store, history) -> None:
        count = store.export(args.file, fmt=args.format)
        print(f"wrote {count} record{'s' if count != 1 else ''} to {args.file}")

    return _run(action)


def cmd_import(args: argparse.Namespace) -> int:
    from assistant.feedback.store import FeedbackError

    def action(store, history) -> None:
        try:
            text = open(args.file, encoding="utf-8").read()
        except (OSError, UnicodeDecodeError) as exc:
            raise FeedbackError(f"cannot read {args.file}: {exc}") from None
        try:
            stripped = text.lstrip()
            records = json.loads(text) if stripped.startswith("[") else [
                json.loads(line) for line in text.splitlines() if line.strip()]
        except ValueError as exc:
            raise FeedbackError(f"{args.file} is not JSON lines or a JSON list: {exc}") from None
        count = store.import_records(records)
        print(f"imported {count} record{'s' if count != 1 else ''} from {args.file}")

    return _run(action)


def cmd_delete(args: argparse.Namespace) -> int:
    def action(store, history) -> None:
        entry = store.get(args.id)
        store.delete(entry.id)
        print(f"deleted {entry.id[:8]}")

    return _run(action)


def _clip(text: str, limit: int = 50) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."
