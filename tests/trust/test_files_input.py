"""Odd files (binary, empty, huge, Latin-1, UTF-16) and path escapes, through the files tool in a chat turn and
through the documents indexer (`Assistant.documents`, `biseo docs add`): a clear result or reason, no crash, the
index keeps working, and nothing outside the allowed folders is read or touched."""

from __future__ import annotations

import codecs
import json
import os
import threading
from pathlib import Path

import pytest

from assistant.cli import main
from tests.trust.test_inputs_kit import harness, seed, tree  # noqa: F401 - the fixture

files_case = pytest.mark.trust("files")
paths_case = pytest.mark.trust("paths")

TEXT = "Café crème costs 4 euros; the pelican code is PELICAN-7731.\n"
ODD_FILES = {
    "binary.txt": bytes(range(256)) * 40,
    "png-named.md": b"\x89PNG\r\n\x1a\n" + bytes(200),
    "empty.txt": b"",
    "blank.md": b"   \n\n\t\n",
    "latin1.txt": TEXT.encode("latin-1"),
    "cp1252.txt": "“Quoted” – café\n".encode("cp1252"),
    "utf16-bom.txt": TEXT.encode("utf-16"),
    "utf16le-bom.txt": codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"),
    "utf16be-bom.txt": codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"),
    "utf16le-nobom.txt": TEXT.encode("utf-16-le"),
    "utf16be-nobom.txt": TEXT.encode("utf-16-be"),
    "utf8-bom.txt": codecs.BOM_UTF8 + TEXT.encode("utf-8"),
    "odd-utf16.txt": codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le")[:-1],  # an odd number of bytes
    "huge.txt": b"pelican " * 400_000,  # 3.2 MB: over the read limit and documents.max_file_mb below
}
DECODED = {"latin1.txt", "odd-utf16.txt", "utf16-bom.txt", "utf16le-bom.txt", "utf16be-bom.txt", "utf16le-nobom.txt",
           "utf16be-nobom.txt", "utf8-bom.txt"}


