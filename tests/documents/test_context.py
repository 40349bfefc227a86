"""The per-turn context: relevant passages numbered [n] with structured citations; a not-found note when asked."""

from __future__ import annotations

import pytest

from assistant.documents.relevance import about_documents, judge, key_terms
from assistant.documents.service import NOT_FOUND
from docfixtures import make_folder


@pytest.fixture
def service(make_service, tmp_path):
    make_folder(tmp_path / "docs")
    service = make_service()
    service.add([tmp_path / "docs"])
    service.sync()
    return service


@pytest.mark.parametrize("text", [
    "What does my lease say about pets? Check my documents.",
    "According to my notes, when were the tomatoes sown?",
    "in my files, who is the project lead?",
    "What do my documents say about the deposit?",
    "My notes say something about compost, what was it?",
    "Search my PDFs for the notice period",
])
def test_questions_about_the_documents(text):
    assert about_documents(text)


@pytest.mark.parametrize("text", [
    "What is 12345 * 6789?", "What time is it in Tokyo?", "Write a haiku about documents.",
    "How do I organise files on Linux?", "Who wrote Hamlet?",
])
def test_questions_not_about_the_documents(text):
    assert not about_documents(text)


def test_key_terms_drop_stop_words_and_document_talk():
    assert key_terms("According to my documents, what is the wifi password?") == ["wifi", "password"]
    assert key_terms("Who sent invoice INV-0042?") == ["sent", "invoice", "inv-0042"]


def test_judge_uses_either_signal():
    assert judge("monthly rent", "The monthly rent is 1,850 euros.", dense=0.6).relevant
    assert not judge("what time is it", "The monthly rent is 1,850 euros.", dense=0.05).relevant
    # the embedding is vague about codes; a rare exact term carries it
    assert judge("Who has code PELICAN-7731?", "The guest wifi password is PELICAN-7731.", dense=0.1).relevant
    # common words alone do not
    assert not judge("is it day", "Rent is due on the first day.", dense=0.1).relevant


def test_relevant_passages_become_a_numbered_block_with_structured_citations(service):
    block = service.context("What is the monthly rent and the security deposit?", "c1")
    assert block is not None
    assert block.text.startswith("Passages from the user's documents:")
    assert "[1] lease.pdf, page 2:" in block.text and "1,850 euros" in block.text
    assert "cite the ones you used by number, like [1]" in block.text
    # the passages are the documents' text: marked untrusted; the app's own instruction is not
    inside = block.text.split('<untrusted source="documents">\n', 1)[1].split("\n</untrusted>", 1)[0]
    assert "1,850 euros" in inside and "cite the ones" not in inside and block.marked
    assert block.text.count("\n[") == len(block.citations)  # one line per passage
    first = block.citations[0]
    assert first["n"] == 1 and first["file"] == "lease.pdf" and first["page"] == 2
    assert first["source"].endswith("lease.pdf") and first["chunk_id"] and "1,850" in first["snippet"]
    assert set(first) == {"n", "source", "file", "page", "section", "snippet", "chunk_id"}
    assert [c["n"] for c in block.citations] == list(range(1, len(block.citations) + 1))


def test_citations_name_sections_and_table_rows(service):
    block = service.context("When were the San Marzano tomatoes sown?", "c1")
    assert block.citations[0]["file"] == "garden.md"
    assert block.citations[0]["section"] == "Garden notes > Tomatoes"
    rows = service.context("invoice INV-003 customer ACME amount", "c1")
    top = rows.citations[0]
    assert top["file"] == "invoices.csv" and top["section"] == "rows 2-8" and top["page"] is None


def test_unrelated_message_gets_no_context(service):
    assert service.context("What is 12345 * 6789?", "c1") is None


def test_document_question_with_nothing_relevant_says_not_found(service):
    block = service.context("According to my documents, what is the capital of Mongolia?", "c1")
    assert block is not None and block.text == NOT_FOUND and block.citations == []
    assert "could not find that in your documents" in block.text


def test_no_documents_means_nothing_is_opened(make_service, fake_index):
    service = make_service()
    assert service.context("According to my documents, what is the rent?", "c1") is None
    assert not service.db_path.exists()  # a user without documents pays nothing per turn


def test_disabled_documents_give_no_context(make_service, tmp_path):
    make_folder(tmp_path / "docs")
    service = make_service(enabled=False)
    service.add([tmp_path / "docs"])
    service.sync()
    assert service.context("What is the monthly rent?", "c1") is None


def test_top_k_limits_passages(make_service, tmp_path):
    make_folder(tmp_path / "docs")
    service = make_service(top_k=1)
    service.add([tmp_path / "docs"])
    service.sync()
    block = service.context("Project Falcon budget timeline lead", "c1")
    assert len(block.citations) == 1 and block.citations[0]["file"] == "falcon-plan.docx"


def test_passages_far_below_the_best_one_are_dropped():
    from assistant.documents.relevance import judge_all

    verdicts = judge_all("What is the monthly rent in my lease?",
                         ["The monthly rent is 1,850 euros.", "Either party may end the lease.",
                          "Harbor Lease Agreement between Kestrel Holdings and Mira Okafor."],
                         [0.73, 0.42, 0.39])
    assert [v.relevant for v in verdicts] == [True, False, False]
    # a passage that also matches by keywords stays, however far below
    kept = judge_all("Who holds code PELICAN-7731?", ["rent text", "The guest wifi password is PELICAN-7731."],
                     [0.9, 0.33])
    assert kept[1].relevant


def test_sums_and_counts_over_a_known_spreadsheet_ask_for_the_table_tool(service):
    for question in ("What is the total amount for ACME?", "How many invoices are over 500?",
                     "average amount in invoices.csv"):
        block = service.context(question, "c1")
        assert block is not None and block.tools == ["table_query"], question
        # The tool-choice step is told the named spreadsheet's columns, and no other spreadsheet.
        assert "invoices.csv (columns: invoice, customer, amount, date)" in block.router_note
        assert "stock.xlsx" not in block.router_note
    for question in ("How many days until Christmas?", "What is the monthly rent in my lease?",
                     "What is 12345 * 6789?"):
        block = service.context(question, "c1")
        assert block is None or block.tools == [], question
