"""Documents on the real components: the MiniLM embedder and the hybrid index (BM25 + Chroma)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.documents.relevance import DENSE_MIN
from docfixtures import make_folder

RELATED = [  # (question, file, page) - every one must clear DENSE_MIN with its own chunk
    ("What is the monthly rent?", "lease.pdf", 2), ("How much is the security deposit?", "lease.pdf", 2),
    ("How much notice do I need to give to end the lease?", "lease.pdf", 3), ("Are pets allowed?", "lease.pdf", 3),
    ("Who is the tenant of unit 4B?", "lease.pdf", 1),
    ("Who is the project lead of Project Falcon?", "falcon-plan.docx", None),
    ("What is the budget for Project Falcon?", "falcon-plan.docx", None),
    ("When is the go-live date?", "falcon-plan.docx", None), ("When were the tomatoes sown?", "garden.md", None),
    ("How often should I turn the compost?", "garden.md", None),
    ("What is the guest wifi password?", "wifi.txt", None), ("How much is a flat white?", "menu.html", None),
    ("What did ACME pay on invoice INV-003?", "invoices.csv", None),
    ("According to my documents, when were the tomatoes sown?", "garden.md", None),
    ("what does my lease say about pets", "lease.pdf", 3),
]
UNRELATED = [  # none may clear DENSE_MIN with any chunk
    "What is 12345 * 6789?", "What time is it in Tokyo?", "Who wrote the play Hamlet?", "Hi, how are you?",
    "Write a haiku about autumn.", "What is the capital of Mongolia?",
    "According to my documents, what is the capital of Mongolia?", "How do I bake sourdough bread?",
    "What's the weather like tomorrow?", "Tell me a joke about cats.",
    "According to my files, what is my dentist's phone number?", "What is the boiling point of water?",
    "Explain quantum entanglement simply.", "In my documents, what is the name of my car insurer?",
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("real") / "docs"
    make_folder(root)
    return root


@pytest.fixture
def service(tmp_path):
    from assistant.documents.service import DocumentService
    from assistant.paths import resolve_paths
    from assistant.settings import DocumentSettings

    service = DocumentService(tmp_path / "data", DocumentSettings(), models_paths=resolve_paths())
    yield service
    service.close()


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, folder):
    """One real service over the test folder, shared by the read-only tests of this module."""
    from assistant.documents.service import DocumentService
    from assistant.paths import resolve_paths
    from assistant.settings import DocumentSettings

    service = DocumentService(tmp_path_factory.mktemp("shared-data"), DocumentSettings(),
                              models_paths=resolve_paths())
    service.add([folder])
    state = service.sync()
    assert state.indexed == 7 and not state.errors
    yield service
    service.close()


def test_dense_threshold_separates_questions_about_the_documents_from_the_rest(indexed):
    """The calibration behind DENSE_MIN (see relevance.py), measured through the real hybrid index."""
    for question, name, page in RELATED:
        top = indexed.search(question, k=3)[0]
        assert top.relevant and top.dense >= DENSE_MIN, (question, top.dense)
        assert (top.file, top.page if page else None) == (name, page), question
    for message in UNRELATED:
        hits = indexed.search(message, k=12)
        assert all(p.dense < DENSE_MIN for p in hits), (message, max(p.dense for p in hits))
        assert not any(p.relevant for p in hits), message  # nor do keywords or codes match


def test_exact_codes_and_numbers_are_found_by_keywords(indexed):
    [top, *_] = indexed.relevant_passages("Which invoice is INV-006?")
    assert top.file == "invoices.csv" and "INV-006" in top.text
    assert indexed.relevant_passages("PELICAN-7731")[0].file == "wifi.txt"


def test_context_block_cites_the_right_file_and_page(indexed):
    block = indexed.context("How much is the security deposit?", "c")
    assert block.citations[0]["file"] == "lease.pdf" and block.citations[0]["page"] == 2
    assert "[1] lease.pdf, page 2:" in block.text
    block = indexed.context("When is the go-live date of Project Falcon?", "c")
    assert block.citations[0]["file"] == "falcon-plan.docx"
    assert block.citations[0]["section"] == "Falcon plan > Timeline"
    assert indexed.context("What time is it in Tokyo?", "c") is None
    assert "could not find that" in indexed.context("In my documents, who is my car insurer?", "c").text


def test_changes_reach_the_real_index(service, tmp_path):
    folder = tmp_path / "live"
    folder.mkdir()
    note = folder / "boat.md"
    note.write_text("# Boat\n\nThe sailing boat is moored at pier 9 in Hamble.\n", encoding="utf-8")
    service.add([folder])
    service.sync()
    assert service.relevant_passages("Where is the sailing boat moored?")[0].file == "boat.md"
    note.write_text("# Boat\n\nThe sailing boat was sold in May.\n", encoding="utf-8")
    service.sync()
    texts = [p.text for p in service.search("Where is the sailing boat moored?")]
    assert texts and not any("pier 9" in t for t in texts)
    service.remove(folder)
    assert service.search("sailing boat") == [] and service.index().count() == 0
