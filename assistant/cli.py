"""The `biseo` command: chat, ask, plugins, models, conversations and doctor."""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
from typing import Any, Iterable

from assistant import __version__
from assistant.events import ApprovalRequested, ErrorEvent, Event, Final, Status, Token, ToolCallRequested, ToolResult
from assistant.instance_lock import InstanceLocked
from assistant.paths import resolve_paths
from assistant.settings import SettingsError, load_settings


class CLIError(Exception):
    """A failure reported as one line on stderr with a non-zero exit code."""


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging()
    try:
        return args.func(args) or 0
    except CLIError as exc:
        print(f"biseo: {exc}", file=sys.stderr)
        return 1
    except (SettingsError, InstanceLocked) as exc:
        print(f"biseo: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - known user-facing faults of the catalog and models
        from assistant.catalog.manifests import ManifestError

        if isinstance(exc, ManifestError):
            print(f"biseo: {exc}", file=sys.stderr)
            return 1
        raise
    except KeyboardInterrupt:
        print("", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="biseo", description="Biseo, your local assistant.")
    parser.add_argument("--version", action="version", version=f"biseo {__version__}")
    parser.set_defaults(func=cmd_chat, conversation=None, yes=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("app", help="open the desktop window (the terminal chat when there is no display)")
    p.set_defaults(func=cmd_app)

    p = sub.add_parser("chat", help="interactive chat in the terminal (streaming)")
    p.add_argument("--conversation", "-c", help="resume this conversation (id or id prefix)")
    p.add_argument("--yes", "-y", action="store_true", help="approve every tool call without asking")
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("ask", help="ask one question and print the answer")
    p.add_argument("text", nargs="+", help="the question")
    p.add_argument("--json", action="store_true", help="print one JSON event per line")
    p.add_argument("--yes", "-y", action="store_true", help="approve tool calls with side effects")
    p.add_argument("--conversation", "-c", help="continue this conversation (id or id prefix)")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("plugins", help="plugins and their tools")
    psub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    pl = psub.add_parser("list", help="loaded plugins, their tools, permissions and load errors")
    pl.add_argument("--json", action="store_true")
    pl.set_defaults(func=cmd_plugins_list)

    p = sub.add_parser("models", help="the model catalog")
    msub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    ml = msub.add_parser("list", help="known models and whether they are on this machine")
    ml.add_argument("--json", action="store_true")
    ml.set_defaults(func=cmd_models_list)
    md = msub.add_parser("download", help="download a model (resumable, checksum-verified)")
    md.add_argument("name")
    md.set_defaults(func=cmd_models_download)
    mu = msub.add_parser("use", help="make a model name or a local .gguf path the default")
    mu.add_argument("model")
    mu.set_defaults(func=cmd_models_use)

    p = sub.add_parser("conversations", help="list, show, rename or delete conversations")
    csub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    cl = csub.add_parser("list")
    cl.add_argument("--search", "-s", help="only conversations whose title or messages contain this")
    cl.add_argument("--json", action="store_true")
    cl.set_defaults(func=cmd_conversations_list)
    cs = csub.add_parser("show")
    cs.add_argument("id")
    cs.set_defaults(func=cmd_conversations_show)
    cr = csub.add_parser("rename")
    cr.add_argument("id")
    cr.add_argument("title", nargs="+")
    cr.set_defaults(func=cmd_conversations_rename)
    cd = csub.add_parser("delete")
    cd.add_argument("id")
    cd.set_defaults(func=cmd_conversations_delete)

    from assistant.documents.cli import register as register_docs
    from assistant.memory.cli import register as register_memory

    register_memory(sub)
    register_docs(sub)
    from assistant.feedback.cli import register as register_feedback

    register_feedback(sub)
    from assistant.learning.review_cli import register as register_review

    register_review(sub)
    from assistant.learning.cli import register as register_learning

    register_learning(sub)
    from assistant.mcp.cli import register as register_mcp

    register_mcp(sub)
    from assistant.voice.cli import register as register_voice
    from assistant.voice.cli_say import register as register_say
    from assistant.voice.cli_transcribe import register as register_transcribe

    register_voice(sub)
    register_say(sub)
    register_transcribe(sub)

    p = sub.add_parser("doctor", help="report model, backend, GPU, threads, versions and folders")
    p.add_argument("--json", action="store_true")
    p.add_argument("--no-load", action="store_true", help="check the model file without loading it")
    p.set_defaults(func=cmd_doctor)
    return parser


def _setup_logging() -> None:
    level = os.environ.get("BISEO_LOG_LEVEL", "WARNING").upper()
    logging.basicConfig(level=getattr(logging, level, logging.WARNING), stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")


def _assistant():
    from assistant.app import Assistant

    return Assistant()


def _conversation_id(assistant, raw: str | None) -> str | None:
    if not raw:
        return None
    from assistant.history.store import ConversationNotFound

    try:
        return assistant.store.resolve_id(raw)
    except ConversationNotFound as exc:
        raise CLIError(str(exc).strip("'\"")) from None


# chat and ask
def _approve(event: ApprovalRequested, auto_yes: bool, interactive: bool) -> None:
    args = json.dumps(event.arguments, ensure_ascii=False, indent=2)
    if auto_yes:
        event.approve()
        return
    if not interactive:
        print(f"biseo: {event.name} has side effects and was denied: no terminal to ask in "
              "(use --yes to approve)", file=sys.stderr)
        event.deny("not approved: non-interactive run without --yes")
        return
    print(f"\nThe assistant wants to run {event.name} ({event.description})\nwith these exact arguments:\n{args}",
          file=sys.stderr)
    try:
        answer = input("Allow this once? [y/N] ")
    except EOFError:
        answer = ""
    if answer.strip().lower() in ("y", "yes"):
        event.approve()
    else:
        event.deny("the user said no")


def _render_human(events: Iterable[Event], *, auto_yes: bool, interactive: bool) -> Final | ErrorEvent | None:
    last: Final | ErrorEvent | None = None
    streamed = False
    for event in events:
        if isinstance(event, Token):
            print(event.text, end="", flush=True)
            streamed = True
        elif isinstance(event, ToolCallRequested):
            print(f"[tool] {event.name} {json.dumps(event.arguments, ensure_ascii=False)}", file=sys.stderr)
        elif isinstance(event, ToolResult):
            mark = "ok" if event.ok else ("denied" if event.denied else "failed")
            out = event.output if len(event.output) < 300 else event.output[:300] + "..."
            print(f"[tool] {event.name} {mark}: {out}", file=sys.stderr)
        elif isinstance(event, ApprovalRequested):
            _approve(event, auto_yes, interactive)
        elif isinstance(event, Status):
            print(f"[{event.text}]", file=sys.stderr)
        elif isinstance(event, Final):
            if not streamed and event.text:
                print(event.text, end="")
            print()
            last = event
        elif isinstance(event, ErrorEvent):
            if streamed:
                print()
            last = event
    return last


def cmd_ask(args: argparse.Namespace) -> int:
    assistant = _assistant()
    try:
        cid = _conversation_id(assistant, args.conversation)
        text = " ".join(args.text)
        interactive = sys.stdin.isatty() and not args.json
        if not assistant.backend_loaded and not args.json:
            print("[loading model...]", file=sys.stderr)
        events = assistant.chat(text, cid)
        if args.json:
            last = None
            for event in events:
                if isinstance(event, ApprovalRequested):
                    _approve(event, args.yes, interactive=False)
                print(json.dumps(event.to_dict(), ensure_ascii=False), flush=True)
                if isinstance(event, (Final, ErrorEvent)):
                    last = event
        else:
            last = _render_human(events, auto_yes=args.yes, interactive=interactive)
        if isinstance(last, ErrorEvent):
            print(f"biseo: {last.message}", file=sys.stderr)
            return 1
        return 0 if last is not None else 1
    finally:
        assistant.close()


def cmd_app(args: argparse.Namespace) -> int:
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                                                 or os.environ.get("QT_QPA_PLATFORM")):
        print("biseo: no display found, so the terminal chat starts instead of the window.", file=sys.stderr)
        return cmd_chat(args)
    import importlib

    try:
        # Looked up by name, not imported: the desktop app depends on the core, never the other way round;
        # the command line only launches it (a core without the ui package still works).
        app = importlib.import_module("ui.app")
    except ImportError as exc:
        raise CLIError(f"the desktop app cannot start: {exc}") from exc
    return app.main([])


def cmd_chat(args: argparse.Namespace) -> int:
    assistant = _assistant()
    try:
        cid = _conversation_id(assistant, args.conversation)
        interactive = sys.stdin.isatty()
        if cid:
            _print_transcript(assistant, cid)
        assistant.warm_up_in_background()
        print(f"Biseo {__version__} — type a message; /new starts a conversation, /history lists them, "
              "/resume ID continues one, /quit leaves.", file=sys.stderr)
        while True:
            try:
                line = input("you> " if interactive else "")
            except EOFError:
                print("", file=sys.stderr)
                return 0
            text = line.strip()
            if not text:
                continue
            if text in ("/quit", "/exit", "/q"):
                return 0
            if text == "/new":
                cid = None
                print("[new conversation]", file=sys.stderr)
                continue
            if text == "/history":
                for c in assistant.store.list_conversations(limit=20):
                    print(f"  {c.id[:8]}  {c.title}  ({c.message_count} messages)")
                continue
            if text.startswith("/resume"):
                try:
                    cid = _conversation_id(assistant, text.split(maxsplit=1)[1] if " " in text else "")
                except CLIError as exc:
                    print(f"biseo: {exc}", file=sys.stderr)
                    continue
                if cid:
                    _print_transcript(assistant, cid)
                continue
            if text.startswith("/"):
                print("commands: /new, /history, /resume ID, /quit", file=sys.stderr)
                continue
            if cid is None:
                cid = assistant.new_conversation()
            if not assistant.backend_loaded:
                print("[loading model...]", file=sys.stderr)
            print("biseo> ", end="", flush=True)
            from assistant.cancel import CancelToken

            cancel = CancelToken()
            try:
                last = _render_human(assistant.chat(text, cid, cancel=cancel), auto_yes=args.yes,
                                     interactive=interactive)
            except KeyboardInterrupt:
                cancel.cancel()
                print("\n[stopped]", file=sys.stderr)
                continue
            if isinstance(last, ErrorEvent):
                print(f"biseo: {last.message}", file=sys.stderr)
    finally:
        assistant.close()


def _print_transcript(assistant, cid: str) -> None:
    for m in assistant.store.messages(cid):
        if m.role == "user":
            print(f"you> {m.content}")
        elif m.role == "assistant":
            print(f"biseo> {m.content}")
        elif m.role == "tool_result":
            print(f"[tool] {m.tool_name}: {m.content[:200]}")


# plugins
def cmd_plugins_list(args: argparse.Namespace) -> int:
    from assistant.extensions.manager import describe_permissions
    from assistant.mcp.cli import loaded_managers, print_server, server_rows

    paths = resolve_paths()
    settings = load_settings(paths)
    manager, mcp = loaded_managers()
    rows = []
    try:
        for info in manager.plugins:
            if info.kind == "mcp":
                continue  # listed below, with their state and each tool's permission
            tools = []
            for name in info.tools:
                spec = manager.registry.get(name)
                tools.append({"name": name, "description": spec.description if spec else "",
                              "permissions": spec.permissions() if spec else {},
                              "enabled": name not in settings.tools.disabled})
            rows.append({"name": info.name, "kind": "plugin", "source": info.source, "status": info.status,
                         "error": info.error, "runs": "own process" if info.isolation == "process" else "in-process",
                         "permissions": info.permissions, "tools": tools})
        servers = server_rows(mcp)
    finally:
        mcp.close()
        manager.close()
    if args.json:
        print(json.dumps(rows + servers, ensure_ascii=False, indent=2))
        return 0
    if not settings.plugins.user_folder_enabled:
        print(f"(user plugins folder {paths.plugins_dir} is off; set plugins.user_folder_enabled = true)")
    for row in rows:
        print(f"{row['name']}  [{row['status']}]  from {row['source']}  ({row['runs']})")
        if row["permissions"]:
            print(f"    permissions: {describe_permissions(row['permissions'])}")
        if row["error"]:
            print(f"    error: {row['error']}")
        for t in row["tools"]:
            perms = t["permissions"]
            flags = [k if v is True else f"{k}={v}" for k, v in perms.items() if v and v != "none"]
            off = "" if t["enabled"] else "  (disabled)"
            print(f"    - {t['name']}: {t['description']}  [{', '.join(flags) or 'read-only'}]{off}")
    for row in servers:
        print_server(row)
    return 0


# models
def _catalog():
    from assistant.catalog.manifests import load_catalog

    paths = resolve_paths().ensure()
    return paths, load_catalog(paths)


def cmd_models_list(args: argparse.Namespace) -> int:
    from assistant.catalog.resolver import list_models

    paths, catalog = _catalog()
    settings = load_settings(paths)
    current = settings.llm.model
    in_use = {current, settings.memory.embedding_model, settings.voice.stt_model}
    rows = list_models(paths, catalog)
    if args.json:
        print(json.dumps([{"name": r.name, "display_name": r.display_name, "kind": r.kind, "size": r.size,
                           "ram_hint_gb": r.ram_hint_gb, "licence": r.licence, "status": r.status,
                           "path": str(r.path) if r.path else None, "default": r.name == current,
                           "in_use": r.name in in_use}
                          for r in rows], indent=2))
        return 0
    for r in rows:
        mark = "*" if r.name in in_use else " "
        print(f"{mark} {r.name:<30} {r.kind:<9} {r.size:>13}  RAM ~{r.ram_hint_gb:<4g} GB  {r.status:<22} {r.licence}")
    if not any(r.name == current for r in rows):
        print(f"* current model: {current}")
    return 0


def cmd_models_download(args: argparse.Namespace) -> int:
    from assistant.catalog.download import DownloadError, TextProgress
    from assistant.catalog.resolver import download_model

    paths, catalog = _catalog()
    manifest = catalog.get(args.name)
    if manifest is None:
        raise CLIError(f"unknown model {args.name!r}; see `biseo models list`")
    try:
        result = download_model(manifest, paths, progress=TextProgress(manifest.name))
    except DownloadError as exc:
        raise CLIError(str(exc)) from None
    note = f" ({result.note})" if getattr(result, "note", "") else ""
    print(f"downloaded {manifest.name} to {result.path}{note}")
    return 0


def cmd_models_use(args: argparse.Namespace) -> int:
    from assistant.catalog.resolver import ModelNotAvailable, resolve_model
    from assistant.llm.gguf_check import ModelFileError, check_gguf
    from assistant.settings import set_config_value

    paths, catalog = _catalog()
    spec = args.model
    if spec not in catalog:
        spec = os.path.abspath(os.path.expanduser(spec))
    try:
        resolved = resolve_model(spec, paths, catalog)
        check_gguf(resolved.path)
    except (ModelNotAvailable, ModelFileError) as exc:
        raise CLIError(str(exc)) from None
    set_config_value(paths, "llm.model", spec)
    print(f"default model is now {spec} ({resolved.path})")
    return 0


# conversations
def cmd_conversations_list(args: argparse.Namespace) -> int:
    from assistant.history.store import HistoryStore

    store = HistoryStore(resolve_paths().ensure().history_db)
    rows = store.list_conversations(search=args.search)
    if args.json:
        print(json.dumps([c.__dict__ for c in rows], indent=2, ensure_ascii=False))
    for c in rows if not args.json else []:
        print(f"{c.id[:8]}  {c.title}  ({c.message_count} messages)")
    return 0


def _store_and_id(raw: str):
    from assistant.history.store import ConversationNotFound, HistoryStore

    store = HistoryStore(resolve_paths().ensure().history_db)
    try:
        return store, store.resolve_id(raw)
    except ConversationNotFound as exc:
        raise CLIError(str(exc).strip("'\"")) from None


def cmd_conversations_show(args: argparse.Namespace) -> int:
    store, cid = _store_and_id(args.id)
    for m in store.messages(cid):
        who = {"user": "you", "assistant": "biseo", "tool_call": "tool call", "tool_result": "tool result"}[m.role]
        extra = f" {m.tool_name}" if m.tool_name else ""
        status = f"  ({m.turn_status})" if m.turn_status != "done" else ""
        print(f"{who}{extra}: {m.content}{status}")
    return 0


def cmd_conversations_rename(args: argparse.Namespace) -> int:
    store, cid = _store_and_id(args.id)
    store.rename_conversation(cid, " ".join(args.title))
    return 0


def cmd_conversations_delete(args: argparse.Namespace) -> int:
    store, cid = _store_and_id(args.id)
    store.delete_conversation(cid)
    print(f"deleted {cid[:8]}")
    return 0


# doctor
def cmd_doctor(args: argparse.Namespace) -> int:
    from assistant.doctor import collect_report

    report = collect_report(load=not args.no_load)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        _print_report(report)
    return 0 if report.get("ok") else 1


def _print_report(report: dict[str, Any], indent: str = "") -> None:
    for key, value in report.items():
        if isinstance(value, dict):
            print(f"{indent}{key}:")
            _print_report(value, indent + "  ")
        else:
            print(f"{indent}{key}: {value}")


if __name__ == "__main__":
    sys.exit(main())
