"""Built-in archive tools: list and extract zip and tar (.gz/.bz2/.xz) archives inside the allowed folders.

Extraction is all or nothing: every member is checked first (no `..`, absolute paths, drive letters,
links that leave the folder, device files, bombs), files are written to a hidden folder inside the
destination, and only a fully extracted, fully checked archive is moved into place. A refused or
failed archive leaves nothing behind, and nothing the user already had is overwritten.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Annotated, Any, Callable, Iterator

from pydantic import Field

from assistant.api import ToolContext, ToolError, hookimpl, tool

MAX_MEMBERS = 10_000
MAX_TOTAL_BYTES = 2 * 1024 ** 3  # uncompressed
# Beyond this size, an archive that expands more than MAX_RATIO times is treated as a bomb (text and
# code compress about 3-10 times; long runs of one byte are how bombs are made).
BOMB_MIN_BYTES = 10 * 1024 ** 2
MAX_RATIO = 100
MAX_LISTED = 200
MAX_PROBLEMS_SHOWN = 5
MAX_LINK_TARGET = 1024
CHUNK = 1024 * 1024
SUFFIXES = (".tar.gz", ".tar.bz2", ".tar.xz", ".tgz", ".tbz2", ".tbz", ".txz", ".tar", ".zip")
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass
class Member:
    """One archive entry as the checks see it."""

    name: str  # as written in the archive
    kind: str  # "file", "folder", "symlink", "hardlink" or what it is when refused ("device file", ...)
    size: int = 0
    link: str = ""  # symlink or hardlink target, as written in the archive
    path: str = ""  # the safe relative path ("a/b.txt") once checked
    problem: str = ""
    ref: Any = None  # the zipfile.ZipInfo / tarfile.TarInfo


# ---------------------------------------------------------------- reading the member list


class Archive:
    """A zip or tar archive opened for reading; iterate `members()` and `open(member)`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.compressed_size = path.stat().st_size
        # A tar whose last member is a zip also looks like a zip: the name says which to try first.
        tar_first = path.name.lower().endswith(tuple(s for s in SUFFIXES if s != ".zip"))
        self._zip: zipfile.ZipFile | None = None
        self._tar: tarfile.TarFile | None = None
        try:
            if tar_first and tarfile.is_tarfile(path):
                self.kind, self._tar = "tar", tarfile.open(path, mode="r:*")
            elif zipfile.is_zipfile(path):
                self.kind, self._zip = "zip", zipfile.ZipFile(path)
            elif tarfile.is_tarfile(path):
                self.kind, self._tar = "tar", tarfile.open(path, mode="r:*")
            else:
                raise ToolError(f"{path.name} is not a zip or tar archive (.zip, .tar, .tar.gz, .tar.bz2, .tar.xz)")
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, ValueError) as exc:
            raise ToolError(f"{path.name} is damaged or not a supported archive ({exc})") from None

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        (self._zip or self._tar).close()  # type: ignore[union-attr]

    def members(self) -> Iterator[Member]:
        try:
            yield from (self._zip_members() if self._zip else self._tar_members())
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, ValueError) as exc:
            raise ToolError(f"{self.path.name} is damaged or truncated ({exc})") from None

    def _zip_members(self) -> Iterator[Member]:
        assert self._zip is not None
        for info in self._zip.infolist():
            mode = info.external_attr >> 16
            if info.flag_bits & 0x1:
                member = Member(info.filename, "file", info.file_size, ref=info,
                                problem="is encrypted (password-protected archives are not supported)")
            elif stat.S_ISLNK(mode):  # zipfile would write these as files; they are links
                target = self._zip.read(info)[:MAX_LINK_TARGET + 1] if info.file_size <= MAX_LINK_TARGET else b""
                member = Member(info.filename, "symlink", 0, target.decode("utf-8", "replace"), ref=info)
            elif info.is_dir():
                member = Member(info.filename, "folder", ref=info)
            elif stat.S_IFMT(mode) in (0, stat.S_IFREG):
                member = Member(info.filename, "file", info.file_size, ref=info)
            else:
                member = Member(info.filename, _special_kind(mode), ref=info)
            if member.kind == "file" and info.file_size > BOMB_MIN_BYTES and \
                    info.file_size > MAX_RATIO * max(info.compress_size, 1):
                member.problem = (f"expands {info.file_size // max(info.compress_size, 1):,} times "
                                  f"(to {_size(info.file_size)}): a zip bomb")
            yield member

    def _tar_members(self) -> Iterator[Member]:
        assert self._tar is not None
        total = 0
        # tarfile reads headers lazily; stopping early means a bomb is never decompressed past the limit.
        for info in self._tar:
            if info.isdir():
                member = Member(info.name, "folder", ref=info)
            elif info.issym():
                member = Member(info.name, "symlink", link=info.linkname, ref=info)
            elif info.islnk():
                member = Member(info.name, "hardlink", link=info.linkname, ref=info)
            elif info.isreg():
                member = Member(info.name, "file", info.size, ref=info)
            else:
                member = Member(info.name, _special_kind(info.mode, info), ref=info)
            total += member.size
            if total > BOMB_MIN_BYTES and total > MAX_RATIO * max(self.compressed_size, 1):
                member.problem = (f"brings the archive to {_size(total)} from {_size(self.compressed_size)} "
                                  f"({total // max(self.compressed_size, 1):,} times): a decompression bomb")
            yield member

    def open(self, member: Member) -> IO[bytes]:
        if self._zip is not None:
            return self._zip.open(member.ref)
        assert self._tar is not None
        stream = self._tar.extractfile(member.ref)
        if stream is None:
            raise ToolError(f"cannot read {member.name!r} from {self.path.name}")
        return stream


