"""The files tool: every action, approval for changes, path escapes refused, odd files handled."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from assistant.testing import ToolRunner
from plugins.files import files

needs_symlinks = pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt",
                                    reason="symlinks need a POSIX file system")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    (docs / "notes").mkdir(parents=True)
    (docs / "notes" / "todo.txt").write_text("buy milk\ncall mom about taxes\n", encoding="utf-8")
    (docs / "readme.md").write_text("# Hello\n", encoding="utf-8")
    return docs


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    other = tmp_path / "outside"
    other.mkdir()
    (other / "secret.txt").write_text("TOP SECRET taxes", encoding="utf-8")
    return other


@pytest.fixture
def run(tool_runner, root):
    """Call the files tool with `root` as the only allowed folder."""
    return lambda **arguments: tool_runner(files, roots=[root], **arguments)


def test_contract(tool_contract):
    spec = tool_contract(files)
    assert spec.file_access == "write"
    assert spec.schema["properties"]["action"]["enum"] == ["list", "read", "search", "write", "move", "delete"]


@pytest.mark.parametrize("arguments, expected", [
    ({"action": "list"}, False),
    ({"action": "read", "path": "readme.md"}, False),
    ({"action": "search", "query": "x"}, False),
    ({"action": "write", "path": "a.txt", "content": "x"}, True),
    ({"action": "move", "path": "a.txt", "destination": "b.txt"}, True),
    ({"action": "delete", "path": "a.txt"}, True),
])
def test_changes_need_approval(tool_runner, arguments, expected):
    assert tool_runner.needs_approval(files, arguments) is expected


def test_denied_write_does_nothing(tool_runner, root):
    outcome = tool_runner(files, roots=[root], approve=False, action="write", path="new.txt", content="x")
    assert outcome.denied and not outcome.ok
    assert not (root / "new.txt").exists()


def test_no_allowed_folders(tool_runner):
    outcome = tool_runner(files, roots=[], action="list")
    assert not outcome.ok and "no folders are allowed" in outcome.output


def test_unknown_action_is_a_validation_error(run):
    outcome = run(action="format")
    assert not outcome.ok and "invalid arguments" in outcome.output


# ---------------------------------------------------------------- list


def test_list(run):
    outcome = run(action="list")
    assert outcome.ok, outcome.output
    lines = outcome.output.splitlines()
    assert "notes/" in lines[1]  # folders first
    assert any(line.startswith("readme.md") and "8 bytes" in line for line in lines)


def test_list_is_bounded(run, root):
    many = root / "many"
    many.mkdir()
    for i in range(250):
        (many / f"f{i:03d}.txt").write_text("x")
    outcome = run(action="list", path="many")
    assert outcome.ok
    assert "250 entries" in outcome.output and "more entries" in outcome.output
    assert "truncated" not in outcome.output  # the tool stops itself before the output limit
    roomy = ToolRunner(max_output_chars=100_000)
    settings = SimpleNamespace(tools=SimpleNamespace(max_output_chars=100_000))
    outcome = roomy(files, roots=[root], settings=settings, action="list", path="many")
    assert "f199.txt" in outcome.output and "and 50 more entries" in outcome.output


def test_list_a_file_and_a_missing_path(run):
    assert "is a file" in run(action="list", path="readme.md").output
    outcome = run(action="list", path="nope")
    assert not outcome.ok and "does not exist" in outcome.output


# ---------------------------------------------------------------- read


def test_read_text(run):
    outcome = run(action="read", path="notes/todo.txt")
    assert outcome.ok and "call mom about taxes" in outcome.output and "utf-8" in outcome.output


def test_read_empty(run, root):
    (root / "empty.txt").write_bytes(b"")
    outcome = run(action="read", path="empty.txt")
    assert outcome.ok and "(empty file)" in outcome.output


def test_read_binary_is_summarised(run, root):
    (root / "pic.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    outcome = run(action="read", path="pic.png")
    assert outcome.ok
    assert "binary file (PNG image)" in outcome.output and "89 50 4e 47" in outcome.output
    assert "\x00" not in outcome.output and len(outcome.output) < 400


def test_read_unknown_binary(run, root):
    (root / "blob.bin").write_bytes(bytes([0, 1, 2, 3, 200, 201, 7, 8]) * 100)
    outcome = run(action="read", path="blob.bin")
    assert outcome.ok and "binary file" in outcome.output


def test_read_huge_file_is_summarised(run, root):
    (root / "big.log").write_text("".join(f"line {i}\n" for i in range(300_000)), encoding="utf-8")
    outcome = run(action="read", path="big.log")
    assert outcome.ok
    assert "large text file" in outcome.output and "MB" in outcome.output
    assert "line 39" in outcome.output and "line 40\n" not in outcome.output


def test_read_long_text_is_cut_with_a_note(run, root):
    (root / "long.txt").write_text("word " * 5000, encoding="utf-8")
    outcome = run(action="read", path="long.txt")
    assert outcome.ok and "showing the first" in outcome.output and "25000 characters" in outcome.output


def test_read_latin1(run, root):
    (root / "latin.txt").write_bytes("café crème, ½ price".encode("latin-1"))
    outcome = run(action="read", path="latin.txt")
    assert outcome.ok and "café crème, ½ price" in outcome.output


def test_read_cp1252_quotes(run, root):
    (root / "win.txt").write_bytes("“quoted” – dash".encode("cp1252"))
    outcome = run(action="read", path="win.txt")
    assert outcome.ok and "“quoted” – dash" in outcome.output


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-8-sig"])
def test_read_utf16_and_bom(run, root, encoding):
    (root / "wide.txt").write_bytes("안녕하세요, hello wörld".encode(encoding))
    outcome = run(action="read", path="wide.txt")
    assert outcome.ok and "안녕하세요, hello wörld" in outcome.output, outcome.output
    assert "\ufeff" not in outcome.output


def test_read_a_folder(run):
    outcome = run(action="read", path="notes")
    assert not outcome.ok and "use action 'list'" in outcome.output


# ---------------------------------------------------------------- search


def test_search_names_and_contents(run, root):
    (root / "tax-2024.pdf").write_bytes(b"%PDF-1.4 \x00\x01 taxes")
    outcome = run(action="search", query="TAX")
    assert outcome.ok, outcome.output
    assert "tax-2024.pdf  (name matches)" in outcome.output
    assert "notes/todo.txt: line 2: call mom about taxes" in outcome.output


def test_search_skips_binary_contents_and_reports_nothing_found(run, root):
    (root / "data.bin").write_bytes(b"\x00\x01needle\x00")
    outcome = run(action="search", query="needle")
    assert outcome.ok and outcome.output.startswith("no files")


def test_search_needs_a_query(run):
    outcome = run(action="search")
    assert not outcome.ok and "needs a query" in outcome.output


@needs_symlinks
def test_search_does_not_follow_links_out(run, root, outside):
    (root / "escape.txt").symlink_to(outside / "secret.txt")
    (root / "escape_dir").symlink_to(outside, target_is_directory=True)
    outcome = run(action="search", query="secret")
    assert "TOP SECRET" not in outcome.output
    assert "escape_dir" not in outcome.output


# ---------------------------------------------------------------- write


def test_write_creates_parents_and_is_atomic(run, root):
    outcome = run(action="write", path="new/deep/list.txt", content="milk\neggs\n")
    assert outcome.ok and outcome.output.startswith("created new/deep/list.txt")
    assert (root / "new/deep/list.txt").read_text(encoding="utf-8") == "milk\neggs\n"
    assert not [p for p in (root / "new/deep").iterdir() if p.name.endswith(".tmp")]


def test_write_replaces(run, root):
    os.chmod(root / "readme.md", 0o640)
    outcome = run(action="write", path="readme.md", content="new text")
    assert outcome.ok and outcome.output.startswith("replaced")
    assert (root / "readme.md").read_text(encoding="utf-8") == "new text"
    if os.name != "nt":
        assert (root / "readme.md").stat().st_mode & 0o777 == 0o640


def test_write_needs_content_and_a_file_name(run):
    assert "needs content" in run(action="write", path="x.txt").output
    assert "is a folder" in run(action="write", path="notes", content="x").output


# ---------------------------------------------------------------- move


def test_move_rename_and_into_folder(run, root):
    assert run(action="move", path="readme.md", destination="README.txt").ok
    assert (root / "README.txt").exists() and not (root / "readme.md").exists()
    outcome = run(action="move", path="README.txt", destination="notes")
    assert outcome.ok and outcome.output == "moved README.txt to notes/README.txt"
    assert (root / "notes" / "README.txt").exists()


def test_move_refuses_to_overwrite(run, root):
    (root / "other.md").write_text("keep me")
    outcome = run(action="move", path="readme.md", destination="other.md")
    assert not outcome.ok and "already exists" in outcome.output
    assert (root / "other.md").read_text() == "keep me"


def test_move_needs_a_destination_and_a_source(run):
    assert "needs a destination" in run(action="move", path="readme.md").output
    assert "does not exist" in run(action="move", path="nope.txt", destination="x.txt").output


def test_move_out_of_the_root_is_refused(run, root, outside):
    for destination in ("../outside/stolen.md", str(outside / "stolen.md"), "%2e%2e%2foutside%2fstolen.md"):
        outcome = run(action="move", path="readme.md", destination=destination)
        assert not outcome.ok, destination
    assert (root / "readme.md").exists() and not (outside / "stolen.md").exists()


def test_move_the_root_or_into_itself_is_refused(run, root):
    assert "allowed folders itself" in run(action="move", path=".", destination="elsewhere").output
    assert "into itself" in run(action="move", path="notes", destination="notes/inner").output


# ---------------------------------------------------------------- delete


def test_delete_file_and_empty_folder(run, root):
    assert run(action="delete", path="readme.md").ok
    assert not (root / "readme.md").exists()
    (root / "empty").mkdir()
    outcome = run(action="delete", path="empty")
    assert outcome.ok and "empty folder" in outcome.output and not (root / "empty").exists()


def test_delete_never_removes_a_full_folder_or_the_root(run, root):
    outcome = run(action="delete", path="notes")
    assert not outcome.ok and "not empty" in outcome.output
    assert (root / "notes" / "todo.txt").exists()
    for path in (".", str(root), "notes/.."):
        outcome = run(action="delete", path=path)
        assert not outcome.ok and "allowed folders itself" in outcome.output
    assert root.exists()


@needs_symlinks
def test_delete_a_link_removes_the_link_not_its_target(run, root):
    (root / "shortcut.txt").symlink_to(root / "notes" / "todo.txt")
    assert run(action="delete", path="shortcut.txt").ok
    assert not (root / "shortcut.txt").is_symlink()
    assert (root / "notes" / "todo.txt").exists()


# ---------------------------------------------------------------- escapes


ESCAPES = [
    "../outside/secret.txt",
    "notes/../../outside/secret.txt",
    "%2e%2e%2foutside%2fsecret.txt",
    "..%2Foutside%2Fsecret.txt",
    "~/secret.txt",
    "notes/todo.txt\x00.png",
]


@pytest.mark.parametrize("action", ["read", "list", "search", "write", "delete", "move"])
@pytest.mark.parametrize("path", ESCAPES)
def test_path_escapes_are_refused(run, outside, monkeypatch, action, path):
    monkeypatch.setenv("HOME", str(outside))  # so '~' points somewhere real that is not allowed
    outcome = run(action=action, path=path, content="pwned", query="secret", destination="moved.txt")
    assert not outcome.ok, outcome.output
    assert "TOP SECRET" not in outcome.output
    assert (outside / "secret.txt").read_text() == "TOP SECRET taxes"


@pytest.mark.parametrize("action", ["read", "write", "delete", "move", "list"])
def test_absolute_path_outside_is_refused(run, outside, action):
    outcome = run(action=action, path=str(outside / "secret.txt"), content="pwned", destination="m.txt")
    assert not outcome.ok and "outside the allowed folders" in outcome.output
    assert (outside / "secret.txt").read_text() == "TOP SECRET taxes"


def test_absolute_path_inside_is_fine(run, root):
    outcome = run(action="read", path=str(root / "readme.md"))
    assert outcome.ok and "# Hello" in outcome.output


@needs_symlinks
@pytest.mark.parametrize("action", ["read", "write", "delete", "list"])
def test_symlink_pointing_out_is_refused(run, root, outside, action):
    (root / "link.txt").symlink_to(outside / "secret.txt")
    (root / "linkdir").symlink_to(outside, target_is_directory=True)
    for path in ("link.txt", "linkdir/secret.txt", "linkdir"):
        outcome = run(action=action, path=path, content="pwned")
        assert not outcome.ok and "outside the allowed folders" in outcome.output, (path, outcome.output)
    assert (outside / "secret.txt").read_text() == "TOP SECRET taxes"


@needs_symlinks
def test_directory_swapped_for_a_symlink(run, root, outside):
    (root / "work").mkdir()
    (root / "work" / "secret.txt").write_text("harmless")
    assert run(action="read", path="work/secret.txt").ok
    shutil.rmtree(root / "work")
    (root / "work").symlink_to(outside, target_is_directory=True)
    for action in ("read", "write", "delete"):
        outcome = run(action=action, path="work/secret.txt", content="pwned")
        assert not outcome.ok and "outside the allowed folders" in outcome.output
    assert (outside / "secret.txt").read_text() == "TOP SECRET taxes"


@needs_symlinks
def test_move_into_a_symlinked_folder_pointing_out(run, root, outside):
    (root / "exit").symlink_to(outside, target_is_directory=True)
    outcome = run(action="move", path="readme.md", destination="exit/readme.md")
    assert not outcome.ok and "outside the allowed folders" in outcome.output
    assert (root / "readme.md").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_read_a_fifo_does_not_hang(run, root):
    os.mkfifo(root / "pipe")
    outcome = run(action="read", path="pipe")
    assert not outcome.ok and "not a regular file" in outcome.output
