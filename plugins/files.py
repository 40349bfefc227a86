"""Built-in files tool: list, read, search, write, move and delete inside the user's allowed folders."""

from __future__ import annotations

import codecs
import mimetypes
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Annotated, Any, Callable, Literal

from pydantic import Field

from assistant.api import ToolContext, ToolError, hookimpl, tool

MAX_LIST_ENTRIES = 200
MAX_READ_BYTES = 1_000_000  # bigger files are summarised: size and first lines
HUGE_PREVIEW_BYTES = 16_000
HUGE_PREVIEW_LINES = 40
DEFAULT_MAX_CHARS = 4000
MAX_WRITE_CHARS = 1_000_000
SEARCH_MAX_FILES = 5000
SEARCH_MAX_RESULTS = 50
SEARCH_MAX_BYTES = 1_000_000
SKIP_DIRS = {"node_modules", "__pycache__", ".git", ".hg", ".svn", ".venv", "venv", ".tox", ".cache"}
CHANGING_ACTIONS = {"write", "move", "delete"}
MAX_ERROR_CHARS = 600

# Leading bytes of common binary formats, for a useful one-line summary instead of a dump.
MAGIC: list[tuple[bytes, str]] = [
    (b"\x89PNG\r\n\x1a\n", "PNG image"), (b"\xff\xd8\xff", "JPEG image"), (b"GIF8", "GIF image"),
    (b"%PDF", "PDF document"), (b"PK\x03\x04", "ZIP archive (or docx/xlsx/odt/jar)"),
    (b"\x1f\x8b", "gzip archive"), (b"7z\xbc\xaf\x27\x1c", "7-Zip archive"), (b"Rar!", "RAR archive"),
    (b"\x7fELF", "ELF executable"), (b"MZ", "Windows executable"), (b"SQLite format 3\x00", "SQLite database"),
    (b"ID3", "MP3 audio"), (b"OggS", "Ogg audio/video"), (b"fLaC", "FLAC audio"),
    (b"GGUF", "GGUF model file"), (b"\xca\xfe\xba\xbe", "Java class or Mach-O binary"),
    (b"\xcf\xfa\xed\xfe", "Mach-O executable"), (b"BM", "BMP image"),
]
BOMS = [(codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")]


# ---------------------------------------------------------------- helpers


def _roots(ctx: ToolContext) -> list[Path]:
    return [Path(r).expanduser().resolve() for r in ctx.roots]


def _show(ctx: ToolContext, path: Path) -> str:
    """A path as the model should write it back: relative to the first allowed folder when inside it."""
    roots = _roots(ctx)
    if roots and (path == roots[0] or path.is_relative_to(roots[0])):
        rel = path.relative_to(roots[0]).as_posix()
        return rel if rel != "." else "."
    return str(path)


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return (f"{n} byte" + "s" * (n != 1)) if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} bytes"


def _max_chars(ctx: ToolContext) -> int:
    tools = getattr(ctx.settings, "tools", None)
    return int(getattr(tools, "max_output_chars", DEFAULT_MAX_CHARS) or DEFAULT_MAX_CHARS)


def _target(ctx: ToolContext, raw: str) -> Path:
    """The confined path; for a symlink inside a root, the link itself (so delete/move act on the link)."""
    resolved = ctx.resolve_path(raw)
    lexical = Path(raw.strip())
    if lexical.name in ("", ".", "..") or resolved in _roots(ctx):
        return resolved  # a root's parent is outside the roots; the caller refuses roots anyway
    parent = ctx.resolve_path(str(lexical.parent))
    candidate = parent / lexical.name
    return candidate if candidate.is_symlink() else resolved


def _refuse_root(ctx: ToolContext, path: Path, action: str) -> None:
    if path in _roots(ctx):
        raise ToolError(f"cannot {action} {path}: it is one of the allowed folders itself")


def _guess_type(path: Path, head: bytes) -> str:
    if head[4:8] == b"ftyp":
        return "MP4/MOV video or audio"
    if head[:4] == b"RIFF":
        return {b"WAVE": "WAV audio", b"WEBP": "WebP image", b"AVI ": "AVI video"}.get(head[8:12], "RIFF file")
    for magic, kind in MAGIC:
        if head.startswith(magic):
            return kind
    mime, _ = mimetypes.guess_type(path.name)
    return mime or "unknown binary data"


def decode(data: bytes) -> tuple[str, str] | None:
    """(text, encoding) for text bytes, or None when they look binary."""
    for bom, encoding in BOMS:
        if data.startswith(bom):
            width = {"utf-16": 2, "utf-32": 4}.get(encoding, 1)
            try:  # a preview (or a damaged file) may end in the middle of a UTF-16/32 character
                return data[: len(data) - len(data) % width].decode(encoding), encoding.replace("-sig", " with BOM")
            except UnicodeDecodeError:
                return None
    if b"\x00" in data:
        # UTF-16 without a BOM: every other byte is NUL for Latin text.
        if len(data) >= 4 and data[1::2].count(0) > 0.4 * (len(data) // 2) and data[0::2].count(0) == 0:
            try:
                return data.decode("utf-16-le"), "utf-16-le"
            except UnicodeDecodeError:
                return None
        if len(data) >= 4 and data[0::2].count(0) > 0.4 * (len(data) // 2) and data[1::2].count(0) == 0:
            try:
                return data.decode("utf-16-be"), "utf-16-be"
            except UnicodeDecodeError:
                return None
        return None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(data) - 3:  # a preview cut a multi-byte character in half
            return data[: exc.start].decode("utf-8"), "utf-8"
    controls = sum(1 for b in data[:4096] if b < 9 or 13 < b < 32)
    if controls > 0.05 * min(len(data), 4096):
        return None
    for encoding in ("cp1252", "latin-1"):  # Windows-1252 first: it has the curly quotes people type
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return None


def _binary_summary(ctx: ToolContext, path: Path, size: int, head: bytes) -> str:
    hexed = " ".join(f"{b:02x}" for b in head[:32])
    return (f"{_show(ctx, path)}: binary file ({_guess_type(path, head)}), {_size(size)}. "
            f"It cannot be shown as text. First bytes: {hexed}")


# ---------------------------------------------------------------- actions


def _list(ctx: ToolContext, path: Path) -> str:
    if not path.exists():
        raise ToolError(f"{_show(ctx, path)} does not exist")
    if not path.is_dir():
        return f"{_show(ctx, path)} is a file ({_size(path.stat().st_size)}), not a folder"
    lines: list[str] = []
    with os.scandir(path) as it:
        entries = sorted(it, key=lambda e: (not _is_dir(e), e.name.lower()))
    budget = _max_chars(ctx) - 300  # stop before the output would be cut mid-line
    for entry in entries[:MAX_LIST_ENTRIES]:
        budget -= len(entry.name) + 16
        if budget < 0:
            break
        if entry.is_symlink():
            lines.append(f"{entry.name}  (link)")  # not followed: it may point outside the allowed folders
        elif entry.is_dir(follow_symlinks=False):
            lines.append(f"{entry.name}/")
        else:
            try:
                lines.append(f"{entry.name}  ({_size(entry.stat(follow_symlinks=False).st_size)})")
            except OSError:
                lines.append(f"{entry.name}  (unreadable)")
    if not entries:
        return f"{_show(ctx, path)} is an empty folder"
    more = len(entries) - len(lines)
    tail = f"\n... and {more} more entries" if more > 0 else ""
    shown = _show(ctx, path)
    where = f"{shown} ({path})" if shown == "." else shown
    header = f"{where}: {len(entries)} entries (folders end with /)"
    return header + "\n" + "\n".join(lines) + tail


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def _still_inside(ctx: ToolContext, path: Path) -> Path:
    """Confine `path` again right before using it: a folder on the way may have been swapped for a link out."""
    now = ctx.resolve_path(str(path))  # ToolError when it now leads outside the allowed folders
    if now != path:
        raise ToolError(f"{_show(ctx, path)} changed while it was being used (a folder became a link); "
                        "nothing was done")
    return now


def _opened_inside(ctx: ToolContext, path: Path, fd: int) -> None:
    """The file just opened is the one the checked path leads to now (not one a swapped-in link points at)."""
    now = _still_inside(ctx, path)
    if not os.path.samestat(os.fstat(fd), os.stat(now)):
        raise ToolError(f"{_show(ctx, path)} changed while it was being opened; not read")


def _read(ctx: ToolContext, path: Path) -> str:
    if not path.exists():
        raise ToolError(f"{_show(ctx, path)} does not exist")
    if path.is_dir():
        raise ToolError(f"{_show(ctx, path)} is a folder; use action 'list' to see what is in it")
    if not path.is_file():  # a FIFO or device would block or never end
        raise ToolError(f"{_show(ctx, path)} is not a regular file")
    size = path.stat().st_size
    if size == 0:
        return f"{_show(ctx, path)}: (empty file)"
    with path.open("rb") as fh:
        _opened_inside(ctx, path, fh.fileno())
        data = fh.read(HUGE_PREVIEW_BYTES if size > MAX_READ_BYTES else MAX_READ_BYTES)
    decoded = decode(data)
    if decoded is None:
        return _binary_summary(ctx, path, size, data)
    text, encoding = decoded
    text = text.replace("\r\n", "\n")
    if size > MAX_READ_BYTES:
        first = "\n".join(text.split("\n")[:HUGE_PREVIEW_LINES])
        return (f"{_show(ctx, path)}: large text file ({_size(size)}, {encoding}); "
                f"showing only its first {HUGE_PREVIEW_LINES} lines:\n{first}")
    limit = max(_max_chars(ctx) - 200, 200)  # leave room for the header and the note
    header = f"{_show(ctx, path)} ({_size(size)}, {encoding}):\n"
    if len(text) > limit:
        return (header + text[:limit] + f"\n[... showing the first {limit} of {len(text)} characters; "
                f"the rest was cut]")
    return header + text


def _search(ctx: ToolContext, path: Path, query: str | None) -> str:
    if not query or not query.strip():
        raise ToolError("action 'search' needs a query: the text to look for in file names and contents")
    if not path.is_dir():
        raise ToolError(f"{_show(ctx, path)} is not a folder to search in")
    needle = query.strip().lower()
    hits: list[str] = []
    scanned = 0
    for folder, dirs, names in os.walk(path):  # does not descend into linked folders
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        for name in sorted(names):
            if ctx.cancelled or scanned >= SEARCH_MAX_FILES or len(hits) >= SEARCH_MAX_RESULTS:
                return _search_report(ctx, path, query, hits, scanned, stopped=True)
            scanned += 1
            file = Path(folder) / name
            if file.is_symlink():
                try:
                    file = ctx.resolve_path(str(file))  # a link may point outside the allowed folders
                except ToolError:
                    continue
            if needle in name.lower():
                hits.append(f"{_show(ctx, Path(folder) / name)}  (name matches)")
                continue
            line = _matching_line(file, needle)
            if line:
                hits.append(f"{_show(ctx, Path(folder) / name)}: {line}")
    return _search_report(ctx, path, query, hits, scanned, stopped=False)


def _matching_line(file: Path, needle: str) -> str | None:
    """'line N: text' for the first line containing needle, skipping binary and huge files."""
    try:
        if not file.is_file() or file.stat().st_size > SEARCH_MAX_BYTES:
            return None
        decoded = decode(file.read_bytes())
    except OSError:
        return None
    if decoded is None:
        return None
    for number, line in enumerate(decoded[0].splitlines(), 1):
        if needle in line.lower():
            text = " ".join(line.split())
            return f"line {number}: {text[:160]}{'...' if len(text) > 160 else ''}"
    return None


def _search_report(ctx: ToolContext, path: Path, query: str, hits: list[str], scanned: int,
                   stopped: bool) -> str:
    where = _show(ctx, path)
    if not hits:
        return f"no files in {where} contain {query!r} in their name or text ({scanned} files searched)"
    note = " (search stopped early; narrow the folder or the query for more)" if stopped else ""
    files_word = "file" if len(hits) == 1 else "files"
    return f"{len(hits)} {files_word} in {where} match {query!r}{note}:\n" + "\n".join(hits)


def _write(ctx: ToolContext, path: Path, content: str | None) -> str:
    if content is None:
        raise ToolError("action 'write' needs content: the text to put in the file")
    if len(content) > MAX_WRITE_CHARS:
        raise ToolError(f"the content is too long to write ({len(content)} characters; "
                        f"the limit is {MAX_WRITE_CHARS})")
    if path.is_dir():
        raise ToolError(f"{_show(ctx, path)} is a folder; give a file name to write to")
    _refuse_root(ctx, path, "write to")
    existed = path.exists()
    mode = stat.S_IMODE(path.stat().st_mode) if existed else None
    path.parent.mkdir(parents=True, exist_ok=True)
    _still_inside(ctx, path.parent)
    # Write a temporary file next to the target, then swap it in: a crash never leaves half a file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        _still_inside(ctx, path.parent)  # checked again last thing: the folder may have been swapped meanwhile
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    verb = "replaced" if existed else "created"
    return f"{verb} {_show(ctx, path)} ({len(content)} characters)"


def _move(ctx: ToolContext, source: Path, destination: str | None) -> str:
    if not destination or not destination.strip():
        raise ToolError("action 'move' needs a destination: the new path or a folder to move into")
    if not source.exists() and not source.is_symlink():
        raise ToolError(f"{_show(ctx, source)} does not exist")
    _refuse_root(ctx, source, "move")
    target = ctx.resolve_path(destination)  # the destination is confined like any path
    if target.is_dir():
        target = target / source.name
    if target.exists() or target.is_symlink():
        raise ToolError(f"{_show(ctx, target)} already exists; delete it first or choose another name")
    _refuse_root(ctx, target, "replace")
    if source.is_dir() and not source.is_symlink() and target.is_relative_to(source):
        raise ToolError("cannot move a folder into itself")
    target.parent.mkdir(parents=True, exist_ok=True)
    _still_inside(ctx, source.parent)
    _still_inside(ctx, target.parent)
    shutil.move(str(source), str(target))
    return f"moved {_show(ctx, source)} to {_show(ctx, target)}"


def _delete(ctx: ToolContext, path: Path) -> str:
    if not path.exists() and not path.is_symlink():
        raise ToolError(f"{_show(ctx, path)} does not exist")
    _refuse_root(ctx, path, "delete")
    _still_inside(ctx, path.parent)
    if path.is_dir() and not path.is_symlink():
        if any(path.iterdir()):
            raise ToolError(f"{_show(ctx, path)} is a folder that is not empty; only files and empty "
                            "folders can be deleted")
        path.rmdir()
        return f"deleted the empty folder {_show(ctx, path)}"
    path.unlink()
    return f"deleted {_show(ctx, path)}"


# ---------------------------------------------------------------- the tool


@tool(files="write", side_effects=lambda args: args.get("action") in CHANGING_ACTIONS, examples=[
    ("what files are in my documents folder?", {"action": "list", "path": "."}),
    ("show me what's in notes/todo.txt", {"action": "read", "path": "notes/todo.txt"}),
    ("find my files about taxes", {"action": "search", "path": ".", "query": "tax"}),
    ("save this shopping list as shopping.txt: milk, eggs",
     {"action": "write", "path": "shopping.txt", "content": "milk\neggs\n"}),
])
def files(
    ctx: ToolContext,
    action: Annotated[Literal["list", "read", "search", "write", "move", "delete"], Field(
        description="list a folder, read a file, search names and text, write a text file, "
                    "move/rename, or delete a file or empty folder")],
    path: Annotated[str, Field(description="File or folder, relative to the user's documents "
                               "folder; '.' is that folder")] = ".",
    content: Annotated[str | None, Field(description="Text to write (action 'write')")] = None,
    destination: Annotated[str | None, Field(description="New path or folder (action 'move')")] = None,
    query: Annotated[str | None, Field(description="Text to find in names and contents "
                                       "(action 'search')")] = None,
) -> str:
    """List, read, search, write, move or delete files in the user's allowed folders (changes ask the user first)."""
    try:
        return _files(ctx, action, path, content, destination, query)
    except ToolError as exc:
        raise ToolError(_bounded(str(exc))) from None


def _bounded(message: str, limit: int = MAX_ERROR_CHARS) -> str:
    """An error quoting a huge path or query stays short enough for the model to read it."""
    if len(message) <= limit:
        return message
    keep = limit // 2
    return f"{message[:keep]} [... {len(message) - 2 * keep} characters left out ...] {message[-keep:]}"


def _files(ctx: ToolContext, action: str, path: str, content: str | None, destination: str | None,
           query: str | None) -> str:
    target = _target(ctx, path) if action in ("move", "delete") else ctx.resolve_path(path)
    try:
        if action == "list":
            return _list(ctx, target)
        if action == "read":
            return _read(ctx, target)
        if action == "search":
            return _search(ctx, target, query)
        if action == "write":
            return _write(ctx, target, content)
        if action == "move":
            return _move(ctx, target, destination)
        if action == "delete":
            return _delete(ctx, target)
    except PermissionError:
        raise ToolError(f"permission denied for {_show(ctx, target)}") from None
    except FileNotFoundError as exc:
        raise ToolError(f"not found: {exc.filename or _show(ctx, target)}") from None
    except OSError as exc:
        raise ToolError(f"{action} failed for {_show(ctx, target)}: {exc.strerror or exc}") from None
    raise ToolError(f"unknown action {action!r}: use list, read, search, write, move or delete")


@hookimpl
def register_tools(register: Callable[[Any], None]) -> None:
    register(files)
