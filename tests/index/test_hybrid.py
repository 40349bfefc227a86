"""HybridIndex with the real MiniLM embedder and real Chroma: what a user notices when searching."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from assistant.embeddings import load_embedder
from assistant.index import (CONTEXT_KEY, SURROUNDINGS_KEY, Hit, HybridIndex, IndexDamaged, IndexItem,
                             IndexLocked)
from assistant.index.hybrid import KEYWORDS_FILE, VECTORS_DIR
from assistant.index.ranking import add_scores, feedback_terms, fuse, keyword_query, query_terms
from assistant.paths import resolve_paths

PEOPLE = ["Mina", "Jonas", "Priya", "Tomasz", "Aiko", "Rafael", "Lena", "Omar", "Sofia", "Kwame"]
PLACES = ["Lisbon", "Osaka", "Denver", "Nairobi", "Oslo", "Lima", "Hanoi", "Perth", "Quebec", "Tbilisi"]
THINGS = ["the quarterly budget", "the garden shed", "the new laptop", "the team offsite", "the book club",
          "the bike repair", "the tax return", "the kitchen tiles", "the piano lessons", "the car insurance"]
FILLER_TEMPLATES = [
    "{p} called about {t} and will send details from {c} next week.",
    "Notes from {c}: {p} thinks {t} can wait until spring.",
    "Reminder: ask {p} whether {t} was paid before the trip to {c}.",
    "{p} shared photos from {c}; we also talked about {t}.",
    "Invoice INV-{n:05d} from {p} in {c} covers {t}.",
]
# The items the tests look for; each is unlike the filler in a way a user would search for.
SPECIAL = {
    "code": IndexItem("code", "Invoice INV-20931 from Zbigniew Ostrowski covers the boiler replacement.",
                      {"kind": "document", "source": "invoices.pdf"}),
    "allergy": IndexItem("allergy", "I am allergic to peanuts and shellfish.", {"kind": "memory"}),
    "birthday": IndexItem("birthday", "My sister Hana's birthday is on May 3.", {"kind": "memory"}),
    "style": IndexItem("style", "I prefer short answers without bullet points.", {"kind": "memory"}),
    "falcon": IndexItem("falcon", "The deadline moved to Friday because the supplier is late.",
                        {"kind": "document", CONTEXT_KEY: "Project Falcon status report, section 2"}),
}


def filler() -> list[IndexItem]:
    items = []
    for n in range(300):
        template = FILLER_TEMPLATES[n % len(FILLER_TEMPLATES)]
        text = template.format(p=PEOPLE[n % 10], c=PLACES[(n // 10) % 10], t=THINGS[(n * 7) % 10], n=20000 + n * 3)
        items.append(IndexItem(f"f{n}", text, {"kind": "document" if n % 2 else "memory", "n": n}))
    return items


CORPUS = filler() + list(SPECIAL.values())


@pytest.fixture(scope="module")
def embedder(tmp_path_factory: pytest.TempPathFactory):
    return load_embedder("all-minilm-l6-v2", resolve_paths({"BISEO_HOME": str(tmp_path_factory.mktemp("home"))}))


@pytest.fixture(scope="module")
def vectors(embedder):
    """Vectors of the corpus search texts, computed once and reused by every fresh index in this module."""
    class Memo:
        name, dim = embedder.name, embedder.dim
        cache: dict[str, object] = {}

        def embed(self, texts):
            import numpy as np
            missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
            if missing:
                self.cache.update(zip(missing, embedder.embed(missing)))
            return np.stack([self.cache[t] for t in texts]) if texts else embedder.embed([])

        def embed_query(self, text):
            return embedder.embed_query(text)
    return Memo()


@pytest.fixture
def index(tmp_path: Path, vectors):
    idx = HybridIndex(tmp_path / "idx", "notes", vectors)
    idx.upsert(CORPUS)
    yield idx
    idx.close()


def ids(hits: list[Hit]) -> list[str]:
    return [h.id for h in hits]


def test_exact_code_and_rare_name_come_first(index):
    # 300 look-alike invoices: only the keyword side can tell INV-20931 from INV-20930.
    assert ids(index.search("INV-20931", 5))[0] == "code"
    assert ids(index.search("what did Zbigniew bill us for?", 5))[0] == "code"


def test_paraphrase_without_shared_words_is_found(index):
    assert "allergy" in ids(index.search("which foods make me sick?", 3))
    assert "style" in ids(index.search("how concise should replies be", 3))


def test_question_about_a_fact_returns_it_first(index):
    hits = index.search("When is my sister's birthday?", 5)
    assert hits[0].id == "birthday"
    assert hits[0].text == SPECIAL["birthday"].text
    assert hits[0].metadata["kind"] == "memory"
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert {"bm25", "dense"} <= set(hits[0].scores)


def test_context_is_searched_but_not_shown(index):
    hits = index.search("Falcon deadline", 3)
    assert hits[0].id == "falcon"
    assert hits[0].text == "The deadline moved to Friday because the supplier is late."


def test_surroundings_help_keyword_search_only_as_context(tmp_path, vectors):
    with HybridIndex(tmp_path / "s", "chat", vectors) as idx:
        idx.upsert(CORPUS + [IndexItem("reply", "Yes, we booked it for the whole family.",
                                       {SURROUNDINGS_KEY: "Did you book the ferry to Gotland?"})])
        hits = idx.search("Gotland ferry booking", 3)
        assert hits[0].id == "reply"
        assert hits[0].text == "Yes, we booked it for the whole family."


def test_where_filter_keeps_only_matching_items(index):
    hits = index.search("INV-20931", 10, where={"kind": "memory"})
    assert hits and all(h.metadata["kind"] == "memory" for h in hits)
    assert "code" not in ids(hits)
    assert ids(index.search("INV-20931", 10, where={"kind": "document", "source": "invoices.pdf"})) == ["code"]
    assert index.search("anything", 10, where={"kind": "nothing has this"}) == []
    assert ids(index.search("Lisbon", 5, where={"n": 7})) == ["f7"]


def test_delete_makes_items_unfindable(index):
    before = index.count()
    index.delete(["code", "no-such-id"])
    assert index.count() == before - 1
    assert "code" not in ids(index.search("INV-20931 Zbigniew", 20))
    index.upsert([SPECIAL["code"]])
    assert ids(index.search("INV-20931", 1)) == ["code"]


def test_upsert_replaces_by_id(index):
    count = index.count()
    index.upsert([IndexItem("birthday", "My sister Hana's birthday is on June 9.", {"kind": "memory"})])
    assert index.count() == count
    hit = index.search("sister birthday", 1)[0]
    assert (hit.id, hit.text) == ("birthday", "My sister Hana's birthday is on June 9.")


def test_bad_item_is_rejected_before_anything_is_written(index):
    count = index.count()
    with pytest.raises(ValueError, match="tags"):
        index.upsert([IndexItem("new", "Quokkas live on Rottnest Island."),
                      IndexItem("bad", "text", {"tags": ["a", "b"]})])
    assert index.count() == count
    assert "new" not in ids(index.search("quokka Rottnest", 5))
    with pytest.raises(ValueError):
        index.upsert([IndexItem("", "no id")])
    with pytest.raises(ValueError, match="where"):
        index.search("x", where={"$or": [{"a": 1}]})


@pytest.mark.parametrize("query", ["", "   ", "???", '"unbalanced', "AND OR NOT", "NEAR(a b", "*", "-", "😀🎉",
                                   "x" * 20000, "'; DROP TABLE notes; --", "비서야 생일 언제야?", "the of and",
                                   "café\u0000naïve", "\ud800broken"])
def test_odd_queries_do_not_raise(index, query):
    hits = index.search(query, 5)
    assert isinstance(hits, list) and len(hits) <= 5
    if not query.strip():
        assert hits == []


def test_reopen_keeps_items_and_second_owner_is_refused(tmp_path, vectors):
    folder = tmp_path / "persist"
    with HybridIndex(folder, "notes", vectors) as idx:
        idx.upsert(CORPUS)
        with pytest.raises(IndexLocked):
            HybridIndex(folder, "notes", vectors)
    with HybridIndex(folder, "notes", vectors) as idx:
        assert idx.count() == len(CORPUS)
        idx.check()
        assert ids(idx.search("INV-20931", 1)) == ["code"]


def test_damage_is_detected_and_rebuild_restores(tmp_path, vectors):
    folder = tmp_path / "damaged"
    with HybridIndex(folder, "notes", vectors) as idx:
        idx.upsert(CORPUS)
    with sqlite3.connect(folder / KEYWORDS_FILE) as conn:  # lose rows behind the index's back
        conn.execute("DELETE FROM hyb_notes_items WHERE id IN ('code', 'allergy')")
    conn.close()
    with HybridIndex(folder, "notes", vectors) as idx:
        with pytest.raises(IndexDamaged):
            idx.check()
        idx.rebuild(iter(CORPUS))
        idx.check()
        assert idx.count() == len(CORPUS)
        assert ids(idx.search("INV-20931", 1)) == ["code"]
        assert "allergy" in ids(idx.search("which foods make me sick?", 3))


@pytest.mark.parametrize("broken", [KEYWORDS_FILE, f"{VECTORS_DIR}/chroma.sqlite3"])
def test_discard_lets_a_broken_folder_start_over(tmp_path, vectors, broken):
    folder = tmp_path / "broken"
    with HybridIndex(folder, "notes", vectors) as idx:
        idx.upsert(CORPUS[:20])
    (folder / broken).write_bytes(b"this is not a database" * 1000)
    with pytest.raises(IndexDamaged):  # on opening, or at the latest on check()
        idx = HybridIndex(folder, "notes", vectors)
        try:
            idx.check()
        finally:
            idx.close()
    HybridIndex.discard(folder)
    with HybridIndex(folder, "notes", vectors) as idx:
        idx.rebuild(CORPUS)
        assert ids(idx.search("INV-20931", 1)) == ["code"]


def test_closed_index_says_so(tmp_path, vectors):
    idx = HybridIndex(tmp_path / "c", "notes", vectors)
    idx.close()
    idx.close()
    with pytest.raises(Exception, match="closed"):
        idx.search("anything")


def test_keyword_query_drops_function_words_but_never_everything():
    assert keyword_query("When did Caroline go to the LGBTQ support group?") == "caroline go lgbtq support group"
    assert query_terms("who is he?") == ["who", "is", "he"]
    assert keyword_query("INV-20931") == "inv 20931"
    assert keyword_query("") == ""


def test_fusion_scales_each_side_by_its_best_and_keeps_single_sided_hits():
    ranked = fuse([("a", 9.0), ("b", 3.0)], [("b", 0.8), ("c", 0.7)], lexical_weight=0.5)
    # a: best keyword hit (0.5) + dense at most the list's floor (0.7/0.8 * 0.5); b: 3/9 * 0.5 + 0.5.
    assert [f.id for f in ranked] == ["a", "b", "c"]
    assert "dense" not in ranked[0].parts and ranked[0].parts["bm25"] == 9.0
    assert fuse([("a", 9.0), ("b", 3.0)], [("b", 0.8), ("c", 0.7)], lexical_weight=0.0)[0].id == "b"
    assert fuse([], [], 0.5) == []
    assert [f.id for f in fuse([("x", 1.0)], [], 1.0)] == ["x"]
    with pytest.raises(ValueError):
        fuse([], [], 1.5)


def test_feedback_terms_are_the_words_the_best_hits_share_beyond_the_query():
    texts = ["We pitched the tent by the lake, 2023.", "The lake was cold but the tent kept us dry."]
    assert feedback_terms(["camping", "lake"], texts, 3) == ["tent", "pitched", "cold"]
    assert feedback_terms(["x"], [], 5) == []
    assert add_scores([("a", 2.0), ("b", 1.0)], [("b", 10.0), ("c", 1.0)], 0.3) == [("b", 4.0), ("a", 2.0),
                                                                                     ("c", 0.3)]
