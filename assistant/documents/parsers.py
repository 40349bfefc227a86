"""Read one file into text sections (with page/heading/rows) and tables, or fail with a plain reason."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from assistant.documents.htmltext import html_sections
from assistant.documents.textdecode import DecodeError, decode_text
from assistant.text import clean_text

SUPPORTED = {".txt": "text", ".text": "text", ".md": "markdown", ".markdown": "markdown", ".pdf": "pdf",
             ".docx": "docx", ".html": "html", ".htm": "html", ".csv": "csv", ".xlsx": "xlsx"}
TABLE_ROWS_PER_SECTION = 20  # rows of a table rendered into one searchable section


class ParseError(Exception):
    """The file cannot be indexed; the message says why in plain words."""


@dataclass
class Section:
    """A run of text with where it sits in the file: page (pdf), heading (md/docx/html), sheet/rows (tables)."""

    text: str
    page: int | None = None
    section: str | None = None
    sheet: str | None = None
    rows: str | None = None  # "2-21": data rows of a sheet, counted as in a spreadsheet (header = 1)


@dataclass
class Table:
    """A sheet with a header row: loaded into SQLite so questions can count and sum over it."""

    sheet: str
    columns: list[str]
    rows: list[list[Any]]


@dataclass
class ParsedFile:
    """What a parser found in one file."""

    kind: str
    sections: list[Section] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def file_kind(path: Path) -> str | None:
    """The parser name for this file's extension, or None when it is not supported."""
    return SUPPORTED.get(path.suffix.lower())


def parse_file(path: Path, max_bytes: int) -> ParsedFile:
    """Parse `path`; raises ParseError (unsupported, too large, empty, binary, encrypted, unreadable)."""
    kind = file_kind(path)
    if kind is None:
        raise ParseError(f"unsupported file type {path.suffix or '(no extension)'!r}; supported: "
                         + ", ".join(sorted(SUPPORTED)))
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise ParseError(f"too large: {size / 1e6:.1f} MB, the limit is {max_bytes / 1e6:g} MB "
                             "(documents.max_file_mb)")
        if size == 0:
            raise ParseError("empty file")
        data = path.read_bytes()
    except PermissionError:
        raise ParseError("permission denied") from None
    except OSError as exc:
        raise ParseError(f"cannot read the file: {exc.strerror or exc}") from None
    parsed = _PARSERS[kind](data, path)
    _clean_parsed(parsed)
    parsed.sections = [s for s in parsed.sections if s.text.strip()]
    if not parsed.sections:
        raise ParseError("no text found" + (" (a scanned PDF needs OCR, which Biseo does not do)"
                                            if kind == "pdf" else " (the file is empty or blank)"))
    return parsed


def _clean_parsed(parsed: ParsedFile) -> None:
    """Drop NUL, terminal escapes and other control characters (and lone surrogates) from everything found:
    the text is shown in the terminal and the app and put into the model's prompt."""
    for section in parsed.sections:
        section.text = clean_text(section.text.replace("\x0c", "\n"))  # form feed: a page break in text files
        section.section = clean_text(section.section) if section.section else section.section
        section.sheet = clean_text(section.sheet) if section.sheet else section.sheet
    for table in parsed.tables:
        table.sheet = clean_text(table.sheet)
        table.columns = [clean_text(c) for c in table.columns]
        table.rows = [[clean_text(v) if isinstance(v, str) else v for v in row] for row in table.rows]


def _text(data: bytes, path: Path) -> tuple[str, list[str]]:
    try:
        decoded = decode_text(data)
    except DecodeError as exc:
        raise ParseError(str(exc)) from None
    return decoded.text, decoded.warnings


def parse_text(data: bytes, path: Path) -> ParsedFile:
    text, warnings = _text(data, path)
    return ParsedFile("text", [Section(text)], warnings=warnings)


_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def parse_markdown(data: bytes, path: Path) -> ParsedFile:
    """Sections split at ATX headings; each keeps its heading path ("Setup > Install")."""
    text, warnings = _text(data, path)
    sections: list[Section] = []
    trail: list[tuple[int, str]] = []
    lines: list[str] = []
    in_fence = False

    def flush() -> None:
        if "".join(lines).strip():
            sections.append(Section("".join(lines), section=" > ".join(t for _, t in trail) or None))
        lines.clear()

    for line in text.splitlines(keepends=True):
        if _FENCE.match(line):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line.rstrip("\n"))
        if match:
            flush()
            level = len(match.group(1))
            trail = [(lv, t) for lv, t in trail if lv < level] + [(level, match.group(2).strip())]
        lines.append(line)  # the heading stays in its section's text: it is what people search for
    flush()
    return ParsedFile("markdown", sections, warnings=warnings)


def parse_html(data: bytes, path: Path) -> ParsedFile:
    text, warnings = _text(data, path)
    return ParsedFile("html", [Section(t, section=h) for h, t in html_sections(text)], warnings=warnings)