def _folder(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir(exist_ok=True)
    (folder / "good.txt").write_text("The guest wifi password is HERON-2210.\n", encoding="utf-8")
    (folder / name).write_bytes(ODD_FILES[name])
    return folder


@files_case
@pytest.mark.parametrize("name", list(ODD_FILES))
def test_odd_files_through_the_files_tool(harness, tmp_path, name):
    folder = _folder(tmp_path, name)
    h = harness(roots=[folder])
    cid = seed(h)
    before = h.snapshot()
    h.backend.decisions[:0] = [{"tool": "files", "arguments": {"action": "read", "path": name}},
                               {"tool": "files", "arguments": {"action": "search", "path": ".", "query": "pelican"}},
                               {"tool": "files", "arguments": {"action": "list", "path": "."}}]
    turn = h.turn(f"read {name} and find pelican", cid)
    assert turn.error is None and turn.final is not None
    read, search, listing = turn.results
    assert read.ok and name in read.output and len(read.output) <= h.app.settings.tools.max_output_chars + 100
    if name in DECODED:
        assert "PELICAN-7731" in read.output and "Café crème" in read.output
        assert name in search.output
    elif name in ("binary.txt", "png-named.md"):
        assert "binary file" in read.output and "cannot be shown as text" in read.output
    elif name == "empty.txt":
        assert "empty file" in read.output
    elif name == "huge.txt":
        assert "large text file" in read.output and "first 40 lines" in read.output
    assert listing.ok and name in listing.output
    h.assert_nothing_lost(before)
    h.assert_answers_next(cid)


@files_case
@pytest.mark.parametrize("name", list(ODD_FILES))
def test_odd_files_through_the_documents_indexer(harness, tmp_path, name):
    folder = _folder(tmp_path, name)
    h = harness(roots=[folder], documents={"watch": False, "max_file_mb": 2.0})
    docs = h.app.documents
    docs.add([folder])
    progress = docs.sync()
    status = {Path(f.path).name: f for f in docs.files()}
    odd = status[name]
    if name in DECODED or name == "cp1252.txt":
        assert odd.status == "indexed", odd.error
        if name in DECODED:
            assert [p.file for p in docs.search("pelican code")][:1] == [name]
    else:
        assert odd.status == "error" and odd.error
        reason = {"binary.txt": "binary", "png-named.md": "binary", "empty.txt": "empty", "blank.md": "no text",
                  "huge.txt": "too large"}[name]
        assert reason in odd.error and [e for e in progress.errors if e.path.endswith(name)]
    assert status["good.txt"].status == "indexed"
    assert [p.file for p in docs.search("guest wifi password")][:1] == ["good.txt"]  # the index still works
    # A second sync changes nothing (no re-reading, no crash), and the chat answers with the documents.
    again = docs.sync()
    assert again.indexed == 0 and again.unchanged == 2
    h.backend.answers.insert(0, "It is HERON-2210 [1].")
    turn = h.turn("What is the guest wifi password in my documents?")
    assert turn.final.citations and turn.final.citations[0]["file"] == "good.txt"


@files_case
def test_biseo_docs_add_reports_each_odd_file_and_indexes_the_rest(harness, tmp_path, capsys, monkeypatch):
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, data in ODD_FILES.items():
        (folder / name).write_bytes(data)
    harness()  # the fixture patches the fast index into every DocumentService, the CLI's included
    monkeypatch.setenv("BISEO_DOCUMENTS__MAX_FILE_MB", "2")
    code = main(["docs", "add", str(folder)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"{len(ODD_FILES)} files:" in out and "Traceback" not in err
    for name in ("binary.txt", "empty.txt", "huge.txt"):
        assert name in err
    assert "binary content" in err and "empty file" in err and "too large" in err
    assert main(["docs", "list", "--json"]) == 0  # and what was readable is in the index
    [source] = json.loads(capsys.readouterr().out)
    status = {Path(f["path"]).name: f["status"] for f in source["files"]}
    assert {n for n, st in status.items() if st == "indexed"} == DECODED | {"cp1252.txt"}


# ---------------------------------------------------------------- paths

ESCAPES = {
    "dot-dot": "../outside/secret.txt",
    "deep dot-dot": "notes/../../outside/secret.txt",
    "absolute": "{outside}/secret.txt",
    "home": "~/secret.txt",
    "url-encoded": "%2e%2e/outside/secret.txt",
    "url-encoded slash": "..%2foutside%2fsecret.txt",
    "double-encoded": "%252e%252e/outside/secret.txt",
    "NUL": "notes/todo.txt\x00../../outside/secret.txt",
    "backslashes": "..\\outside\\secret.txt",
    "link out": "escape/secret.txt",
    "file link out": "secret-link.txt",
}
ACTIONS = {
    "read": lambda p: {"action": "read", "path": p},
    "list": lambda p: {"action": "list", "path": p},
    "write": lambda p: {"action": "write", "path": p, "content": "overwritten"},
    "delete": lambda p: {"action": "delete", "path": p},
    "move out": lambda p: {"action": "move", "path": "notes/todo.txt", "destination": p},
    "move in": lambda p: {"action": "move", "path": p, "destination": "stolen.txt"},
}


@pytest.fixture
def roots(tmp_path, monkeypatch):
    """docs/ (allowed) with a link to the outside folder; outside/ with a secret; HOME points outside."""
    docs = tmp_path / "docs"
    (docs / "notes").mkdir(parents=True)
    (docs / "notes" / "todo.txt").write_text("buy milk\n", encoding="utf-8")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("TOP SECRET pelican\n", encoding="utf-8")
    (docs / "escape").symlink_to(outside, target_is_directory=True)
    (docs / "secret-link.txt").symlink_to(outside / "secret.txt")
    monkeypatch.setenv("HOME", str(outside))
    return docs, outside


@paths_case
@pytest.mark.parametrize("action", list(ACTIONS))
@pytest.mark.parametrize("escape", list(ESCAPES))
def test_path_escapes_through_the_files_tool_are_refused(harness, roots, escape, action):
    docs, outside = roots
    path = ESCAPES[escape].format(outside=outside)
    h = harness(roots=[docs])
    cid = seed(h)
    inside, outside_before = tree(docs), tree(outside)
    h.backend.decisions[:0] = [{"tool": "files", "arguments": ACTIONS[action](path)}]
    turn = h.turn("do it", cid)  # every approval is granted: the refusal must not depend on the user
    [result] = turn.results
    assert turn.final is not None
    if escape in ("link out", "file link out") and action in ("delete", "move in"):
        # Acting on the link itself (inside the folder) is allowed; its target is never touched.
        assert "TOP SECRET" not in result.output
    elif escape in ("backslashes", "double-encoded"):
        # On POSIX a backslash is part of a file name, and '%252e' decodes once to the literal name '%2e':
        # a file of that odd name inside the folder, never outside.
        assert "TOP SECRET" not in result.output
    else:
        assert not result.ok, result.output
        assert any(w in result.output for w in ("outside the allowed folders", "NUL", "URL-encoded",
                                                "does not exist", "not found")), result.output
        assert "TOP SECRET" not in result.output
        assert tree(docs) == inside  # refused: nothing inside changed either
    assert tree(outside) == outside_before
    assert (outside / "secret.txt").read_text(encoding="utf-8") == "TOP SECRET pelican\n"
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    h.assert_answers_next(cid)


def _swap_notes_for_a_link(docs: Path, outside: Path) -> None:
    for child in (docs / "notes").iterdir():
        child.unlink()
    (docs / "notes").rmdir()
    (docs / "notes").symlink_to(outside, target_is_directory=True)


@paths_case
@pytest.mark.parametrize("action", ["read", "write", "delete", "move"])
def test_a_folder_swapped_for_a_link_between_check_and_use_is_refused(harness, roots, monkeypatch, action):
    """The race: `notes` is a real folder when the path is checked, a link out when the file is opened."""
    docs, outside = roots
    (outside / "todo.txt").write_text("OUTSIDE todo\n", encoding="utf-8")
    before = tree(outside)
    h = harness(roots=[docs])
    import plugins.files as files_plugin

    real = getattr(files_plugin, f"_{action}")
    swapped = threading.Event()

    def swap_then_act(ctx, path, *rest):  # runs after the tool confined the path, before it opens anything
        swapped.set()
        _swap_notes_for_a_link(docs, outside)
        return real(ctx, path, *rest)

    monkeypatch.setattr(files_plugin, f"_{action}", swap_then_act)
    arguments = {"action": action, "path": "notes/todo.txt"}
    if action == "write":
        arguments["content"] = "pwned"
    if action == "move":
        arguments["destination"] = "moved.txt"
    h.backend.decisions[:0] = [{"tool": "files", "arguments": arguments}]
    turn = h.turn(f"{action} my todo")
    [result] = turn.results
    assert swapped.is_set() and not result.ok, result.output
    assert "outside the allowed folders" in result.output or "changed while" in result.output
    assert "OUTSIDE" not in result.output
    assert tree(outside) == before  # nothing outside was read into the answer or written
    h.assert_answers_next(turn.final.conversation_id)


@paths_case
def test_a_folder_swapped_for_a_link_is_refused_on_the_next_write(harness, roots):
    docs, outside = roots
    h = harness(roots=[docs])
    cid = seed(h)
    (docs / "notes" / "todo.txt").unlink()
    (docs / "notes").rmdir()
    (docs / "notes").symlink_to(outside, target_is_directory=True)
    h.backend.decisions[:0] = [{"tool": "files", "arguments": {"action": "write", "path": "notes/secret.txt",
                                                              "content": "pwned"}}]
    turn = h.turn("write it", cid)
    [result] = turn.results
    assert not result.ok and "outside the allowed folders" in result.output
    assert (outside / "secret.txt").read_text(encoding="utf-8") == "TOP SECRET pelican\n"
    h.assert_answers_next(cid)


@paths_case
@pytest.mark.parametrize("kind", ["file link", "folder link", "folder swapped after the scan"])
def test_document_folders_never_index_files_outside_through_links(harness, roots, kind, monkeypatch):
    docs, outside = roots
    (docs / "escape").unlink()
    (docs / "secret-link.txt").unlink()
    (docs / "mine.txt").write_text("My own note about herons.\n", encoding="utf-8")
    (outside / "plans.md").write_text("# Plans\nTOP SECRET pelican plans.\n", encoding="utf-8")
    if kind == "file link":
        (docs / "plans.md").symlink_to(outside / "plans.md")
    elif kind == "folder link":
        (docs / "more").symlink_to(outside, target_is_directory=True)
    else:
        (docs / "more").mkdir()
        (docs / "more" / "plans.md").write_text("# Plans\nharmless\n", encoding="utf-8")
    h = harness(roots=[docs])
    service = h.app.documents
    service.add([docs])
    if kind == "folder swapped after the scan":
        first = service.sync()
        assert first.indexed == 3 and [p.file for p in service.search("plans harmless")][:1] == ["plans.md"]
        import assistant.documents.indexer as indexer

        scan = indexer.scan_source

        def scan_then_swap(source):  # the race: listed as a real folder, a link out when the file is read
            found = scan(source)
            (docs / "more" / "plans.md").unlink()
            (docs / "more").rmdir()
            (docs / "more").symlink_to(outside, target_is_directory=True)
            return found

        monkeypatch.setattr(indexer, "scan_source", scan_then_swap)
    progress = service.sync()
    found = " ".join(p.text for p in service.search("TOP SECRET pelican plans"))
    assert "TOP SECRET" not in found
    refused = [e for e in progress.errors if "outside the added folder" in e.reason]
    if kind != "folder link":  # a linked folder is not entered at all
        assert refused, progress.errors
    assert [p.file for p in service.search("note about herons")][:1] == ["mine.txt"]
    assert (outside / "plans.md").read_text(encoding="utf-8") == "# Plans\nTOP SECRET pelican plans.\n"
    h.backend.answers.insert(0, "Not in your documents.")
    turn = h.turn("What are the secret pelican plans in my documents?")
    assert "TOP SECRET" not in str([c["messages"] for c in h.backend.calls])
    assert turn.final is not None


@paths_case
@pytest.mark.parametrize("raw", ["", "   ", "no/such/folder", "bad\x00path", "%2e%2e/%2e%2e"])
def test_adding_a_bad_document_path_is_a_clear_problem(harness, raw):
    h = harness()
    added, problems = h.app.documents.add([raw])
    assert not added and len(problems) == 1 and problems[0]
    assert h.app.documents.sources() == []
    h.assert_answers_next()