def _special_kind(mode: int, info: tarfile.TarInfo | None = None) -> str:
    if (info is not None and info.ischr()) or stat.S_ISCHR(mode):
        return "device file (character)"
    if (info is not None and info.isblk()) or stat.S_ISBLK(mode):
        return "device file (block)"
    if (info is not None and info.isfifo()) or stat.S_ISFIFO(mode):
        return "named pipe"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "special file"


# ---------------------------------------------------------------- the checks


def _safe_path(name: str) -> tuple[str, str]:
    """(relative path with '/' separators, problem) for a member name; the problem is '' when safe."""
    if "\x00" in name:
        return "", "has a NUL byte in its name"
    if name.startswith(("/", "\\")):
        return "", "is an absolute path"
    if _DRIVE.match(name):
        return "", "names a drive (like C:)"
    # Backslashes separate folders on Windows, so '..\\x' escapes there: judge both separators.
    parts = [p for p in re.split(r"[\\/]+", name) if p not in ("", ".")]
    if ".." in parts:
        return "", "uses '..' to leave the folder"
    if not parts:
        return "", "has an empty name"
    return "/".join(parts), ""


def check_members(members: list[Member]) -> list[Member]:
    """Set each member's safe path and problem (if any); the archive is safe when no member has one."""
    if len(members) > MAX_MEMBERS:
        members[MAX_MEMBERS].problem = f"is past the limit of {MAX_MEMBERS:,} members"
    seen: dict[str, Member] = {}
    links: set[str] = set()
    implied: set[str] = set()  # every folder some member's path goes through
    for m in members:
        if m.problem:
            continue
        m.path, m.problem = _safe_path(m.name)
        if m.kind == "folder" and not m.path and m.problem == "has an empty name":
            m.problem = ""  # "./", which many tar files start with: the destination itself
            continue
        if m.problem:
            continue
        if m.kind not in ("file", "folder", "symlink", "hardlink"):
            m.problem = f"is a {m.kind}"
        elif any(prefix in links for prefix in _prefixes(m.path)):
            m.problem = "would be written through a link in the archive"
        elif m.path in seen and not (m.kind == "folder" and seen[m.path].kind == "folder"):
            m.problem = "appears twice in the archive"
        elif m.kind == "symlink" and m.path in implied:
            m.problem = "is a link where the archive also puts files"
        elif m.kind == "symlink":
            m.problem = _symlink_problem(m)
        elif m.kind == "hardlink":
            target, problem = _safe_path(m.link)
            source = seen.get(target)
            if problem or source is None or source.kind != "file":
                m.problem = f"is a hard link to {m.link!r}, which is not a file earlier in the archive"
            else:
                m.size = source.size
        if not m.problem and any(seen[p].kind != "folder" for p in _prefixes(m.path) if p in seen):
            m.problem = "is inside something the archive made a file"
        seen.setdefault(m.path, m)
        implied.update(_prefixes(m.path))
        if m.kind == "symlink":
            links.add(m.path)
    total = sum(m.size for m in members if m.kind in ("file", "hardlink"))
    if total > MAX_TOTAL_BYTES and members:
        members[-1].problem = members[-1].problem or (
            f"brings the total to {_size(total)}, over the limit of {_size(MAX_TOTAL_BYTES)}")
    return members


