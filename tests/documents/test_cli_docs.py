"""`biseo docs add | list | remove | reindex` on the real index, and a kill -9 in the middle of indexing."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from assistant.cli import main
from docfixtures import make_bad_files, make_folder


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def data_dir() -> Path:
    from assistant.paths import resolve_paths

    return resolve_paths().data_dir


def test_add_list_remove_reindex(capsys, tmp_path):
    folder = tmp_path / "docs"
    make_folder(folder)
    make_bad_files(folder / "bad", huge_mb=60)  # over the default 50 MB limit
    code, out, err = run(capsys, "docs", "add", str(folder))
    assert code == 0, err
    assert "13 files: 8 indexed, 0 unchanged, 5 failed" in out
    assert "not indexed:" in err and "locked.pdf: encrypted PDF" in err and "huge.txt: too large" in err
    assert "photo.txt: binary content" in err and "empty.md: empty file" in err
    assert "warnings:" in err and "resume-latin1.txt: not UTF-8" in err
    assert "[1/13]" in err  # progress, one line per file when stderr is not a terminal

    code, out, _ = run(capsys, "docs", "list", "--json")
    [source] = json.loads(out)
    assert source["path"] == str(folder.resolve()) and source["kind"] == "folder"
    status = {Path(f["path"]).name: f for f in source["files"]}
    assert status["lease.pdf"]["status"] == "indexed" and status["lease.pdf"]["chunks"] == 3
    assert status["locked.pdf"]["status"] == "error" and "password" in status["locked.pdf"]["error"]
    code, out, _ = run(capsys, "docs", "list")
    assert "(folder: 8 indexed, 5 failed)" in out and "error" in out

    code, out, err = run(capsys, "docs", "add", str(folder), "--json")
    result = json.loads(out)
    assert code == 0 and result["unchanged"] == 13 and result["indexed"] == 0 and len(result["errors"]) == 5

    code, out, _ = run(capsys, "docs", "reindex", "--json")
    result = json.loads(out)
    assert code == 0 and result["index_chunks"] > 10 and result["unchanged"] == 13

    code, out, err = run(capsys, "docs", "remove", str(tmp_path / "elsewhere"))
    assert code == 1 and "is not an added file or folder" in err
    code, out, _ = run(capsys, "docs", "remove", str(folder))
    assert code == 0 and "removed" in out
    code, out, _ = run(capsys, "docs", "list", "--json")
    assert json.loads(out) == []


def test_add_missing_path_fails_but_adds_the_rest(capsys, tmp_path):
    note = tmp_path / "n.txt"
    note.write_text("The spare key is under the blue pot.", encoding="utf-8")
    code, out, err = run(capsys, "docs", "add", str(tmp_path / "missing.pdf"), str(note))
    assert code == 1 and "missing.pdf: no such file or folder" in err
    assert "1 of 1 files: 1 indexed" in out
    code, out, err = run(capsys, "docs", "add", str(tmp_path / "missing.pdf"))
    assert code == 1 and out == ""


def _docs_subprocess(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "assistant.cli", "docs", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ))


def test_kill_9_during_indexing_leaves_everything_usable(tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(60):
        paragraphs = [f"Note {i} paragraph {p}: the storage crate number {i * 100 + p} holds item {i}-{p}. "
                      + " ".join(f"filler{i}x{w}" for w in range(60)) for p in range(6)]
        (folder / f"note{i:02}.md").write_text(f"# Note {i}\n\n" + "\n\n".join(paragraphs), encoding="utf-8")
    proc = _docs_subprocess("add", str(folder))
    done = 0
    deadline = time.time() + 120
    while time.time() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        if line.startswith("[") and "/60]" in line:
            done = int(line[1:line.index("/")])
            if done >= 8:  # several files committed, more to come
                break
    assert 8 <= done < 60, "indexing finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert proc.returncode == -signal.SIGKILL

    db = data_dir() / "documents" / "documents.sqlite3"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        indexed_before = conn.execute("SELECT COUNT(*) FROM files WHERE status = 'indexed'").fetchone()[0]
    assert indexed_before >= 1

    again = subprocess.run([sys.executable, "-m", "assistant.cli", "docs", "add", str(folder), "--json"],
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    result = json.loads(again.stdout)
    assert result["indexed"] + result["unchanged"] == 60 and not result["errors"]
    assert result["unchanged"] >= indexed_before - 1  # finished files were not read again

    from assistant.documents.service import DocumentService
    from assistant.paths import resolve_paths
    from assistant.settings import DocumentSettings

    service = DocumentService(data_dir(), DocumentSettings(), models_paths=resolve_paths())
    try:
        assert service.index().count() == service.store.chunk_count() == service.store.indexed_chunk_count()
        for i in (0, 59):  # a file finished before the kill and one indexed after
            top = service.search(f"which crate number holds item {i}-3?")[0]
            assert top.file == f"note{i:02}.md" and f"{i * 100 + 3}" in top.text
    finally:
        service.close()
