"""Spreadsheet questions are computed over the rows: counts, sums, filters, and forgiving names."""

from __future__ import annotations

import pytest

from assistant.documents.tables import TableQueryError, run_table_query, to_number
from docfixtures import ACME_TOTAL, INVOICES_OVER_500, make_csv, make_xlsx


@pytest.fixture
def service(make_service, tmp_path):
    service = make_service()
    folder = tmp_path / "sheets"
    folder.mkdir()
    make_csv(folder / "invoices.csv")
    make_xlsx(folder / "stock.xlsx")
    service.add([folder])
    service.sync()
    return service


def q(service, **kwargs):
    return run_table_query(service.store, **kwargs)


@pytest.mark.parametrize("raw, number", [("1,200.50", 1200.5), ("$500", 500), ("12%", 12), ("(30)", -30),
                                         ("2,500", 2500), ("INV-001", None), ("2024-01-05", None), ("", None),
                                         ("1.2.3", None), ("€3.20", 3.2)])
def test_to_number(raw, number):
    assert to_number(raw) == number


def test_count_with_a_numeric_filter(service):
    answer = q(service, file="invoices", operation="count", filter_column="amount", filter_op=">",
               filter_value="500")
    assert answer.value == INVOICES_OVER_500
    assert answer.rows == [2, 4, 7, 8]  # spreadsheet row numbers, header is row 1
    assert "count = 4" in answer.text and "amount > 500" in answer.text


def test_sum_for_one_customer_ignores_case(service):
    answer = q(service, file="invoices.csv", operation="sum", column="amount", filter_column="customer",
               filter_op="=", filter_value="acme")
    assert answer.value == pytest.approx(ACME_TOTAL)
    assert "2,030.5" in answer.text


def test_average_min_max_and_list(service):
    assert q(service, file="invoices", operation="max", column="amount").value == 2500
    assert q(service, file="invoices", operation="min", column="amount").value == 80
    assert q(service, file="invoices", operation="min", column="date").value == "2024-01-05"  # text min
    avg = q(service, file="invoices", operation="average", column="amount").value
    assert avg == pytest.approx((1200.5 + 300 + 750 + 499.99 + 80 + 2500 + 510) / 7, abs=1e-3)
    listed = q(service, file="invoices", operation="list", filter_column="customer", filter_op="contains",
               filter_value="glob")
    assert listed.value == 2 and "INV-002" in listed.text and "INV-006" in listed.text
    assert "INV-001" not in listed.text


def test_dates_compare_as_text(service):
    answer = q(service, file="invoices", operation="count", filter_column="date", filter_op=">=",
               filter_value="2024-02-01")
    assert answer.value == 5


def test_not_equal_and_no_filter(service):
    assert q(service, file="invoices", operation="count", filter_column="customer", filter_op="!=",
             filter_value="ACME").value == 4
    assert q(service, file="invoices", operation="count").value == 7


def test_forgiving_names_for_files_columns_and_filters(service):
    # plural column name, file named by stem, filter column guessed from the value
    assert q(service, file="invoice", operation="sum", column="amounts", filter_value="ACME",
             filter_op="=").value == pytest.approx(ACME_TOTAL)
    # "over 500" with a column name the table does not have: the one numeric column is used
    assert q(service, file="invoices", operation="count", filter_column="total", filter_op=">",
             filter_value="500").value == INVOICES_OVER_500
    # an xlsx sheet chosen by its columns when no file is named
    assert q(service, file="", operation="sum", column="quantity", filter_column="warehouse",
             filter_value="South").value == 2000


def test_errors_say_what_exists(service):
    with pytest.raises(TableQueryError, match="columns: invoice, customer, amount, date"):
        q(service, file="invoices", operation="list", column="colour")
    with pytest.raises(TableQueryError, match="several tables match"):
        q(service, file="", operation="count")
    with pytest.raises(TableQueryError, match="no numbers"):
        q(service, file="invoices", operation="sum", column="customer")
    with pytest.raises(TableQueryError, match="unknown operation"):
        q(service, file="invoices", operation="median", column="amount")


def test_no_tables_at_all(make_service):
    service = make_service()
    with pytest.raises(TableQueryError, match="no spreadsheets"):
        q(service, file="x", operation="count")


def test_changed_csv_replaces_its_table(service, tmp_path):
    make_csv(tmp_path / "sheets" / "invoices.csv", [("invoice", "amount"), ("A", "600"), ("B", "700")])
    service.sync()
    assert q(service, file="invoices", operation="count", filter_column="amount", filter_op=">",
             filter_value="500").value == 2
    assert len([t for t in service.tables() if t.path.endswith("invoices.csv")]) == 1
