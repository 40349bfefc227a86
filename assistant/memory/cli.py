"""The `biseo memory` commands: add, search, list, edit, forget and history, each with `--json`."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from assistant.memory.store import Memory


def register(sub: Any) -> None:
    """Add `biseo memory ...` to the `biseo` parser."""
    p = sub.add_parser("memory", help="what Biseo remembers about you: add, search, list, edit, forget")
    msub = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    a = msub.add_parser("add", help="remember a fact about you")
    a.add_argument("text", nargs="+", help="the fact, like: my sister's birthday is May 3")
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=cmd_add)

    s = msub.add_parser("search", help="memories that match a question or words")
    s.add_argument("query", nargs="+")
    s.add_argument("-k", type=int, default=10, help="most results (default 10)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_search)

    ls = msub.add_parser("list", help="memories, newest first, with where and when each came from")
    ls.add_argument("--all", action="store_true", help="also replaced and forgotten ones")
    ls.add_argument("--limit", type=int, default=None)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_list)

    e = msub.add_parser("edit", help="change a memory's text (the old text stays in its history)")
    e.add_argument("id", help="memory id or its first characters")
    e.add_argument("text", nargs="+")
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=cmd_edit)

    f = msub.add_parser("forget", help="erase a memory for good")
    f.add_argument("id", help="memory id or its first characters")
    f.add_argument("--json", action="store_true")
    f.set_defaults(func=cmd_forget)

    h = msub.add_parser("history", help="every earlier wording of a memory")
    h.add_argument("id", help="memory id or its first characters")
    h.add_argument("--json", action="store_true")
    h.set_defaults(func=cmd_history)


def _service():
    from assistant.memory.service import MemoryService
    from assistant.paths import resolve_paths
    from assistant.settings import load_settings

    paths = resolve_paths().ensure()
    return MemoryService(paths.data_dir, load_settings(paths))


def _run(args: argparse.Namespace, action) -> int:
    """Open the service, run one action, and turn memory faults into one-line errors."""
    from assistant.cli import CLIError
    from assistant.memory.service import MemoryUnavailable
    from assistant.memory.store import InvalidMemory, MemoryNotFound

    service = _service()
    try:
        return action(service) or 0
    except (MemoryNotFound, InvalidMemory, MemoryUnavailable) as exc:
        raise CLIError(str(exc)) from None
    finally:
        service.close()


def when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))


def line(memory: Memory) -> str:
    """'a1b2c3d4  My dog is called Bori  (conversation 1a2b3c4d, message 5e6f7a8b; 2026-05-01 10:02)'."""
    status = "" if memory.status == "active" else f"[{memory.status}] "
    text = memory.text or "(erased)"
    return f"{memory.id[:8]}  {status}{text}  ({memory.source.describe()}; {when(memory.updated_at)})"


def _print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2))


def cmd_add(args: argparse.Namespace) -> int:
    def act(service) -> None:
        result = service.add(" ".join(args.text), "cli")
        if args.json:
            _print_json({"action": result.action, "memory": result.memory.to_dict(),
                         "replaced": [m.to_dict() for m in result.previous]})
            return
        verb = {"added": "remembered", "unchanged": "already remembered", "updated": "updated"}[result.action]
        print(f"{verb}: {line(result.memory)}")
        for old in result.previous:
            print(f"  replaces {old.id[:8]}: {old.text}")
        _note_pending(service)

    return _run(args, act)


def cmd_search(args: argparse.Namespace) -> int:
    def act(service) -> None:
        found = service.search(" ".join(args.query), k=max(1, args.k))
        if args.json:
            _print_json([{"score": round(r.score, 4), **r.memory.to_dict()} for r in found])
            return
        if not found:
            print("no memories match")
        for r in found:
            print(f"{r.score:.2f}  {line(r.memory)}")

    return _run(args, act)


def cmd_list(args: argparse.Namespace) -> int:
    def act(service) -> None:
        rows = service.list(status=None if args.all else "active", limit=args.limit)
        if args.json:
            _print_json([m.to_dict() for m in rows])
            return
        if not rows:
            print("nothing remembered yet (add with `biseo memory add TEXT`)")
        for m in rows:
            print(line(m))

    return _run(args, act)


def cmd_edit(args: argparse.Namespace) -> int:
    def act(service) -> None:
        memory = service.edit(args.id, " ".join(args.text), "cli")
        if args.json:
            _print_json(memory.to_dict())
            return
        print(f"edited: {line(memory)}")
        _note_pending(service)

    return _run(args, act)


def cmd_forget(args: argparse.Namespace) -> int:
    def act(service) -> None:
        before = service.get(args.id)
        memory = service.forget(before.id, "cli")
        if args.json:
            _print_json({"forgotten": memory.id, "text": before.text})
            return
        print(f"forgotten {memory.id[:8]}: {before.text or '(already forgotten)'}")
        _note_pending(service)

    return _run(args, act)


def cmd_history(args: argparse.Namespace) -> int:
    def act(service) -> None:
        versions = service.history(args.id)
        if args.json:
            _print_json([v.to_dict() for v in versions])
            return
        for v in versions:
            print(f"{when(v.changed_at)}  {v.memory_id[:8]} v{v.version} {v.change:<10} {v.text or '(erased)'}"
                  f"  ({v.source.describe()})")

    return _run(args, act)


def _note_pending(service) -> None:
    if service.store.has_pending():
        print("note: the search index is in use by another Biseo process; it picks this change up on its "
              "next search", file=sys.stderr)
