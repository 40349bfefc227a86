"""Real document files with known contents, generated at test time (pdf, docx, md, csv, xlsx, html, bad ones)."""

from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Sequence

from assistant.index.base import Hit, IndexItem

PDF_PAGES = [
    "Harbor Lease Agreement. This lease is made between Kestrel Holdings and the tenant Mira Okafor. "
    "The premises are unit 4B at 12 Quay Street.",
    "Rent and deposit. The monthly rent is 1,850 euros, due on the first day of each month. "
    "The security deposit is 3,700 euros and is returned within 30 days after the lease ends.",
    "Termination. Either party may end the lease with ninety days written notice. "
    "Pets are allowed only with written consent of the landlord.",
]

DOCX_SECTIONS = [
    ("Project Falcon overview", "Project Falcon replaces the old billing system. The project lead is Tomasz Wren."),
    ("Budget", "The approved budget for Project Falcon is 240,000 dollars, split over two quarters."),
    ("Timeline", "The go-live date for Project Falcon is the 14th of October. Testing starts in August."),
]

MARKDOWN = """# Garden notes

General notes about the allotment.

## Tomatoes

The San Marzano tomatoes were sown on March 12 in the greenhouse. They need watering every second day.

## Compost

Turn the compost heap every three weeks. Never add cooked food or meat to it.
"""

CSV_ROWS = [
    ("invoice", "customer", "amount", "date"),
    ("INV-001", "ACME", "1200.50", "2024-01-05"),
    ("INV-002", "Globex", "300", "2024-01-09"),
    ("INV-003", "ACME", "750", "2024-02-01"),
    ("INV-004", "Initech", "499.99", "2024-02-11"),
    ("INV-005", "ACME", "80", "2024-02-20"),
    ("INV-006", "Globex", "2,500", "2024-03-02"),
    ("INV-007", "Umbrella", "510", "2024-03-15"),
]
# Computed by hand from CSV_ROWS, so tests check the table code against independent numbers.
INVOICES_OVER_500 = 4  # 1200.50, 750, 2500, 510
ACME_TOTAL = 2030.5  # 1200.50 + 750 + 80

HTML = """<!doctype html><html><head><title>Cafe menu</title><style>body { color: red; }</style>
<script>var secret = "do-not-index-this";</script></head>
<body><nav>Home | About</nav><h1>Cafe menu</h1><p>Open daily from 8 to 18.</p>
<h2>Drinks</h2><p>Flat white costs 3.20. Oat milk is free.</p>
<h2>Cakes</h2><ul><li>Lemon drizzle</li><li>Carrot cake</li></ul></body></html>
"""


def make_pdf(path: Path, pages: list[str] = PDF_PAGES) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 8, text)
    pdf.output(str(path))
    return path


def make_encrypted_pdf(path: Path) -> Path:
    from pypdf import PdfReader, PdfWriter

    plain = make_pdf(path.with_name("plain-for-encryption.pdf"), ["Secret salary figures."])
    writer = PdfWriter()
    for page in PdfReader(str(plain)).pages:
        writer.add_page(page)
    writer.encrypt(user_password="open-sesame", owner_password="owner", algorithm="RC4-128")
    with open(path, "wb") as fh:
        writer.write(fh)
    plain.unlink()
    return path


def make_docx(path: Path, sections=DOCX_SECTIONS) -> Path:
    import docx

    document = docx.Document()
    document.add_heading("Falcon plan", level=0)
    for heading, text in sections:
        document.add_heading(heading, level=1)
        document.add_paragraph(text)
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Role", "Name"
    table.cell(1, 0).text, table.cell(1, 1).text = "Sponsor", "Adaeze Bright"
    document.save(str(path))
    return path


def make_csv(path: Path, rows=CSV_ROWS) -> Path:
    import csv

    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return path


def make_xlsx(path: Path) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Stock"
    sheet.append(["item", "warehouse", "quantity", "unit price"])
    for row in (["bolts", "North", 1200, 0.05], ["nuts", "North", 800, 0.03], ["washers", "South", 500, 0.02],
                ["screws", "South", 1500, 0.04]):
        sheet.append(row)
    staff = book.create_sheet("Staff")
    staff.append(["name", "team"])
    staff.append(["Ines", "North"])
    book.save(str(path))
    return path


