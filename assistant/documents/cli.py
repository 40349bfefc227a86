"""The `biseo docs` commands: add, list, remove and reindex the user's documents."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from assistant.documents.indexer import Progress

BAR_WIDTH = 28


def register(sub) -> None:
    """Add `biseo docs ...` to the `biseo` parser."""
    p = sub.add_parser("docs", help="documents the assistant answers from (chat with your files)")
    dsub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = dsub.add_parser("add", help="add files or folders and index them (folders are watched while "
                                    "Biseo runs)")
    a.add_argument("paths", nargs="+", metavar="PATH")
    a.add_argument("--json", action="store_true", help="print the result as JSON")
    a.set_defaults(func=cmd_add)
    ls = dsub.add_parser("list", help="added files and folders, with each file's status")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_list)
    rm = dsub.add_parser("remove", help="forget an added file or folder (the files themselves stay)")
    rm.add_argument("path")
    rm.add_argument("--json", action="store_true")
    rm.set_defaults(func=cmd_remove)
    ri = dsub.add_parser("reindex", help="re-read changed files and rebuild the search index from the "
                                         "database")
    ri.add_argument("--force", action="store_true", help="re-read every file, changed or not")
    ri.add_argument("--json", action="store_true")
    ri.set_defaults(func=cmd_reindex)


def _service():
    from assistant.documents.service import DocumentService
    from assistant.paths import resolve_paths
    from assistant.settings import load_settings

    paths = resolve_paths().ensure()
    settings = load_settings(paths)
    return DocumentService(paths.data_dir, settings.documents, embedding_model=settings.memory.embedding_model,
                           models_paths=paths)


def _fail(message: str) -> int:
    print(f"biseo: {message}", file=sys.stderr)
    return 1


class ProgressBar:
    """files done/total and the current file on stderr; one line per file when stderr is not a terminal."""

    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._last = (-1, "")
        self._printed = ""

    def __call__(self, p: Progress) -> None:
        key = (p.done, p.current)
        if key == self._last or p.total == 0:
            return
        self._last = key
        if not self.tty:
            if p.current and p.current != self._printed:  # each file once, as it starts
                self._printed = p.current
                print(f"[{p.done + 1}/{p.total}] {p.current}", file=self.stream, flush=True)
            return
        filled = int(BAR_WIDTH * p.done / p.total)
        name = Path(p.current).name if p.current else ("done" if p.finished else "")
        line = f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {p.done}/{p.total} files  {name[:40]}"
        print(f"{line:<90}", end="", file=self.stream, flush=True)
        if p.finished:
            print(file=self.stream, flush=True)


def _run_sync(service, **kwargs: Any) -> Progress:
    """Index in the background thread; Ctrl-C stops after the current file, keeping what is done."""
    job = service.start_sync(ProgressBar(), **kwargs)
    try:
        while not job.wait(0.2):
            pass
    except KeyboardInterrupt:
        job.cancel.set()
        print("\n[stopping after the current file...]", file=sys.stderr)
        job.wait()
    return job.outcome()


def _summary(state: Progress) -> str:
    parts = [f"{state.indexed} indexed", f"{state.unchanged} unchanged"]
    if state.removed:
        parts.append(f"{state.removed} removed")
    parts.append(f"{len(state.errors)} failed")
    head = f"{state.done} of {state.total} files: " + ", ".join(parts) + f" ({state.chunks} new chunks)"
    if state.cancelled:
        head += " - stopped early; run `biseo docs add` again to finish"
    return head


def _print_problems(state: Progress) -> None:
    if state.warnings:
        print("warnings:", file=sys.stderr)
        for w in state.warnings:
            print(f"  {w.path}: {w.reason}", file=sys.stderr)
    if state.errors:
        print("not indexed:", file=sys.stderr)
        for e in state.errors:
            print(f"  {e.path}: {e.reason}", file=sys.stderr)


def _index_errors():
    from assistant.index.base import IndexUnavailable

    return IndexUnavailable


def cmd_add(args: argparse.Namespace) -> int:
    service = _service()
    try:
        sources, problems = service.add(args.paths)
        for problem in problems:
            print(f"biseo: {problem}", file=sys.stderr)
        if not sources:
            return 1
        try:
            state = _run_sync(service, sources=sources)
        except _index_errors() as exc:
            return _fail(str(exc))
        if args.json:
            print(json.dumps({"sources": [s.path for s in sources], "missing": problems, **state.to_dict()},
                             ensure_ascii=False, indent=2))
        else:
            print(_summary(state))
            _print_problems(state)
        return 1 if problems or state.cancelled else 0
    finally:
        service.close()


def cmd_list(args: argparse.Namespace) -> int:
    service = _service()
    try:
        rows = []
        for source in service.sources():
            files = service.files(source)
            rows.append({"path": source.path, "kind": source.kind, "added_at": _iso(source.added_at),
                         "files": [{"path": f.path, "status": f.status, "chunks": f.chunk_count,
                                    "size": f.size, "error": f.error, "warning": f.warning} for f in files]})
        if args.json:
            print(json.dumps(rows, ensure_ascii=False, indent=2))
            return 0
        if not rows:
            print("No documents yet. Add some with `biseo docs add PATH...`.")
        for row in rows:
            ok = sum(1 for f in row["files"] if f["status"] == "indexed")
            bad = sum(1 for f in row["files"] if f["status"] == "error")
            print(f"{row['path']}  ({row['kind']}: {ok} indexed" + (f", {bad} failed" if bad else "") + ")")
            for f in row["files"]:
                shown = Path(f["path"]).relative_to(row["path"]) if row["kind"] == "folder" else Path(f["path"]).name
                detail = f"{f['chunks']} chunks" if f["status"] == "indexed" else f["error"] or f["status"]
                print(f"    {f['status']:<8} {shown}  {detail}")
        return 0
    finally:
        service.close()


def cmd_remove(args: argparse.Namespace) -> int:
    from assistant.documents.service import DocumentError

    service = _service()
    try:
        try:
            source = service.remove(args.path)
        except DocumentError as exc:
            return _fail(str(exc))
        except _index_errors() as exc:
            return _fail(str(exc))
        if args.json:
            print(json.dumps({"removed": source.path}, ensure_ascii=False))
        else:
            print(f"removed {source.path} (its files stay where they are)")
        return 0
    finally:
        service.close()


def cmd_reindex(args: argparse.Namespace) -> int:
    service = _service()
    try:
        try:
            state = _run_sync(service, force=args.force)
            if state.cancelled:
                print(_summary(state))
                return 1
            started = time.monotonic()
            count = service.indexer.rebuild()
        except _index_errors() as exc:
            return _fail(str(exc))
        if args.json:
            print(json.dumps({**state.to_dict(), "index_chunks": count,
                              "rebuild_s": round(time.monotonic() - started, 2)}, ensure_ascii=False, indent=2))
        else:
            print(_summary(state))
            print(f"search index rebuilt from the database: {count} chunks")
            _print_problems(state)
        return 0
    finally:
        service.close()


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
