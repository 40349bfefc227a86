"""Indexing keeps SQLite and the search index in step: unchanged files skipped, changed re-read, gone dropped."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from docfixtures import make_bad_files, make_folder


@pytest.fixture
def folder(tmp_path) -> Path:
    make_folder(tmp_path / "docs")
    return tmp_path / "docs"


def chunk_files(fake_index) -> set[str]:
    return {Path(item.metadata["path"]).name for item in fake_index.items.values()}


def test_adding_a_folder_indexes_every_supported_file(make_service, fake_index, folder):
    (folder / ".hidden").mkdir()
    (folder / ".hidden" / "secret.txt").write_text("hidden text", encoding="utf-8")
    (folder / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    service = make_service()
    sources, problems = service.add([folder])
    assert not problems and sources[0].kind == "folder"
    seen = []
    state = service.sync(lambda p: seen.append((p.done, p.total, p.current)))
    assert state.total == 7 and state.indexed == 7 and not state.errors
    assert chunk_files(fake_index) == {"lease.pdf", "falcon-plan.docx", "garden.md", "invoices.csv",
                                       "stock.xlsx", "menu.html", "wifi.txt"}
    assert fake_index.count() == service.store.chunk_count() == service.store.indexed_chunk_count()
    assert seen[-1] == (7, 7, "") and any(cur.endswith("lease.pdf") for _, _, cur in seen)
    pdf_item = next(i for i in fake_index.items.values() if i.metadata["file"] == "lease.pdf"
                    and i.metadata["page"] == 2)
    assert "1,850 euros" in pdf_item.text and pdf_item.metadata["context"] == "lease.pdf"


def test_unchanged_files_are_skipped_and_touched_files_are_hashed_not_reread(make_service, fake_index, folder):
    service = make_service()
    service.add([folder])
    service.sync()
    upserts = fake_index.upserts
    again = service.sync()
    assert again.unchanged == 7 and again.indexed == 0 and fake_index.upserts == upserts
    later = time.time() + 5
    os.utime(folder / "garden.md", (later, later))  # same content, new mtime
    touched = service.sync()
    assert touched.unchanged == 7 and fake_index.upserts == upserts


def test_changed_file_replaces_its_chunks_and_removed_file_drops_them(make_service, fake_index, folder):
    service = make_service()
    service.add([folder])
    service.sync()
    (folder / "garden.md").write_text("# Garden\n\nThe beans moved to the north bed this year.\n", encoding="utf-8")
    (folder / "wifi.txt").unlink()
    state = service.sync()
    assert state.indexed == 1 and state.removed == 1
    texts = " ".join(i.text for i in fake_index.items.values())
    assert "north bed" in texts and "San Marzano" not in texts and "PELICAN" not in texts
    assert fake_index.count() == service.store.chunk_count()
    assert service.store.file(folder / "wifi.txt") is None


def test_bad_files_are_reported_and_the_rest_indexed(make_service, fake_index, tmp_path):
    make_bad_files(tmp_path / "mixed", huge_mb=1.5)
    (tmp_path / "mixed" / "good.md").write_text("# Fine\n\nThis file is fine and has words.\n", encoding="utf-8")
    service = make_service(max_file_mb=1.0)
    service.add([tmp_path / "mixed"])
    state = service.sync()
    reasons = {Path(e.path).name: e.reason for e in state.errors}
    assert set(reasons) == {"photo.txt", "locked.pdf", "empty.md", "huge.txt", "old.docx"}
    assert "binary" in reasons["photo.txt"] and "encrypted" in reasons["locked.pdf"]
    assert "empty" in reasons["empty.md"] and "too large" in reasons["huge.txt"]
    assert {Path(w.path).name for w in state.warnings} == {"resume-latin1.txt"}
    assert chunk_files(fake_index) == {"good.md", "resume-latin1.txt"}
    rows = {Path(f.path).name: f for f in service.files()}
    assert rows["locked.pdf"].status == "error" and rows["good.md"].status == "indexed"
    # still failing on the next run: reported again, not silently counted as fine
    assert len(service.sync().errors) == 5


def test_a_file_that_breaks_later_loses_its_old_chunks(make_service, fake_index, tmp_path):
    note = tmp_path / "note.txt"
    note.write_text("The locker code is 4471.", encoding="utf-8")
    service = make_service()
    service.add([note])
    service.sync()
    assert fake_index.count() == 1
    note.write_bytes(b"\x00\x01\x02" * 100)
    state = service.sync()
    assert "binary" in state.errors[0].reason and fake_index.count() == 0


def test_removing_a_source_drops_its_chunks_and_tables(make_service, fake_index, folder, tmp_path):
    other = tmp_path / "other.txt"
    other.write_text("Unrelated note about kayaks.", encoding="utf-8")
    service = make_service()
    service.add([folder, other])
    service.sync()
    service.remove(folder)
    assert chunk_files(fake_index) == {"other.txt"}
    assert service.tables() == [] and [s.path for s in service.sources()] == [str(other.resolve())]
    from assistant.documents.service import DocumentError

    with pytest.raises(DocumentError, match="not an added file or folder"):
        service.remove(folder / "garden.md")


def test_missing_paths_are_reported_and_a_vanished_folder_is_an_error(make_service, tmp_path, folder):
    service = make_service()
    sources, problems = service.add([tmp_path / "nope", folder])
    assert len(sources) == 1 and problems == [f"{tmp_path / 'nope'}: no such file or folder"]
    service.sync()
    import shutil

    shutil.rmtree(folder)
    state = service.sync()
    assert state.removed == 7 and "no longer exists" in state.errors[0].reason
    assert service.store.chunk_count() == 0


def test_work_left_by_a_crash_is_finished_on_the_next_run(make_service, fake_index, folder):
    """SQLite commits chunks before the index sees them; a run killed in between leaves them pending."""
    service = make_service()
    service.add([folder])
    service.sync()
    total = fake_index.count()
    # Simulate the crash window: chunks committed but never upserted, and a deletion never applied.
    service.store.mark_in_index([i for i in list(fake_index.items)[:5]], value=0)
    for key in list(fake_index.items)[:5]:
        del fake_index.items[key]
    fake_index.upsert([type(next(iter(fake_index.items.values())))("ghost", "stale text", {})])
    service.store._db.execute("INSERT INTO index_deletes(id) VALUES ('ghost')")
    service.sync()
    assert fake_index.count() == total and "ghost" not in fake_index.items
    assert service.store.indexed_chunk_count() == total


def test_index_that_disagrees_with_sqlite_is_rebuilt_on_open(make_service, fake_index, folder):
    service = make_service()
    service.add([folder])
    service.sync()
    total = fake_index.count()
    service.close()
    fake_index.items.clear()  # e.g. the index folder was deleted or damaged while Biseo was closed
    reopened = make_service()
    hits = reopened.search("monthly rent deposit")
    assert fake_index.count() == total
    assert hits and hits[0].file == "lease.pdf" and hits[0].page == 2


def test_reindex_rebuilds_from_sqlite_without_rereading(make_service, fake_index, folder):
    service = make_service()
    service.add([folder])
    service.sync()
    total = fake_index.count()
    fake_index.items.clear()
    state, count = service.reindex()
    assert state.unchanged == 7 and count == total == fake_index.count()
    forced, _ = service.reindex(force=True)
    assert forced.indexed == 7 and fake_index.count() == total


def test_background_sync_and_cancel(make_service, folder):
    service = make_service()
    service.add([folder])
    job = service.start_sync()
    assert job.wait(30)
    assert job.outcome().indexed == 7
    cancelled = service.start_sync(force=True)
    cancelled.cancel.set()
    assert cancelled.wait(30) and cancelled.outcome().cancelled


def test_watcher_picks_up_new_changed_and_deleted_files(make_service, fake_index, folder):
    service = make_service(watch_interval_s=0.1)
    service._watch_wanted = True  # as attach() does for the running app
    service.add([folder])
    service.sync()
    (folder / "new.md").write_text("# Bikes\n\nThe bike lock code is 9120.\n", encoding="utf-8")
    (folder / "wifi.txt").unlink()
    deadline = time.time() + 20
    while time.time() < deadline and not ("new.md" in chunk_files(fake_index)
                                          and "wifi.txt" not in chunk_files(fake_index)):
        time.sleep(0.1)
    assert "new.md" in chunk_files(fake_index) and "wifi.txt" not in chunk_files(fake_index)
    service.close()
    assert service._watcher is None
