"""The documents tools: exact table answers and document search, both with [n] citations the final event keeps."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from assistant.api import ToolContext, ToolError
from plugins.documents import search_documents, table_query

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "documents"))
from docfixtures import ACME_TOTAL, INVOICES_OVER_500, fake_service, make_folder  # noqa: E402


@pytest.fixture
def documents(tmp_path):
    make_folder(tmp_path / "docs")
    service = fake_service(tmp_path / "data")
    service.add([tmp_path / "docs"])
    service.sync()
    yield service
    service.close()


def ctx_with(documents, citations=None) -> ToolContext:
    return ToolContext(tool_name="t", documents=documents, citations=citations if citations is not None else [])


def test_contracts(tool_contract):
    spec = tool_contract(table_query)
    assert spec.schema["properties"]["operation"]["enum"] == ["count", "sum", "average", "min", "max", "list"]
    assert spec.schema["properties"]["filter_op"]["enum"] == [">", ">=", "<", "<=", "=", "!=", "contains"]
    assert spec.schema["required"] == ["operation"]  # everything else has a default the grammar can leave
    assert not spec.side_effects
    assert tool_contract(search_documents).schema["required"] == ["query"]


def test_router_style_arguments_validate(tool_runner):
    prepared = tool_runner.prepare(table_query, operation="count", file="invoices", filter_column="amount",
                                   filter_op=">", filter_value="500")
    assert not prepared.needs_approval
    bad = tool_runner.prepare(table_query, operation="count", filter_op="LIKE")
    assert not bad.ok and "invalid arguments" in bad.output


def test_count_is_computed_and_cited(documents):
    ctx = ctx_with(documents)
    out = table_query(ctx, operation="count", file="invoices", filter_column="amount", filter_op=">",
                      filter_value="500")
    assert out.startswith("[1] count = 4") and str(INVOICES_OVER_500) in out
    [cite] = ctx.citations
    assert cite["n"] == 1 and cite["file"] == "invoices.csv" and cite["source"].endswith("invoices.csv")
    assert cite["section"] == "rows 2, 4, 7, 8" and cite["page"] is None


def test_sum_continues_the_numbering_of_the_recalled_context(documents):
    earlier = [{"n": 1, "source": "/x/lease.pdf", "file": "lease.pdf", "page": 2}]
    ctx = ctx_with(documents, earlier)
    out = table_query(ctx, operation="sum", file="invoices.csv", column="amount", filter_column="customer",
                      filter_value="ACME")
    assert out.startswith("[2] sum of amount = 2,030.5") and ACME_TOTAL == 2030.5
    assert ctx.citations[1]["n"] == 2


def test_table_errors_reach_the_model_with_the_real_columns(documents):
    with pytest.raises(ToolError, match="columns: invoice, customer, amount, date"):
        table_query(ctx_with(documents), operation="list", file="invoices", column="colour")


def test_xlsx_sheet_is_named_in_the_citation(documents):
    ctx = ctx_with(documents)
    out = table_query(ctx, operation="max", file="stock.xlsx", column="quantity")
    assert "= 1,500" in out
    assert ctx.citations[0]["section"].startswith("Stock, rows")


def test_search_returns_numbered_passages_and_cites_them(documents):
    ctx = ctx_with(documents)
    out = search_documents(ctx, query="monthly rent deposit")
    assert out.startswith("[1] lease.pdf, page 2:") and "1,850 euros" in out
    assert ctx.citations[0]["page"] == 2 and ctx.citations[0]["chunk_id"]
    # the same passage cited again (e.g. already in the context block) keeps its number
    again = search_documents(ctx, query="monthly rent deposit")
    assert again.startswith("[1]") and len(ctx.citations) == len({c["chunk_id"] for c in ctx.citations})


def test_search_with_nothing_relevant(documents):
    out = search_documents(ctx_with(documents), query="submarine propeller")
    assert "Nothing about 'submarine propeller' was found" in out


def test_without_the_documents_service():
    with pytest.raises(ToolError, match="not available"):
        search_documents(ToolContext(tool_name="t"), query="x")


def test_with_no_documents_added(tmp_path):
    service = fake_service(tmp_path / "data")
    try:
        assert "no indexed documents" in search_documents(ctx_with(service), query="rent")
        with pytest.raises(ToolError, match="no spreadsheets"):
            table_query(ctx_with(service), operation="count")
    finally:
        service.close()


def test_through_the_executor_like_the_app(tool_runner, documents):
    outcome = tool_runner(table_query, documents=documents, operation="count", file="invoices.csv",
                          filter_column="customer", filter_op="=", filter_value="Globex")
    assert outcome.ok and "count = 2" in outcome.output
    failed = tool_runner(table_query, documents=documents, operation="sum", file="invoices", column="colour")
    assert not failed.ok and "columns: invoice, customer, amount, date" in failed.output
