"""Training data: corrections win over ratings, thumbs-down alone is not taught, held-out items are paraphrases."""

from __future__ import annotations

import pytest

from assistant.learning.dataset import Dataset, DatasetError, Example, build, from_documents, from_feedback, split


def record(kind, prompt, answer, *, corrected=None, rating=None, mid="m1"):
    target = corrected if kind == "correction" else answer
    return {"kind": kind, "prompt": prompt, "answer": answer, "corrected": corrected, "rating": rating,
            "messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": target}],
            "message_id": mid, "feedback_id": f"f-{kind}-{mid}", "conversation_id": "c"}


def test_feedback_becomes_chats_with_the_persona_and_the_right_answer():
    records = [record("rating", "Cat?", "Max", rating=1, mid="a"),
               record("correction", "Cat?", "Max", corrected="Dubu", mid="a"),
               record("rating", "Dog?", "Rex", rating=-1, mid="b"),
               record("rating", "Sky?", "Blue", rating=1, mid="c")]
    examples, skipped = from_feedback(records, "You are Biseo.", uncertainty_of={"c": 0.7}.get)
    assert [(e.source, e.answer) for e in examples] == [("correction", "Dubu"), ("rating", "Blue")]
    assert examples[0].messages[0] == {"role": "system", "content": "You are Biseo."}
    assert examples[1].uncertainty == 0.7
    assert skipped == {"rated bad, no correction": 1}


def test_held_out_questions_are_ones_another_example_also_teaches():
    def chat(i, q, a):
        return Example(id=str(i), source="rating", messages=[{"role": "user", "content": q},
                                                             {"role": "assistant", "content": a}])
    examples = [chat(0, "Cat?", "Your cat is Dubu."), chat(1, "Name of my cat?", "Your cat is Dubu."),
                chat(2, "Capital of Italy?", "It is Rome."), chat(3, "Bees?", "Bees make honey."),
                chat(4, "Sister?", "Your sister is Yuna."), chat(5, "Who is my sister?", "Yuna is your sister.")]
    train, held = split(examples, 0.34, seed=1)
    assert len(held) == 2
    taught = " ".join(e.answer for e in train)
    for e in held:
        assert ("Dubu" in e.answer and "Dubu" in taught) or ("Yuna" in e.answer and "Yuna" in taught)


def test_nothing_to_learn_says_what_to_do():
    with pytest.raises(DatasetError, match="rate answers"):
        build([], limit=10, uncertain_share=0.5, holdout_share=0.2)


def test_documents_become_passages(tmp_path):
    (tmp_path / "notes.md").write_text("# Garden\n\n" + "Tomatoes need sun and water every day. " * 60)
    (tmp_path / ".hidden.md").write_text("secret " * 50)
    examples, skipped = from_documents([tmp_path], words_per_passage=100)
    assert examples and all(e.kind == "text" and e.source == "document" for e in examples)
    assert all("secret" not in e.text for e in examples)
    assert examples[0].text.startswith("Garden")
    with pytest.raises(DatasetError, match="does not exist"):
        from_documents([tmp_path / "missing"])


def test_a_dataset_round_trips_through_its_file(tmp_path):
    e = Example(id="1", source="document", text="hello world")
    Dataset([e], [Example(id="2", source="rating", messages=[{"role": "user", "content": "q"}])]).save(
        tmp_path / "d.jsonl")
    loaded = Dataset.load(tmp_path / "d.jsonl")
    assert loaded.train[0].text == "hello world" and loaded.held_out[0].question == "q"
