"""The archive tools' contract and listing; the unsafe archives are in tests/trust/test_archives.py."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from plugins.archives import _default_destination, _safe_path, extract_archive, list_archive


def test_contracts(tool_contract, tool_runner):
    listing, extracting = tool_contract(list_archive), tool_contract(extract_archive)
    assert listing.file_access == "read" and not listing.side_effects and not listing.network
    assert extracting.file_access == "write" and extracting.side_effects
    assert listing.examples and extracting.examples  # one each: every example lengthens the router prompt
    assert tool_runner.needs_approval(extract_archive, path="a.zip") is True
    assert tool_runner.needs_approval(list_archive, path="a.zip") is False


@pytest.mark.parametrize("name, default", [
    ("photos.zip", "photos"), ("site.tar.gz", "site"), ("site.TGZ", "site"), ("x.tar.xz", "x"),
    ("x.tar.bz2", "x"), ("plain.tar", "plain"), ("odd.bin", "odd.bin-extracted"), (".zip", ".zip-extracted"),
])
def test_default_destination_is_named_after_the_archive(name, default):
    assert _default_destination(Path("/docs") / name) == Path("/docs") / default


@pytest.mark.parametrize("name, path", [
    ("a/b.txt", "a/b.txt"), ("./a//b.txt", "a/b.txt"), ("a\\b.txt", "a/b.txt"), ("dir/", "dir"),
    ("..", ""), ("a/../b", ""), ("/etc/passwd", ""), ("\\\\server\\share", ""), ("C:x", ""), ("", ""),
])
def test_member_paths(name, path):
    assert _safe_path(name)[0] == path


def test_listing(tool_runner, tmp_path):
    with zipfile.ZipFile(tmp_path / "photos.zip", "w") as zf:
        zf.writestr("2024/", b"")
        zf.writestr("2024/beach.jpg", b"x" * 2048)
        zf.writestr("notes.txt", "hello")
    outcome = tool_runner(list_archive, roots=[tmp_path], path="photos.zip")
    assert outcome.ok, outcome.output
    assert outcome.output.splitlines() == [
        "photos.zip (zip, 3 members, 2.0 KB uncompressed):", "  2024/", "  2024/beach.jpg  2.0 KB",
        "  notes.txt  5 bytes"]


def test_missing_and_not_an_archive(tool_runner, tmp_path):
    (tmp_path / "notes.txt").write_text("just text")
    outcome = tool_runner(list_archive, roots=[tmp_path], path="nope.zip")
    assert not outcome.ok and "does not exist" in outcome.output
    outcome = tool_runner(list_archive, roots=[tmp_path], path="notes.txt")
    assert not outcome.ok and "not a zip or tar archive" in outcome.output
    outcome = tool_runner(list_archive, roots=[tmp_path], path=".")
    assert not outcome.ok and "not a file" in outcome.output


def test_loads_as_a_plugin():
    from assistant.testing import load_plugin
    from plugins import archives

    info = load_plugin(archives)
    assert info.status == "loaded" and info.tools == ["list_archive", "extract_archive"]