def _prefixes(path: str) -> list[str]:
    """The folders a path goes through: 'a/b/c' -> ['a', 'a/b']."""
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def _symlink_problem(m: Member) -> str:
    target = m.link
    if not target or len(target) > MAX_LINK_TARGET or "\x00" in target:
        return "is a link with an unreadable target"
    if target.startswith(("/", "\\")) or _DRIVE.match(target):
        return f"is a link to {target!r}, outside the folder"
    depth = len(m.path.split("/")) - 1  # folders between the destination and the link
    for part in re.split(r"[\\/]+", target):
        if part == "..":
            depth -= 1
            if depth < 0:
                return f"is a link to {target!r}, outside the folder"
        elif part not in ("", "."):
            depth += 1
    return ""  # links through other links are checked again on disk, before anything is moved


def _problems(members: list[Member]) -> list[Member]:
    return [m for m in members if m.problem]


def _refusal(archive: Path, bad: list[Member]) -> str:
    shown = "; ".join(f"{m.name!r} {m.problem}" for m in bad[:MAX_PROBLEMS_SHOWN])
    more = f" (and {len(bad) - MAX_PROBLEMS_SHOWN} more)" if len(bad) > MAX_PROBLEMS_SHOWN else ""
    return (f"refused to extract {archive.name}: {shown}{more}. Nothing was extracted; an archive with such "
            "members could write outside the folder or fill the disk")


# ---------------------------------------------------------------- helpers


