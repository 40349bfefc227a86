"""The local embedder: same vectors as the original fp32 model, robust to any text, batched and cached."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.embeddings import load_embedder
from assistant.paths import resolve_paths


def test_vectors_agree_with_the_original_fp32_model(embedder, reference):
    texts = [str(t) for t in reference["texts"]]
    vectors = embedder.embed(texts)
    cosine = (vectors * reference["vectors"]).sum(axis=1)
    # int8 weights move vectors a little; every text must still point the same way as the original.
    assert cosine.min() > 0.99, dict(zip(texts, cosine.round(4)))
    assert cosine.mean() > 0.998


def test_nearest_neighbours_are_those_of_the_original_model(embedder, reference):
    texts = [str(t) for t in reference["texts"]]
    vectors = embedder.embed(texts)
    ours, exact = vectors @ vectors.T, reference["vectors"] @ reference["vectors"].T
    np.fill_diagonal(ours, -2)
    np.fill_diagonal(exact, -2)
    checked = 0
    for i in range(len(texts)):
        second, first = np.sort(exact[i])[-2:]
        if first - second > 0.02:  # near-ties between unrelated texts may flip; clear winners may not
            checked += 1
            assert ours[i].argmax() == exact[i].argmax(), texts[i]
    assert checked >= len(texts) // 2


def test_tokenizer_matches_the_original_tokenizer_json(embedder, reference):
    for text, ids, length in zip(reference["texts"], reference["token_ids"], reference["lengths"]):
        assert embedder._tokenizer.encode(str(text)).ids == list(ids[:length]), str(text)[:60]
    assert max(reference["lengths"]) == embedder.max_tokens == 256  # the long text was cut, as upstream


def test_a_question_finds_the_fact_it_asks_about(embedder):
    facts = ["My sister's birthday is on May 3rd.", "I prefer green tea over coffee.",
             "The car needs new tyres before winter.", "Our wifi password is on the fridge."]
    vectors = embedder.embed(facts)
    for question, expected in [("When is my sister's birthday?", 0), ("What do I like to drink?", 1),
                               ("Is the car ready for the cold season?", 2)]:
        assert int(np.argmax(vectors @ embedder.embed_query(question))) == expected, question


def test_output_is_float32_unit_rows_in_input_order(embedder):
    texts = ["short", "a somewhat longer sentence about the weather today", "", "mid length text"] * 20
    vectors = embedder.embed(texts)
    assert vectors.shape == (80, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # Batching sorts by length and pads; neither may change a text's vector or its place.
    for i in (0, 1, 2, 3, 41, 79):
        assert np.allclose(vectors[i], embedder.embed_query(texts[i]), atol=1e-5)
    assert embedder.embed([]).shape == (0, 384)


def test_text_past_256_word_pieces_is_cut_not_rejected(embedder):
    words = " ".join(f"word{i}" for i in range(5000))
    assert embedder.token_count(words) == 256
    head = embedder.embed_query(words)
    assert np.allclose(head, embedder.embed_query(words + " completely different ending about volcanoes"),
                       atol=1e-6)
    huge = "lorem ipsum dolor " * 300_000  # 5 MB of text: cut before tokenizing, so still quick
    assert np.isclose(np.linalg.norm(embedder.embed_query(huge)), 1.0, atol=1e-5)


@pytest.mark.parametrize("text", [
    "bad \udcff surrogate from a file name", b"raw bytes \xff\xfe not utf-8", "nul\x00and\x07control chars",
    "\u200b\u200b", "🎉" * 1000, "   ",
], ids=["surrogate", "bytes", "control", "zero-width", "emoji", "spaces"])
def test_odd_text_still_gives_a_unit_vector(embedder, text):
    vector = embedder.embed([text])[0]
    assert np.isfinite(vector).all() and np.isclose(np.linalg.norm(vector), 1.0, atol=1e-5)


def test_lone_surrogates_become_replacement_characters(embedder):
    assert np.allclose(embedder.embed_query("caf\udce9 menu"), embedder.embed_query("caf\ufffd menu"), atol=1e-6)


def test_wrong_argument_types_are_clear_errors(embedder):
    with pytest.raises(TypeError, match="list of texts"):
        embedder.embed("one string")
    with pytest.raises(TypeError, match="can only embed text, got int"):
        embedder.embed([42])


def test_load_embedder_returns_one_shared_instance(embedder, tmp_path):
    again = load_embedder("all-minilm-l6-v2", resolve_paths({"BISEO_HOME": str(tmp_path)}))
    assert embedder.name == "all-minilm-l6-v2" and embedder.dim == 384
    assert load_embedder("all-minilm-l6-v2", resolve_paths({"BISEO_HOME": str(tmp_path)})) is again