def make_folder(root: Path) -> dict[str, Path]:
    """One of each good type in `root` (created)."""
    root.mkdir(parents=True, exist_ok=True)
    files = {
        "pdf": make_pdf(root / "lease.pdf"),
        "docx": make_docx(root / "falcon-plan.docx"),
        "md": root / "garden.md",
        "csv": make_csv(root / "invoices.csv"),
        "xlsx": make_xlsx(root / "stock.xlsx"),
        "html": root / "menu.html",
        "txt": root / "wifi.txt",
    }
    files["md"].write_text(MARKDOWN, encoding="utf-8")
    files["html"].write_text(HTML, encoding="utf-8")
    files["txt"].write_text("The guest wifi password is PELICAN-7731. The router is in the hall cupboard.\n",
                            encoding="utf-8")
    return files


def make_bad_files(root: Path, *, huge_mb: float = 2.0) -> dict[str, Path]:
    """Files that must fail (or warn) with a clear reason, each on its own."""
    root.mkdir(parents=True, exist_ok=True)
    bad = {
        "binary": root / "photo.txt",
        "encrypted": make_encrypted_pdf(root / "locked.pdf"),
        "latin1": root / "resume-latin1.txt",
        "empty": root / "empty.md",
        "huge": root / "huge.txt",
        "fake_docx": root / "old.docx",
    }
    bad["binary"].write_bytes(bytes(range(256)) * 40)
    bad["latin1"].write_text("Café crème at the Brasserie Zoë costs 4 euros.\n", encoding="latin-1")
    bad["empty"].write_bytes(b"")
    bad["huge"].write_bytes(b"word " * int(huge_mb * 1_000_000 / 5 + 10))
    bad["fake_docx"].write_bytes(b"This is a plain text file pretending to be a docx.")
    return bad


# ---------------------------------------------------------------- fakes for fast unit tests

_WORD = re.compile(r"[a-z0-9]+")


def _bag(text: str) -> Counter:
    return Counter(_WORD.findall(text.lower()))


def bag_cosine(a: str, b: str) -> float:
    x, y = _bag(a), _bag(b)
    dot = sum(x[w] * y[w] for w in x)
    norm = math.sqrt(sum(v * v for v in x.values())) * math.sqrt(sum(v * v for v in y.values()))
    return dot / norm if norm else 0.0


class FakeIndex:
    """In-memory SearchIndex: ranks by shared words; records calls so tests can see what reached it."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder
        self.items: dict[str, IndexItem] = {}
        self.upserts = 0
        self.closed = False

    def upsert(self, items: Sequence[IndexItem]) -> None:
        self.upserts += len(items)
        for item in items:
            self.items[item.id] = item

    def delete(self, ids: Sequence[str]) -> None:
        for i in ids:
            self.items.pop(i, None)

    def search(self, query: str, k: int = 10, where: dict[str, Any] | None = None) -> list[Hit]:
        scored = [(bag_cosine(query, f"{it.metadata.get('context', '')}\n{it.text}"), it)
                  for it in self.items.values()
                  if not where or all(it.metadata.get(key) == v for key, v in where.items())]
        scored = sorted((s for s in scored if s[0] > 0), key=lambda s: -s[0])[:k]
        return [Hit(it.id, s, it.text, dict(it.metadata), {"fake": s}) for s, it in scored]

    def count(self) -> int:
        return len(self.items)

    def rebuild(self, items: Iterable[IndexItem]) -> None:
        self.items = {}
        self.upsert(list(items))

    def close(self) -> None:
        self.closed = True


def fake_service(data_dir: Path, index: FakeIndex | None = None, **settings: Any):
    """A DocumentService on a FakeIndex and word-overlap similarity: no model loads, fast."""
    from assistant.documents.service import DocumentService
    from assistant.settings import DocumentSettings

    index = index if index is not None else FakeIndex()
    return DocumentService(data_dir, DocumentSettings(**settings), index_factory=lambda folder: index,
                           similarity=lambda query, texts: [bag_cosine(query, t) for t in texts])
