"""The Chroma vector index: real Chroma, embedded in a folder and as a `chroma run` server, real embeddings."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from assistant.index.base import IndexDamaged, IndexLocked, IndexUnavailable
from assistant.index.vector import VectorIndex, wipe_folder

FACTS = {
    "m1": "My sister's birthday is on May 3rd.",
    "m2": "I prefer green tea over coffee.",
    "m3": "The car needs new tyres before winter.",
    "m4": "I am allergic to peanuts.",
}


@pytest.fixture(scope="module")
def embedder(tmp_path_factory):
    from assistant.embeddings import load_embedder
    from assistant.paths import resolve_paths

    return load_embedder("all-minilm-l6-v2", resolve_paths({"BISEO_HOME": str(tmp_path_factory.mktemp("h"))}))


def unit_vectors(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n, 384)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def fill(index: VectorIndex) -> None:
    index.upsert(list(FACTS), list(FACTS.values()),
                 [{"kind": "fact", "pinned": True}, {"kind": "preference"}, {"kind": "fact"}, {"kind": "health"}])


def test_meaning_search_filters_and_survives_reopening(tmp_path, embedder):
    with VectorIndex("memories", folder=tmp_path / "vec", embedder=embedder) as index:
        fill(index)
        hits = index.query("When is my sister's birthday?", k=2)
        assert hits[0][0] == "m1" and hits[0][1] > 0.6 and hits[0][1] > hits[1][1]
        assert [i for i, _ in index.query("what should I not eat?", k=4, where={"kind": "health"})] == ["m4"]
        assert [i for i, _ in index.query("birthday", k=4, where={"kind": "fact", "pinned": True})] == ["m1"]
        assert index.query(embedder.embed_query("tea or coffee"), k=1)[0][0] == "m2"  # a vector works too
    with VectorIndex("memories", folder=tmp_path / "vec", embedder=embedder) as index:
        assert index.count() == 4 and sorted(index.ids()) == sorted(FACTS)
        index.check()


def test_upsert_replaces_delete_ignores_unknown_reset_empties(tmp_path, embedder):
    with VectorIndex("memories", folder=tmp_path / "vec", embedder=embedder) as index:
        fill(index)
        index.upsert(["m2"], ["I switched to drinking espresso every morning."], [{"kind": "preference"}])
        assert index.count() == 4 and index.query("espresso", k=1)[0][0] == "m2"
        index.delete(["m1", "no-such-id"])
        assert index.count() == 3 and "m1" not in index.ids()
        index.reset()
        assert index.count() == 0 and index.query("anything", k=5) == []
        fill(index)  # usable again after a reset
        assert index.count() == 4


def test_k_larger_than_the_collection_and_empty_inputs(tmp_path, embedder):
    with VectorIndex("docs", folder=tmp_path / "vec", embedder=embedder) as index:
        assert index.query("nothing here yet", k=10) == []
        index.upsert([], [])
        fill(index)
        assert len(index.query("tea", k=100)) == 4 and index.query("tea", k=0) == []


def test_bad_input_is_a_clear_error_and_changes_nothing(tmp_path):
    with VectorIndex("docs", folder=tmp_path / "vec") as index:  # no embedder: vectors must be given
        with pytest.raises(ValueError, match="no embeddings given"):
            index.upsert(["a"], ["text"])  # never Chroma's own (downloading) default model
        with pytest.raises(ValueError, match="one text"):
            index.upsert(["a", "b"], ["only one"], embeddings=unit_vectors(2))
        with pytest.raises(ValueError, match="same id twice"):
            index.upsert(["a", "a"], ["x", "y"], embeddings=unit_vectors(2))
        with pytest.raises(ValueError, match="NaN"):
            index.upsert(["a"], ["x"], embeddings=np.full((1, 384), np.nan))
        with pytest.raises(ValueError, match="metadata 'tags' must be str, int, float or bool"):
            index.upsert(["a"], ["x"], [{"tags": ["a", "b"]}], embeddings=unit_vectors(1))
        index.upsert(["a"], ["x"], [{"note": None}], embeddings=unit_vectors(1))  # None values are dropped
        with pytest.raises(ValueError, match="dimension"):
            index.upsert(["b"], ["y"], embeddings=np.ones((1, 10), dtype=np.float32))
        assert index.ids() == ["a"]
    with pytest.raises(ValueError, match="collection name"):
        VectorIndex("x", folder=tmp_path / "vec")


def test_many_items_page_through_ids_and_find_themselves(tmp_path):
    vectors = unit_vectors(6000)
    ids = [f"c{i}" for i in range(6000)]
    with VectorIndex("chunks", folder=tmp_path / "vec") as index:
        index.upsert(ids, [f"chunk {i}" for i in range(6000)], embeddings=vectors)
        assert index.count() == 6000 and sorted(index.ids()) == sorted(ids)
        assert index.query(vectors[4321], k=1)[0][0] == "c4321"
        index.check()


OWNER = """
import sys, time
from assistant.index.vector import VectorIndex
index = VectorIndex("memories", folder=sys.argv[1])
index.upsert(["kept"], ["written before the crash"], embeddings=[[1.0] + [0.0] * 383])
print("ready", flush=True)
time.sleep(120)
"""


def test_second_process_is_refused_and_kill_9_leaves_no_stale_lock(tmp_path):
    folder = tmp_path / "vec"
    owner = subprocess.Popen([sys.executable, "-c", OWNER, str(folder)], stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout.readline().strip() == "ready"
        with pytest.raises(IndexLocked, match=rf"{folder} is in use by another Biseo process \(pid {owner.pid}\)"):
            VectorIndex("memories", folder=folder)
        with pytest.raises(IndexLocked):
            wipe_folder(folder)  # nor may anyone wipe it under the owner's feet
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait(30)
    with VectorIndex("memories", folder=folder) as index:  # the kernel dropped the dead owner's lock
        assert index.ids() == ["kept"]


def corrupt_sqlite(folder: Path) -> None:
    with open(folder / "chroma.sqlite3", "r+b") as handle:
        handle.write(b"this is not a database header!!" * 4)


def segment_file(folder: Path, name: str) -> Path:
    return next(p for p in folder.iterdir() if p.is_dir()) / name


def garble_vectors(folder: Path) -> None:
    # Same size, random content: Chroma's own reader would crash the process on this.
    path = segment_file(folder, "data_level0.bin")
    path.write_bytes(os.urandom(path.stat().st_size))


def truncate_vectors(folder: Path) -> None:
    os.truncate(segment_file(folder, "data_level0.bin"), 1000)


def garble_graph(folder: Path) -> None:
    path = segment_file(folder, "link_lists.bin")
    path.write_bytes(os.urandom(path.stat().st_size))


def garble_header(folder: Path) -> None:
    segment_file(folder, "header.bin").write_bytes(os.urandom(100))


@pytest.mark.parametrize("damage", [corrupt_sqlite, garble_vectors, truncate_vectors, garble_graph, garble_header],
                         ids=["sqlite", "hnsw-vectors", "hnsw-truncated", "hnsw-graph", "hnsw-header"])
def test_damaged_files_are_detected_and_the_owner_can_rebuild(tmp_path, damage):
    folder = tmp_path / "vec"
    vectors = unit_vectors(3000)
    with VectorIndex("memories", folder=folder) as index:
        index.upsert([f"m{i}" for i in range(3000)], ["t"] * 3000, embeddings=vectors)
    damage(folder)
    with pytest.raises(IndexDamaged, match="will be rebuilt"):
        index = VectorIndex("memories", folder=folder)
        try:
            index.check()
        finally:
            index.close()
    wipe_folder(folder)  # what an owner does before re-indexing from its SQLite truth
    with VectorIndex("memories", folder=folder) as index:
        assert index.count() == 0
        index.upsert(["m0"], ["t"], embeddings=vectors[:1])
        index.check()
        assert index.query(vectors[0], k=1)[0][0] == "m0"


def test_unreadable_folder_is_reported_not_crashed(tmp_path):
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("x")
    with pytest.raises(IndexUnavailable):
        VectorIndex("memories", folder=blocker)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_server_mode_searches_like_the_embedded_index(chroma_server, embedder):
    from assistant.settings import MemorySettings

    settings = MemorySettings(index="server", server_url=chroma_server)
    with VectorIndex.from_settings(settings, "memories", folder="/unused", embedder=embedder) as index:
        assert index.server_url == chroma_server and index.folder is None
        index.reset()
        fill(index)
        assert index.query("When is my sister's birthday?", k=1)[0][0] == "m1"
        assert [i for i, _ in index.query("food", k=4, where={"kind": "health"})] == ["m4"]
        index.check()
    # Two clients may share a server (it owns its folder): no lock in server mode.
    with VectorIndex("memories", server_url=chroma_server) as first, \
            VectorIndex("memories", server_url=chroma_server) as second:
        assert first.count() == second.count() == 4


def test_unreachable_server_is_index_unavailable():
    with pytest.raises(IndexUnavailable, match=r"Chroma server at http://127.0.0.1:\d+ cannot be reached"):
        VectorIndex("memories", server_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(IndexUnavailable, match="not an http"):
        VectorIndex("memories", server_url="chroma.local")


def test_chroma_embedding_function_embeds_documents_and_queries(tmp_path, embedder):
    import chromadb
    from chromadb.config import Settings

    from assistant.embeddings import ChromaEmbedding

    client = chromadb.PersistentClient(path=str(tmp_path / "raw"), settings=Settings(anonymized_telemetry=False))
    try:
        collection = client.create_collection("facts", embedding_function=ChromaEmbedding(embedder),
                                              configuration={"hnsw": {"space": "cosine"}})
        collection.add(ids=list(FACTS), documents=list(FACTS.values()))
        found = collection.query(query_texts=["Do I drink coffee?"], n_results=1)
        assert found["ids"][0] == ["m2"]
        stored = collection.get(ids=["m1"], include=["embeddings"])["embeddings"][0]
        assert np.allclose(stored, embedder.embed_query(FACTS["m1"]), atol=1e-6)
    finally:
        client.close()


def test_opening_the_same_folder_twice_in_one_process_is_refused_until_closed(tmp_path):
    first = VectorIndex("memories", folder=tmp_path / "vec")
    with pytest.raises(IndexLocked, match="already open in this process"):
        VectorIndex("memories", folder=tmp_path / "vec")
    first.close()
    with VectorIndex("memories", folder=tmp_path / "vec") as again:
        assert again.count() == 0