def _size(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{int(n)} bytes" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} bytes"


def _show(ctx: ToolContext, path: Path) -> str:
    """A path relative to the first allowed folder when it is inside it."""
    if ctx.roots:
        root = Path(ctx.roots[0]).expanduser().resolve()
        if path == root or path.is_relative_to(root):
            return path.relative_to(root).as_posix() or "."
    return str(path)


def _archive_file(ctx: ToolContext, raw: str) -> Path:
    path = ctx.resolve_path(raw)
    if not path.exists():
        raise ToolError(f"{raw!r} does not exist")
    if not path.is_file():
        raise ToolError(f"{raw!r} is not a file")
    return path


def _default_destination(archive: Path) -> Path:
    name = archive.name
    for suffix in SUFFIXES:
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return archive.with_name(name[: -len(suffix)])
    return archive.with_name(name + "-extracted")


def _read_members(archive: Archive) -> list[Member]:
    members: list[Member] = []
    for member in archive.members():
        members.append(member)
        # Stop reading at the first bomb or past the member limit: reading on would mean decompressing it.
        if member.problem or len(members) > MAX_MEMBERS:
            break
    return check_members(members)


# ---------------------------------------------------------------- list


@tool(files="read", examples=[
    ("what's inside photos.zip?", {"path": "photos.zip"}),
])
def list_archive(
    ctx: ToolContext,
    path: Annotated[str, Field(description="The .zip, .tar, .tar.gz, .tar.bz2 or .tar.xz file, relative to the "
                                           "user's documents folder")],
) -> str:
    """List what a zip or tar archive contains (names, sizes) without extracting it."""
    file = _archive_file(ctx, path)
    with Archive(file) as archive:
        members = _read_members(archive)
        kind = archive.kind
    bad = _problems(members)
    total = sum(m.size for m in members if m.kind in ("file", "hardlink"))
    count = f"{len(members)} member{'s' * (len(members) != 1)}"
    lines = [f"{_show(ctx, file)} ({kind}, {count}, {_size(total)} uncompressed):"]
    for m in members[:MAX_LISTED]:
        shown = m.path or m.name
        if m.kind == "folder":
            line = f"  {shown}/"
        elif m.kind in ("symlink", "hardlink"):
            line = f"  {shown} -> {m.link} ({'link' if m.kind == 'symlink' else 'hard link'})"
        else:
            line = f"  {shown}  {_size(m.size)}" if m.kind == "file" else f"  {shown} ({m.kind})"
        lines.append(line + (f"  [unsafe: {m.problem}]" if m.problem else ""))
    if len(members) > MAX_LISTED:
        lines.append(f"  ... and {len(members) - MAX_LISTED} more")
    if bad:
        lines.append(f"{len(bad)} member(s) are unsafe: extracting this archive will be refused.")
    return "\n".join(lines)


# ---------------------------------------------------------------- extract


@tool(files="write", side_effects=True, timeout_s=300.0, examples=[
    ("extract backups/site.tar.gz into restored", {"path": "backups/site.tar.gz", "destination": "restored"}),
])
def extract_archive(
    ctx: ToolContext,
    path: Annotated[str, Field(description="The .zip, .tar, .tar.gz, .tar.bz2 or .tar.xz file to extract")],
    destination: Annotated[str | None, Field(description="Folder to extract into (default: a folder named "
                                                         "after the archive, next to it)")] = None,
) -> str:
    """Extract a zip or tar archive into a folder; unsafe archives are refused and nothing is overwritten."""
    file = _archive_file(ctx, path)
    dest = ctx.resolve_path(destination) if destination and destination.strip() else \
        ctx.resolve_path(str(_default_destination(file)))
    if dest.exists() and not dest.is_dir():
        raise ToolError(f"{_show(ctx, dest)} exists and is not a folder")
    with Archive(file) as archive:
        members = _read_members(archive)
        bad = _problems(members)
        if bad:
            raise ToolError(_refusal(file, bad))
        _refuse_clashes(ctx, file, members, dest)
        created = not dest.exists()
        dest.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".biseo-extract-", dir=dest))
        moved: list[Path] = []
        try:
            written = _extract_all(ctx, archive, members, staging)
            _check_links(file, members, staging)
            if ctx.cancelled:
                raise ToolError("extraction was cancelled; nothing was extracted")
            _move_into_place(staging, dest, moved)
        except BaseException:
            for path in reversed(moved):  # undo a move cut short, so the folder is as it was
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
            shutil.rmtree(staging, ignore_errors=True)
            if created:
                shutil.rmtree(dest, ignore_errors=True)  # it held nothing but the staging folder
            raise
        shutil.rmtree(staging, ignore_errors=True)
    files = sum(m.kind in ("file", "hardlink") for m in members)
    folders = sum(m.kind == "folder" and bool(m.path) for m in members)
    links = sum(m.kind == "symlink" for m in members)
    extra = f", {links} link{'s' * (links != 1)}" if links else ""
    return (f"Extracted {files} file{'s' * (files != 1)}, {folders} folder{'s' * (folders != 1)}{extra} "
            f"({_size(written)}) from {_show(ctx, file)} into {_show(ctx, dest)}/")


def _refuse_clashes(ctx: ToolContext, file: Path, members: list[Member], dest: Path) -> None:
    """Refuse before writing anything if a member would replace, or be written through, what is there."""
    root = dest.resolve()
    clashes, through = [], []
    for m in members:
        if not m.path:
            continue
        target = dest / m.path
        if not target.parent.resolve().is_relative_to(root):
            through.append(m.path)  # a link already in the destination would carry the file elsewhere
        elif os.path.lexists(target) and not (m.kind == "folder" and target.is_dir() and not target.is_symlink()):
            clashes.append(m.path)
    if through:
        raise ToolError(f"not extracting {file.name}: {', '.join(through[:5])} would be written through a link "
                        f"already in {_show(ctx, dest)}. Nothing was changed; choose another destination")
    if clashes:
        raise ToolError(f"not extracting {file.name}: it would overwrite {', '.join(clashes[:5])} in "
                        f"{_show(ctx, dest)}. Nothing was changed; choose another destination")