def parse_pdf(data: bytes, path: Path) -> ParsedFile:
    """One section per page, numbered from 1 as a PDF viewer shows them."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            # Many PDFs are "encrypted" with an empty password only to restrict printing; those open.
            try:
                opened = reader.decrypt("")
            except Exception:  # noqa: BLE001 - pypdf raises several types for unsupported crypto
                opened = 0
            if not opened:
                raise ParseError("encrypted PDF: it needs a password, so its text cannot be read")
        sections = []
        for number, page in enumerate(reader.pages, start=1):
            sections.append(Section(page.extract_text() or "", page=number))
    except ParseError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ParseError(f"damaged or unreadable PDF ({type(exc).__name__}: {exc})") from None
    except Exception as exc:  # noqa: BLE001 - pypdf can fail in many ways on broken files; one file only
        raise ParseError(f"damaged or unreadable PDF ({type(exc).__name__}: {exc})") from None
    return ParsedFile("pdf", sections)


def parse_docx(data: bytes, path: Path) -> ParsedFile:
    """Paragraphs grouped under their Heading-styled paragraphs; tables become "a | b | c" lines."""
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise ParseError("not a valid .docx file (it is not a zip archive; an old .doc renamed?)") from None
    except Exception as exc:  # noqa: BLE001 - python-docx raises KeyError/ValueError on odd packages
        raise ParseError(f"damaged or unreadable .docx ({type(exc).__name__}: {exc})") from None
    sections: list[Section] = []
    trail: list[tuple[int, str]] = []
    lines: list[str] = []

    def flush() -> None:
        if any(line.strip() for line in lines):
            sections.append(Section("\n\n".join(lines), section=" > ".join(t for _, t in trail) or None))
        lines.clear()

    from docx.table import Table as DocxTable

    for block in document.iter_inner_content():  # paragraphs and tables in reading order
        if isinstance(block, DocxTable):
            for row in block.rows:
                cells = [c.text.strip() for c in row.cells]
                if any(cells):
                    lines.append(" | ".join(cells))
            continue
        text = block.text.strip()
        style = (block.style.name if block.style is not None else "") or ""
        level = _heading_level(style)
        if level and text:
            flush()
            trail = [(lv, t) for lv, t in trail if lv < level] + [(level, text)]
        if text:
            lines.append(text)
    flush()
    return ParsedFile("docx", sections)


def _heading_level(style: str) -> int:
    """0 for body text; the Title sits above Heading 1."""
    if style == "Title":
        return 1
    match = re.match(r"Heading (\d)", style)
    return int(match.group(1)) + 1 if match else 0


def parse_csv(data: bytes, path: Path) -> ParsedFile:
    text, warnings = _text(data, path)
    sample = text[:20000]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    try:
        rows = [row for row in csv.reader(io.StringIO(text), dialect) if any(c.strip() for c in row)]
    except csv.Error as exc:
        raise ParseError(f"malformed CSV: {exc}") from None
    table = _table(path.stem, rows)
    parsed = ParsedFile("csv", warnings=warnings)
    if table is not None:
        parsed.tables.append(table)
        parsed.sections = _table_sections(table, sheet=None)
    return parsed


def parse_xlsx(data: bytes, path: Path) -> ParsedFile:
    import openpyxl

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except zipfile.BadZipFile:
        raise ParseError("not a valid .xlsx file (it is not a zip archive; an old .xls renamed?)") from None
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types on odd workbooks
        raise ParseError(f"damaged or unreadable .xlsx ({type(exc).__name__}: {exc})") from None
    parsed = ParsedFile("xlsx")
    try:
        for sheet in book.worksheets:
            rows = [["" if v is None else v for v in row] for row in sheet.iter_rows(values_only=True)]
            rows = [r for r in rows if any(str(v).strip() for v in r)]
            table = _table(sheet.title, rows)
            if table is not None:
                parsed.tables.append(table)
                parsed.sections += _table_sections(table, sheet=sheet.title)
    finally:
        book.close()
    return parsed


def _table(name: str, rows: list[list[Any]]) -> Table | None:
    """First non-empty row is the header; blank or repeated column names get unique names."""
    if not rows:
        return None
    width = max(len(r) for r in rows)
    header: list[str] = []
    for i in range(width):
        raw = str(rows[0][i]).strip() if i < len(rows[0]) else ""
        label = raw or f"column {i + 1}"
        while label in header:
            label += "_"
        header.append(label)
    body = [list(r) + [""] * (width - len(r)) for r in rows[1:]]
    return Table(name, header, body)


def _table_sections(table: Table, sheet: str | None) -> list[Section]:
    """Rows rendered as "column: value" lines, a few dozen per section, so search can find a row."""
    sections = []
    for start in range(0, max(len(table.rows), 1), TABLE_ROWS_PER_SECTION):
        part = table.rows[start:start + TABLE_ROWS_PER_SECTION]
        lines = ["; ".join(f"{c}: {v}" for c, v in zip(table.columns, row) if str(v).strip()) for row in part]
        if not part:
            lines = ["columns: " + ", ".join(table.columns)]
        first, last = start + 2, start + 1 + max(len(part), 1)  # spreadsheet row numbers; header is row 1
        sections.append(Section("\n".join(lines), sheet=sheet, section=sheet,
                                rows=f"{first}-{last}" if part else None))
    return sections


_PARSERS: dict[str, Callable[[bytes, Path], ParsedFile]] = {
    "text": parse_text, "markdown": parse_markdown, "pdf": parse_pdf, "docx": parse_docx, "html": parse_html,
    "csv": parse_csv, "xlsx": parse_xlsx,
}
