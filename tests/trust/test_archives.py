"""Archives with `../` members, absolute paths, links out, device files and bombs: refused, nothing written.

Every archive is a real zip or tar built here. For a refused archive the whole test area (the allowed
folder and a sibling "outside" folder) must be byte-for-byte what it was, with no destination folder
created; safe archives must extract exactly.
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
import warnings
import zipfile
from pathlib import Path

import pytest

from plugins import archives
from plugins.archives import extract_archive, list_archive

pytestmark = pytest.mark.trust("archives")

# An entry: (name, data) for a file, or (name, kind, extra) with kind "dir", "symlink", "hardlink",
# "chr", "blk", "fifo" and extra the link target.
Entry = tuple


def build_zip(path: Path, entries: list[Entry]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Duplicate name": one case wants exactly that
        for entry in entries:
            if len(entry) == 2:
                zf.writestr(entry[0], entry[1])
                continue
            name, kind, extra = entry
            info = zipfile.ZipInfo(name)
            if kind == "dir":
                info.external_attr = (stat.S_IFDIR | 0o755) << 16
                zf.writestr(info if name.endswith("/") else zipfile.ZipInfo(name + "/"), b"")
            elif kind == "symlink":
                info.external_attr = (stat.S_IFLNK | 0o777) << 16  # how Info-ZIP stores a link
                zf.writestr(info, extra)
            elif kind in ("chr", "fifo", "blk"):
                info.external_attr = ({"chr": stat.S_IFCHR, "blk": stat.S_IFBLK, "fifo": stat.S_IFIFO}[kind]
                                      | 0o644) << 16
                zf.writestr(info, b"")
            else:
                raise ValueError(kind)
    return path


def build_tar(path: Path, entries: list[Entry], mode: str = "w:gz") -> Path:
    types = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE,
             "chr": tarfile.CHRTYPE, "blk": tarfile.BLKTYPE, "fifo": tarfile.FIFOTYPE}
    with tarfile.open(path, mode) as tf:
        for entry in entries:
            info = tarfile.TarInfo(entry[0])
            if len(entry) == 2:
                data = entry[1].encode() if isinstance(entry[1], str) else entry[1]
                info.size = len(data)
                info.mode = 0o644
                tf.addfile(info, io.BytesIO(data))
                continue
            info.type = types[entry[1]]
            info.linkname = entry[2] or ""
            info.mode = 0o755 if entry[1] == "dir" else 0o644
            tf.addfile(info)
    return path


BUILDERS = {
    "zip": lambda path, entries: build_zip(path.with_suffix(".zip"), entries),
    "tar.gz": lambda path, entries: build_tar(path.with_suffix(".tar.gz"), entries, "w:gz"),
    "tar.bz2": lambda path, entries: build_tar(path.with_suffix(".tar.bz2"), entries, "w:bz2"),
    "tar.xz": lambda path, entries: build_tar(path.with_suffix(".tar.xz"), entries, "w:xz"),
    "tar": lambda path, entries: build_tar(path.with_suffix(".tar"), entries, "w"),
}


def snapshot(top: Path) -> dict[str, object]:
    """Every path under `top` with its content (files), target (links) or a folder marker."""
    found: dict[str, object] = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            key = path.relative_to(top).as_posix()
            if path.is_symlink():
                found[key] = ("link", os.readlink(path))
            elif path.is_dir():
                found[key] = "dir"
            else:
                found[key] = path.read_bytes()
    return found


@pytest.fixture
def area(tmp_path):
    """(allowed folder with a file the user had, a sibling folder outside the allowed one)."""
    root, outside = tmp_path / "docs", tmp_path / "outside"
    (root / "notes").mkdir(parents=True)
    (root / "notes" / "todo.txt").write_text("buy milk\n")
    outside.mkdir()
    (outside / "secret.txt").write_text("keep me\n")
    return root, outside


def _refused(tool_runner, area, tmp_path, archive: Path, trust_figures, **arguments) -> str:
    root, _ = area
    before = snapshot(tmp_path)
    outcome = tool_runner(extract_archive, roots=[root], path=archive.name, **arguments)
    after = snapshot(tmp_path)
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    trust_figures.add("archives", refused=int(not outcome.ok), paths_changed=len(changed))
    assert not outcome.ok, outcome.output
    assert outcome.output.startswith("error: ") and "Traceback" not in outcome.output
    assert not changed, changed  # nothing written, nothing changed, inside the folder or outside
    return outcome.output


# ---------------------------------------------------------------- escapes


ESCAPES = {
    "dot-dot": [("fine.txt", "ok"), ("../outside/evil.txt", "pwned")],
    "nested dot-dot": [("a/b/../../../outside/evil.txt", "pwned")],
    "absolute": [("fine.txt", "ok"), ("/tmp/biseo-abs-evil.txt", "pwned")],
    "drive letter": [("C:/Windows/evil.txt", "pwned")],
    "drive relative": [("C:evil.txt", "pwned")],
    "backslash dot-dot": [("..\\outside\\evil.txt", "pwned")],
    "symlink to /etc": [("etc", "symlink", "/etc"), ("fine.txt", "ok")],
    "symlink up and out": [("sub/up", "symlink", "../../outside")],
    "file through an in-archive link": [("here", "symlink", "."), ("here/evil.txt", "pwned")],
    "link chain out": [("a", "symlink", "."), ("b", "symlink", "a/.."), ("fine.txt", "ok")],
    "duplicate member": [("same.txt", "one"), ("same.txt", "two")],
}
TAR_ONLY = {
    "hardlink to /etc/passwd": [("passwd", "hardlink", "/etc/passwd")],
    "hardlink out": [("secret", "hardlink", "../outside/secret.txt")],
    "character device": [("dev/null", "chr", None)],
    "block device": [("dev/sda", "blk", None)],
    "named pipe": [("pipe", "fifo", None)],
}
ZIP_SPECIAL = {"device in a zip": [("dev/null", "chr", None)], "pipe in a zip": [("pipe", "fifo", None)]}


@pytest.mark.parametrize("fmt", ["zip", "tar.gz", "tar"])
@pytest.mark.parametrize("case", list(ESCAPES))
def test_escaping_archives_are_refused_and_write_nothing(tool_runner, area, tmp_path, trust_figures, fmt, case):
    root, _ = area
    archive = BUILDERS[fmt](root / "bad", ESCAPES[case])
    output = _refused(tool_runner, area, tmp_path, archive, trust_figures)
    assert "refused to extract" in output and "Nothing was extracted" in output, output
    assert not Path("/tmp/biseo-abs-evil.txt").exists()


@pytest.mark.parametrize("fmt", ["tar.gz", "tar.bz2", "tar.xz"])
@pytest.mark.parametrize("case", list(TAR_ONLY))
def test_links_out_and_device_files_in_tar_are_refused(tool_runner, area, tmp_path, trust_figures, fmt, case):
    root, _ = area
    archive = BUILDERS[fmt](root / "bad", TAR_ONLY[case] + [("fine.txt", "ok")])
    output = _refused(tool_runner, area, tmp_path, archive, trust_figures)
    assert "refused to extract" in output


@pytest.mark.parametrize("case", list(ZIP_SPECIAL))
def test_special_files_in_zip_are_refused(tool_runner, area, tmp_path, trust_figures, case):
    root, _ = area
    archive = build_zip(root / "bad.zip", ZIP_SPECIAL[case])
    assert "refused to extract" in _refused(tool_runner, area, tmp_path, archive, trust_figures)


def test_refusal_names_the_member_and_the_reason(tool_runner, area):
    root, _ = area
    build_zip(root / "bad.zip", [("ok.txt", "x"), ("../outside/evil.txt", "pwned"), ("/abs.txt", "x")])
    outcome = tool_runner(extract_archive, roots=[root], path="bad.zip")
    assert "'../outside/evil.txt' uses '..' to leave the folder" in outcome.output
    assert "'/abs.txt' is an absolute path" in outcome.output


# ---------------------------------------------------------------- bombs and limits


@pytest.mark.parametrize("fmt", ["zip", "tar.gz", "tar.bz2"])
def test_bomb_like_member_is_refused(tool_runner, area, tmp_path, trust_figures, fmt):
    root, _ = area
    zeros = bytes(20 * 1024 * 1024)  # 20 MB of zeros shrink to a few KB: the shape of a bomb
    archive = BUILDERS[fmt](root / "bomb", [("readme.txt", "hi"), ("zeros.bin", zeros)])
    assert archive.stat().st_size < 200_000
    output = _refused(tool_runner, area, tmp_path, archive, trust_figures)
    assert "bomb" in output, output


def test_total_size_limit(tool_runner, area, tmp_path, trust_figures, monkeypatch):
    root, _ = area
    monkeypatch.setattr(archives, "MAX_TOTAL_BYTES", 1024 * 1024)
    archive = build_tar(root / "big.tar", [(f"part{i}.bin", os.urandom(300_000)) for i in range(5)], "w")
    output = _refused(tool_runner, area, tmp_path, archive, trust_figures)
    assert "over the limit of 1.0 MB" in output, output


def test_member_count_limit(tool_runner, area, tmp_path, trust_figures, monkeypatch):
    root, _ = area
    monkeypatch.setattr(archives, "MAX_MEMBERS", 50)
    archive = build_zip(root / "many.zip", [(f"f{i}.txt", "x") for i in range(80)])
    output = _refused(tool_runner, area, tmp_path, archive, trust_figures)
    assert "limit of 50 members" in output, output


# ---------------------------------------------------------------- damaged archives and bad destinations


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04" + os.urandom(200), os.urandom(4096), b"plain text\n" * 20])
def test_damaged_or_fake_archives_are_refused(tool_runner, area, tmp_path, trust_figures, content):
    root, _ = area
    (root / "broken.zip").write_bytes(content)
    output = _refused(tool_runner, area, tmp_path, root / "broken.zip", trust_figures)
    assert "not a zip or tar archive" in output or "damaged" in output, output


@pytest.mark.parametrize("fmt", ["zip", "tar.gz"])
def test_truncated_archive_is_refused(tool_runner, area, tmp_path, trust_figures, fmt):
    root, _ = area
    archive = BUILDERS[fmt](root / "cut", [(f"f{i}.bin", os.urandom(20_000)) for i in range(5)])
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    _refused(tool_runner, area, tmp_path, archive, trust_figures)


@pytest.mark.parametrize("destination", ["../outside", "/etc", "~", "notes/../../outside"])
def test_destination_outside_the_allowed_folder_is_refused(tool_runner, area, tmp_path, trust_figures, destination):
    root, _ = area
    archive = build_zip(root / "good.zip", [("a.txt", "a")])
    output = _refused(tool_runner, area, tmp_path, archive, trust_figures, destination=destination)
    assert "outside the allowed folders" in output, output


def test_existing_files_are_never_overwritten(tool_runner, area, tmp_path, trust_figures):
    root, _ = area
    archive = build_zip(root / "notes-backup.zip", [("todo.txt", "OLD LIST"), ("new.txt", "new")])
    output = _refused(tool_runner, area, tmp_path, archive, trust_figures, destination="notes")
    assert "would overwrite todo.txt" in output
    assert (root / "notes" / "todo.txt").read_text() == "buy milk\n"


def test_a_link_already_in_the_destination_is_not_followed(tool_runner, area, tmp_path, trust_figures):
    root, outside = area
    (root / "notes" / "shared").symlink_to(outside)  # the user's own link, pointing out of the folder
    archive = build_zip(root / "a.zip", [("shared/evil.txt", "pwned")])
    output = _refused(tool_runner, area, tmp_path, archive, trust_figures, destination="notes")
    assert "written through a link" in output


def test_denied_extraction_writes_nothing(tool_runner, area, tmp_path):
    root, _ = area
    build_zip(root / "good.zip", [("a.txt", "a")])
    before = snapshot(tmp_path)
    outcome = tool_runner(extract_archive, roots=[root], approve=False, path="good.zip")
    assert outcome.denied and snapshot(tmp_path) == before


# ---------------------------------------------------------------- safe archives extract correctly


SAFE = [
    ("readme.txt", "hello\n"),
    ("docs", "dir", None),
    ("docs/guide.md", "# Guide\n"),
    ("docs/deep/er/file.txt", "deep"),
    ("./dot/prefixed.txt", "dot"),
    ("café/naïve 한글.txt", "unicode ✓"),
    ("empty.txt", ""),
    ("bin/data.bin", bytes(range(256)) * 10),
]
SAFE_LINKS = [("docs/latest", "symlink", "guide.md"), ("top", "symlink", "docs/deep/er"),
              ("up", "symlink", "docs/.."), ("copy.txt", "hardlink", "readme.txt")]


def _check_safe(root: Path, dest: Path, with_links: bool) -> None:
    assert (dest / "readme.txt").read_text() == "hello\n"
    assert (dest / "docs" / "guide.md").read_text() == "# Guide\n"
    assert (dest / "docs" / "deep" / "er" / "file.txt").read_text() == "deep"
    assert (dest / "dot" / "prefixed.txt").read_text() == "dot"
    assert (dest / "café" / "naïve 한글.txt").read_text(encoding="utf-8") == "unicode ✓"
    assert (dest / "empty.txt").read_bytes() == b""
    assert (dest / "bin" / "data.bin").read_bytes() == bytes(range(256)) * 10
    if with_links:
        assert os.readlink(dest / "docs" / "latest") == "guide.md"
        assert (dest / "docs" / "latest").read_text() == "# Guide\n"
        assert (dest / "top" / "file.txt").read_text() == "deep"
        assert (dest / "copy.txt").read_text() == "hello\n" and not (dest / "copy.txt").is_symlink()
    assert not [p for p in dest.iterdir() if p.name.startswith(".biseo-extract")]  # no staging left
    assert (root / "notes" / "todo.txt").read_text() == "buy milk\n"


@pytest.mark.parametrize("fmt", ["zip", "tar.gz", "tar.bz2", "tar.xz", "tar"])
def test_safe_archive_extracts_correctly(tool_runner, area, tmp_path, fmt):
    root, outside = area
    with_links = fmt != "zip"  # zip has no hard links; its symlinks are tested below
    entries = SAFE + (SAFE_LINKS if with_links else [])
    archive = BUILDERS[fmt](root / "bundle", entries)
    outside_before = snapshot(outside)
    outcome = tool_runner(extract_archive, roots=[root], path=archive.name)
    assert outcome.ok, outcome.output
    assert outcome.output.startswith(f"Extracted {7 + with_links} files") and "into bundle/" in outcome.output
    _check_safe(root, root / "bundle", with_links)
    assert snapshot(outside) == outside_before


def test_zip_symlink_inside_is_kept(tool_runner, area):
    root, _ = area
    build_zip(root / "links.zip", [("docs/guide.md", "# Guide\n"), ("docs/latest", "symlink", "guide.md")])
    outcome = tool_runner(extract_archive, roots=[root], path="links.zip", destination="out")
    assert outcome.ok, outcome.output
    assert os.readlink(root / "out" / "docs" / "latest") == "guide.md"


def test_extract_merges_into_an_existing_folder(tool_runner, area):
    root, _ = area
    build_tar(root / "more-notes.tar.gz", [("ideas.txt", "fly"), ("old", "dir", None), ("old/2023.txt", "x")])
    outcome = tool_runner(extract_archive, roots=[root], path="more-notes.tar.gz", destination="notes")
    assert outcome.ok, outcome.output
    assert sorted(p.name for p in (root / "notes").iterdir()) == ["ideas.txt", "old", "todo.txt"]
    assert (root / "notes" / "todo.txt").read_text() == "buy milk\n"


def test_the_tool_still_works_after_refusals(tool_runner, area, tmp_path, trust_figures):
    root, _ = area
    bad = build_zip(root / "bad.zip", [("../outside/evil.txt", "pwned")])
    _refused(tool_runner, area, tmp_path, bad, trust_figures)
    build_zip(root / "good.zip", [("a.txt", "a")])
    assert tool_runner(extract_archive, roots=[root], path="good.zip").ok
    assert (root / "good" / "a.txt").read_text() == "a"


# ---------------------------------------------------------------- listing


def test_listing_flags_unsafe_members_and_writes_nothing(tool_runner, area, tmp_path):
    root, _ = area
    build_tar(root / "mixed.tar.gz", [("ok.txt", "fine"), ("../evil.txt", "x"), ("etc", "symlink", "/etc")])
    before = snapshot(tmp_path)
    outcome = tool_runner(list_archive, roots=[root], path="mixed.tar.gz")
    assert outcome.ok, outcome.output
    assert "ok.txt  4 bytes" in outcome.output
    assert "../evil.txt  1 bytes  [unsafe: uses '..' to leave the folder]" in outcome.output
    assert "etc -> /etc (link)  [unsafe: is a link to '/etc', outside the folder]" in outcome.output
    assert "extracting this archive will be refused" in outcome.output
    assert snapshot(tmp_path) == before


def test_a_member_that_fails_midway_leaves_nothing(tool_runner, area, tmp_path, trust_figures):
    """The first member is written (to the hidden staging folder) before the second turns out corrupt."""
    root, _ = area
    archive = root / "corrupt.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("first.txt", "A" * 5000)
        zf.writestr("second.txt", "B" * 5000)
    data = bytearray(archive.read_bytes())
    data[data.index(b"B" * 100) + 50] = ord("C")  # the directory stays valid; second.txt's CRC does not
    archive.write_bytes(bytes(data))
    output = _refused(tool_runner, area, tmp_path, archive, trust_figures)
    assert "second.txt" in output and "nothing was extracted" in output, output