def _extract_all(ctx: ToolContext, archive: Archive, members: list[Member], staging: Path) -> int:
    """Write every member under `staging` (links last); returns the bytes written."""
    written = 0
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    binary = getattr(os, "O_BINARY", 0)
    for m in members:
        if ctx.cancelled:
            raise ToolError("extraction was cancelled; nothing was extracted")
        target = staging / m.path if m.path else staging
        try:
            if m.kind == "folder":
                target.mkdir(parents=True, exist_ok=True)
                continue
            if m.kind == "symlink":
                continue  # after every file, so no file is ever written through one
            target.parent.mkdir(parents=True, exist_ok=True)
            mode = 0o755 if _executable(m) else 0o644
            # O_EXCL and O_NOFOLLOW: never reuse or follow anything already at the path.
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | nofollow | binary, mode)
            with os.fdopen(fd, "wb") as out:
                if m.kind == "hardlink":  # a copy of the file it names, which is already in staging
                    source = staging / _safe_path(m.link)[0]
                    with open(source, "rb") as src:
                        written += _copy(src, out, m, written)
                else:
                    with archive.open(m) as src:
                        written += _copy(src, out, m, written)
        except ToolError:
            raise
        except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError, RuntimeError) as exc:
            raise ToolError(f"could not extract {m.name!r} ({exc}); nothing was extracted") from None
    for m in members:
        if m.kind == "symlink":
            target = staging / m.path
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(m.link.replace("\\", "/"), target)
            except OSError as exc:
                raise ToolError(f"could not create the link {m.name!r} ({exc}); nothing was extracted") from None
    return written


def _executable(m: Member) -> bool:
    if isinstance(m.ref, tarfile.TarInfo):
        return bool(m.ref.mode & 0o100)
    if isinstance(m.ref, zipfile.ZipInfo):
        return bool((m.ref.external_attr >> 16) & 0o100)
    return False


def _copy(src: IO[bytes], out: IO[bytes], m: Member, so_far: int) -> int:
    """Copy one member, holding it to its declared size and the total to MAX_TOTAL_BYTES."""
    count = 0
    while chunk := src.read(CHUNK):
        count += len(chunk)
        if count > max(m.size, 0) or so_far + count > MAX_TOTAL_BYTES:
            raise ToolError(f"{m.name!r} holds more data than the archive declares; nothing was extracted")
        out.write(chunk)
    return count


def _check_links(file: Path, members: list[Member], staging: Path) -> None:
    """Every link, resolved on disk (through other links too), must stay inside the extracted folder."""
    root = Path(os.path.realpath(staging))
    for m in members:
        if m.kind == "symlink":
            resolved = Path(os.path.realpath(staging / m.path))
            if resolved != root and not resolved.is_relative_to(root):
                m.problem = f"is a link that leads outside the folder (through {m.link!r} and other links)"
                raise ToolError(_refusal(file, [m]))


def _move_into_place(staging: Path, dest: Path, moved: list[Path]) -> None:
    """Move the extracted entries from the staging folder into the destination, merging folders."""
    for entry in sorted(staging.iterdir()):
        _move(entry, dest / entry.name, moved)


def _move(source: Path, target: Path, moved: list[Path]) -> None:
    if source.is_dir() and not source.is_symlink() and target.is_dir() and not target.is_symlink():
        for child in sorted(source.iterdir()):
            _move(child, target / child.name, moved)
        return
    if os.path.lexists(target):  # checked before extracting; something appeared since
        raise ToolError(f"{target.name} appeared in the destination while extracting; stopped without "
                        "overwriting it, and nothing was extracted")
    os.rename(source, target)
    moved.append(target)


@hookimpl
def register_tools(register: Callable[[Any], None]) -> None:
    register(list_archive)
    register(extract_archive)
