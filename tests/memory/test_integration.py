"""Memory on the real hybrid index (Chroma + BM25, MiniLM embeddings): recall, edit, forget, repair, locks, kill -9."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from assistant.cli import main
from assistant.memory.service import INDEX_DIR, MemoryService, MemoryUnavailable
from assistant.paths import resolve_paths
from assistant.settings import Settings

FACTS = ["My sister's birthday is May 3", "I prefer short answers", "I live in Busan", "My dog is called Bori",
         "I am allergic to peanuts", "I work as a nurse"]


@pytest.fixture
def paths():
    return resolve_paths().ensure()


@pytest.fixture
def service(paths):
    s = MemoryService(paths.data_dir, Settings(), paths=paths)
    yield s
    s.close()


def index_ids(service: MemoryService) -> set[str]:
    """Every id the real index holds (searched broadly, not through the service's SQLite filter)."""
    hits = service.index.search("sister birthday busan dog peanuts nurse answers June May", k=100)
    return {h.id for h in hits}


def test_recall_edit_and_forget_on_the_real_index(service):
    for fact in FACTS:
        service.add(fact)
    block = service.recall_context("When is my sister's birthday?")
    assert block is not None and "My sister's birthday is May 3" in block.text
    assert "I work as a nurse" not in block.text  # unrelated memories stay out
    assert service.recall_context("Who wrote the play Hamlet?") is None
    assert service.search("Can I eat a peanut butter cookie?", k=1)[0].memory.text == "I am allergic to peanuts"

    birthday = service.search("sister's birthday", k=1)[0].memory
    service.edit(birthday.id[:8], "My sister's birthday is June 3")
    block = service.recall_context("When is my sister's birthday?")
    assert "June 3" in block.text and "May 3" not in block.text

    service.forget(birthday.id[:8])
    assert birthday.id not in index_ids(service)
    assert service.index.count() == len(FACTS) - 1
    block = service.recall_context("When is my sister's birthday?")
    assert block is None or "sister" not in block.text


def test_a_changed_fact_replaces_the_old_one_in_the_index(service):
    old = service.add("I live in Busan").memory
    new = service.add("I moved to Seoul").memory
    assert old.id not in index_ids(service) and new.id in index_ids(service)
    assert service.search("Where do I live?", k=1)[0].memory.text == "I moved to Seoul"


def test_a_damaged_index_is_rebuilt_from_the_database(paths):
    first = MemoryService(paths.data_dir, Settings(), paths=paths)
    for fact in FACTS:
        first.add(fact)
    first.close()
    keywords = paths.data_dir / INDEX_DIR / "keywords.sqlite3"
    keywords.write_bytes(b"this is not a database" * 100)
    for extra in ("-wal", "-shm"):
        Path(str(keywords) + extra).unlink(missing_ok=True)
    again = MemoryService(paths.data_dir, Settings(), paths=paths)
    try:
        assert again.search("what's my dog's name?", k=1)[0].memory.text == "My dog is called Bori"
        assert again.index.count() == len(FACTS)
    finally:
        again.close()


def test_a_deleted_index_folder_is_rebuilt(paths):
    import shutil

    first = MemoryService(paths.data_dir, Settings(), paths=paths)
    for fact in FACTS:
        first.add(fact)
    first.close()
    shutil.rmtree(paths.data_dir / INDEX_DIR)
    again = MemoryService(paths.data_dir, Settings(), paths=paths)
    try:
        assert again.search("where do I live?", k=1)[0].memory.text == "I live in Busan"
    finally:
        again.close()


HOLDER = textwrap.dedent("""
    import sys, time
    from assistant.memory.service import MemoryService
    from assistant.paths import resolve_paths
    from assistant.settings import Settings

    paths = resolve_paths().ensure()
    service = MemoryService(paths.data_dir, Settings(), paths=paths)
    service.add("I live in Busan")  # opens the index: this process now owns its folder
    print("ready", flush=True)
    sys.stdin.readline()  # hold it until the test is done
    service.close()
""")


def child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}


def test_a_second_process_gets_a_clear_message_and_loses_nothing(paths, capsys):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, env=child_env())
    try:
        assert holder.stdout.readline().strip() == "ready"
        other = MemoryService(paths.data_dir, Settings(), paths=paths)
        with pytest.raises(MemoryUnavailable, match="in use by another Biseo process"):
            other.search("Busan")
        saved = other.add("I am allergic to peanuts")  # still saved, queued for whoever owns the index
        assert saved.action == "added"
        other.close()

        assert main(["memory", "search", "Busan"]) == 1
        err = capsys.readouterr().err
        assert err.startswith("biseo: memory search is unavailable") and "another Biseo process" in err
        assert len(err.strip().splitlines()) == 1
        assert main(["memory", "list", "--json"]) == 0  # listing needs only the database
        assert len(json.loads(capsys.readouterr().out)) == 2
    finally:
        holder.communicate("done\n", timeout=60)
    after = MemoryService(paths.data_dir, Settings(), paths=paths)
    try:
        assert after.search("peanut allergy", k=1)[0].memory.text == "I am allergic to peanuts"
        assert after.index.count() == 2
    finally:
        after.close()


CHILD = textwrap.dedent("""
    import sys
    from assistant.memory.service import MemoryService
    from assistant.paths import resolve_paths
    from assistant.settings import Settings

    paths = resolve_paths().ensure()
    service = MemoryService(paths.data_dir, Settings(), paths=paths)
    for i in range(100000):
        service.add(f"My friend number {i} is called Person{i}")
        print(i, flush=True)
""")


def test_kill_9_while_adding_leaves_database_and_index_usable(paths):
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=child_env())
    try:
        for line in child.stdout:  # let it get well into adding (embedding and writing both indexes)
            if int(line) >= 15:
                break
        time.sleep(0.05)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    db = sqlite3.connect(paths.data_dir / "memory.sqlite3")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    stored = db.execute("SELECT count(*) FROM memories WHERE status='active'").fetchone()[0]
    last = db.execute("SELECT text FROM memories ORDER BY created_at DESC LIMIT 1").fetchone()[0]
    db.close()
    assert stored >= 16

    again = MemoryService(paths.data_dir, Settings(), paths=paths)
    try:
        assert again.index.count() == stored  # repaired on open: every memory is searchable again
        assert again.search(last, k=1)[0].memory.text == last
        assert again.add("I live in Busan").action == "added"  # and it keeps working
        assert again.index.count() == stored + 1
    finally:
        again.close()


def test_memory_on_a_chroma_server_recalls_and_forgets(paths, chroma_server):
    """The `memory.index = "server"` setting: vectors live in a `chroma run` server started here."""
    settings = Settings(memory={"index": "server", "server_url": chroma_server})
    service = MemoryService(paths.data_dir, settings, paths=paths)
    try:
        for fact in FACTS:
            service.add(fact)
        assert service.index._vector.server_url == chroma_server
        top = service.search("when is my sister's birthday?", 1)[0]
        assert "May 3" in top.memory.text
        service.forget(top.memory.id)
        assert all("May 3" not in r.memory.text for r in service.search("sister birthday", 5))
        assert service.index.count() == len(FACTS) - 1
    finally:
        service.close()
