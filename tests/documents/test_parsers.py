"""Each supported file type is read with its locations; each kind of bad file fails alone with a clear reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.documents.parsers import ParseError, parse_file
from docfixtures import CSV_ROWS, make_bad_files, make_folder

MB = 1_000_000


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> dict[str, Path]:
    return make_folder(tmp_path_factory.mktemp("good"))


@pytest.fixture(scope="module")
def bad(tmp_path_factory) -> dict[str, Path]:
    return make_bad_files(tmp_path_factory.mktemp("bad"), huge_mb=1.5)


def test_pdf_text_keeps_its_page_numbers(good):
    parsed = parse_file(good["pdf"], 10 * MB)
    pages = {s.page: s.text for s in parsed.sections}
    assert sorted(pages) == [1, 2, 3]
    assert "1,850 euros" in pages[2] and "ninety days" in pages[3] and "Mira Okafor" in pages[1]


def test_docx_paragraphs_sit_under_their_headings_and_tables_are_read(good):
    parsed = parse_file(good["docx"], 10 * MB)
    by_heading = {s.section: s.text for s in parsed.sections}
    assert "240,000 dollars" in by_heading["Falcon plan > Budget"]
    assert "14th of October" in by_heading["Falcon plan > Timeline"]
    assert any("Sponsor | Adaeze Bright" in s.text for s in parsed.sections)


def test_markdown_sections_have_heading_paths_and_ignore_fenced_hashes(tmp_path):
    md = tmp_path / "n.md"
    md.write_text("# Top\nintro\n## Sub\nbody text\n```\n# not a heading\n```\n# Next\nmore\n", encoding="utf-8")
    sections = parse_file(md, MB).sections
    assert [s.section for s in sections] == ["Top", "Top > Sub", "Next"]
    assert "# not a heading" in sections[1].text


def test_html_gives_readable_text_without_scripts_or_styles(good):
    parsed = parse_file(good["html"], MB)
    text = "\n".join(s.text for s in parsed.sections)
    assert "Flat white costs 3.20" in text and "Lemon drizzle" in text
    assert "do-not-index-this" not in text and "color: red" not in text
    assert {s.section for s in parsed.sections} >= {"Cafe menu > Drinks", "Cafe menu > Cakes"}


def test_csv_becomes_a_table_and_searchable_rows(good):
    parsed = parse_file(good["csv"], MB)
    [table] = parsed.tables
    assert table.columns == list(CSV_ROWS[0]) and len(table.rows) == len(CSV_ROWS) - 1
    assert parsed.sections[0].rows == f"2-{len(CSV_ROWS)}"
    assert "invoice: INV-003; customer: ACME; amount: 750" in parsed.sections[0].text


def test_csv_with_semicolons_and_a_missing_header_cell(tmp_path):
    f = tmp_path / "eu.csv"
    f.write_text("name;;price\nPen;x;1,50\nInk;y;3\n", encoding="utf-8")
    [table] = parse_file(f, MB).tables
    assert table.columns == ["name", "column 2", "price"] and table.rows[0] == ["Pen", "x", "1,50"]


def test_xlsx_reads_every_sheet_with_sheet_names(good):
    parsed = parse_file(good["xlsx"], MB)
    assert [t.sheet for t in parsed.tables] == ["Stock", "Staff"]
    assert parsed.tables[0].columns == ["item", "warehouse", "quantity", "unit price"]
    assert parsed.tables[0].rows[3] == ["screws", "South", 1500, 0.04]
    assert {s.sheet for s in parsed.sections} == {"Stock", "Staff"}


def test_plain_text_with_a_utf8_bom(tmp_path):
    f = tmp_path / "bom.txt"
    f.write_bytes("\ufeffZoë's notes".encode("utf-8"))
    parsed = parse_file(f, MB)
    assert parsed.sections[0].text == "Zoë's notes" and not parsed.warnings


def test_latin1_text_is_read_with_a_warning(bad):
    parsed = parse_file(bad["latin1"], MB)
    assert "Café crème at the Brasserie Zoë" in parsed.sections[0].text
    assert parsed.warnings and "not UTF-8" in parsed.warnings[0]


@pytest.mark.parametrize("name, reason", [
    ("binary", "binary content"),
    ("encrypted", "encrypted PDF"),
    ("empty", "empty file"),
    ("huge", "too large"),
    ("fake_docx", "not a valid .docx"),
])
def test_bad_files_fail_with_a_clear_reason(bad, name, reason):
    with pytest.raises(ParseError, match=reason):
        parse_file(bad[name], MB)


def test_huge_file_reason_names_the_setting(bad):
    with pytest.raises(ParseError) as info:
        parse_file(bad["huge"], MB)
    assert "1.5 MB" in str(info.value) and "documents.max_file_mb" in str(info.value)


def test_unsupported_and_damaged_files(tmp_path):
    (tmp_path / "a.exe").write_bytes(b"MZ")
    with pytest.raises(ParseError, match="unsupported file type '.exe'"):
        parse_file(tmp_path / "a.exe", MB)
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is not really a pdf")
    with pytest.raises(ParseError, match="PDF"):
        parse_file(tmp_path / "broken.pdf", MB)
    (tmp_path / "blank.md").write_text("   \n\n  \n", encoding="utf-8")
    with pytest.raises(ParseError, match="no text found"):
        parse_file(tmp_path / "blank.md", MB)


def test_pdf_without_text_says_it_needs_ocr(tmp_path):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.rect(10, 10, 50, 50)
    pdf.output(str(tmp_path / "scan.pdf"))
    with pytest.raises(ParseError, match="OCR"):
        parse_file(tmp_path / "scan.pdf", MB)


def test_pdf_encrypted_with_an_empty_password_opens(tmp_path):
    from pypdf import PdfReader, PdfWriter

    from docfixtures import make_pdf

    plain = make_pdf(tmp_path / "p.pdf", ["Printing is restricted but reading is not."])
    writer = PdfWriter()
    for page in PdfReader(str(plain)).pages:
        writer.add_page(page)
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    with open(tmp_path / "restricted.pdf", "wb") as fh:
        writer.write(fh)
    parsed = parse_file(tmp_path / "restricted.pdf", MB)
    assert "reading is not" in parsed.sections[0].text
