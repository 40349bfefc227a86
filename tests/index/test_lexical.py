"""The BM25 keyword index: anything a user types is a valid query, writes are all-or-nothing, crashes are safe."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.index.base import IndexDamaged, IndexUnavailable
from assistant.index.lexical import LexicalIndex, fts_query

DOCS = {
    "d1": "My sister's birthday is on May 3rd; we always bake a lemon cake.",
    "d2": "The café on Rue Cler serves the best croissants in Paris.",
    "d3": "Invoice #4521 from ACME Corp: due 2024-07-01, amount 1,250 EUR.",
    "d4": "Notes on Python's asyncio: tasks, event loops and cancellation.",
    "d5": "내 동생의 생일은 5월 3일이야",
}


@pytest.fixture
def index(tmp_path):
    with LexicalIndex(tmp_path / "lex.db", "docs") as lex:
        lex.upsert(list(DOCS), list(DOCS.values()))
        yield lex


def ids(hits):
    return [item_id for item_id, _ in hits]


def test_keywords_rank_the_matching_text_first(index):
    assert ids(index.search("lemon cake", 3))[0] == "d1"
    assert ids(index.search("invoice ACME", 3))[0] == "d3"
    hits = index.search("birthday cake lemon", 5)
    assert hits[0][1] > 0 and all(a[1] >= b[1] for a, b in zip(hits, hits[1:]))  # higher is better


def test_stemming_and_accents_match_what_people_type(index):
    assert ids(index.search("birthdays", 3)) == ["d1"]  # porter: birthdays ~ birthday
    assert ids(index.search("cafe", 3)) == ["d2"]  # remove_diacritics: cafe ~ café
    assert ids(index.search("CROISSANT", 3)) == ["d2"]  # case-folded, stemmed
    assert ids(index.search("동생의", 3)) == ["d5"]  # Hangul words are tokens too


@pytest.mark.parametrize("query", [
    '"unbalanced quote', "lemon AND", "OR OR OR", "NOT cake", "NEAR(lemon cake)", "title:lemon",
    "-cake", "cake -lemon", "((lemon)", "lemon*", "*", "^lemon", "🎂 cake 🎂", "a'b\"c", "{lemon}",
    "\x00lemon", "lemon\udcff", "AND", ":", "", "   ",
])
def test_any_user_text_is_a_safe_query(index, query):
    hits = index.search(query, 5)  # never an FTS5 syntax error
    if "lemon" in query.lower() or "cake" in query.lower():
        assert "d1" in ids(hits), query


def test_prefix_star_and_operator_words_are_just_words(index):
    assert ids(index.search("asyn*", 3)) == ["d4"]
    assert fts_query("cats AND dogs") == '"cats" OR "and" OR "dogs"'
    assert fts_query("🎉 :: ()") == ""


def test_a_pasted_page_as_query_is_capped_not_slow_or_broken(index):
    page = " ".join(f"word{i}" for i in range(20000)) + " lemon"
    assert fts_query(page).count(" OR ") == 63  # the first 64 distinct words
    index.search(page, 5)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=60))
def test_random_text_never_breaks_search(index, query):
    assert isinstance(index.search(query, 3), list)


def test_upsert_replaces_delete_and_reset(index):
    index.upsert(["d1"], ["Buy oat milk and coffee beans."])
    assert index.search("lemon", 5) == [] and ids(index.search("oat milk", 5)) == ["d1"]
    assert index.count() == 5
    index.delete(["d1", "never-existed"])
    assert index.count() == 4 and index.search("oat", 5) == []
    index.reset()
    assert index.count() == 0 and index.search("cafe", 5) == []
    index.upsert(["n"], ["new start"])
    assert ids(index.search("start", 1)) == ["n"]


def test_huge_and_odd_texts_are_stored(index):
    big = "filler text " * 200_000 + " needle"
    index.upsert(["big", "odd"], [big, "name with \udcff undecodable byte and emoji 🎉"])
    assert ids(index.search("needle", 3)) == ["big"]
    assert ids(index.search("undecodable", 3)) == ["odd"]
    index.check()


def test_collections_in_one_file_are_separate(tmp_path):
    with LexicalIndex(tmp_path / "shared.db", "memories") as memories, \
            LexicalIndex(tmp_path / "shared.db", "chunks") as chunks:
        memories.upsert(["m"], ["green tea"])
        chunks.upsert(["c"], ["green tea plantation report"])
        assert ids(memories.search("tea", 5)) == ["m"] and ids(chunks.search("tea", 5)) == ["c"]
        chunks.reset()
        assert memories.count() == 1


def test_a_shared_connection_commits_with_the_callers_transaction(tmp_path):
    conn = sqlite3.connect(tmp_path / "truth.db")
    conn.execute("CREATE TABLE memories (id TEXT PRIMARY KEY, text TEXT)")
    lex = LexicalIndex(conn, "memories")
    with pytest.raises(RuntimeError):
        with conn:  # the owner's transaction: its row and the index entry stand or fall together
            conn.execute("INSERT INTO memories VALUES ('m1', 'likes jazz')")
            lex.upsert(["m1"], ["likes jazz"])
            raise RuntimeError("the owner fails after both writes")
    assert conn.execute("SELECT count(*) FROM memories").fetchone()[0] == 0
    assert lex.count() == 0 and lex.search("jazz", 5) == []
    with conn:
        conn.execute("INSERT INTO memories VALUES ('m1', 'likes jazz')")
        lex.upsert(["m1"], ["likes jazz"])
    assert ids(lex.search("jazz", 5)) == ["m1"]
    lex.close()
    conn.close()


def test_mismatched_inputs_and_bad_names_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="collection name"):
        LexicalIndex(tmp_path / "x.db", 'bad"name')
    with LexicalIndex(tmp_path / "x.db", "ok") as lex:
        with pytest.raises(ValueError, match="one text per id"):
            lex.upsert(["a", "b"], ["only one"])
        assert lex.count() == 0
    with pytest.raises(IndexUnavailable, match="closed"):
        lex.search("x", 1)


WRITER = """
import sys
from assistant.index.lexical import LexicalIndex
lex = LexicalIndex(sys.argv[1], "docs")
batch = 0
while True:
    lex.upsert([f"b{batch}-{i}" for i in range(200)], [f"batch {batch} text number {i} zebra" for i in range(200)])
    batch += 1
    print(batch, flush=True)
"""


def test_kill_9_mid_write_leaves_a_usable_index_with_whole_batches(tmp_path):
    path = tmp_path / "lex.db"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        while int(writer.stdout.readline() or 0) < 5:
            pass
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(30)
    with LexicalIndex(path, "docs") as lex:
        lex.check()
        assert lex.count() >= 1000 and lex.count() % 200 == 0  # no half-written batch
        assert len(lex.search("zebra", 10)) == 10
        lex.upsert(["after"], ["written after the crash"])
        assert ids(lex.search("crash", 1)) == ["after"]


def test_garbled_file_is_reported_as_damaged(tmp_path):
    path = tmp_path / "lex.db"
    with LexicalIndex(path, "docs") as lex:
        lex.upsert([f"d{i}" for i in range(2000)], [f"document {i} about topic {i % 7}" for i in range(2000)])
    data = bytearray(path.read_bytes())
    data[8192:40960] = b"\xa5" * (40960 - 8192)
    path.write_bytes(bytes(data))
    with pytest.raises(IndexDamaged, match="rebuilt"):
        lex = LexicalIndex(path, "docs")
        try:
            lex.check()
            lex.search("topic", 5)
        finally:
            lex.close()
