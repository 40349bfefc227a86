"""Spreadsheets as real SQLite tables, and the fixed set of computations a tool may ask of them."""

from __future__ import annotations

import difflib
import json
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from assistant.documents.parsers import Table

if TYPE_CHECKING:
    from assistant.documents.store import DocumentStore, TableRow

Operation = Literal["count", "sum", "average", "min", "max", "list"]
FilterOp = Literal[">", ">=", "<", "<=", "=", "!=", "contains"]
OPERATIONS = ("count", "sum", "average", "min", "max", "list")
FILTER_OPS = (">", ">=", "<", "<=", "=", "!=", "contains")
LIST_LIMIT = 20

_NUMBER = re.compile(r"^[-+]?(\d{1,3}(,\d{3})+|\d+)?(\.\d+)?$")


class TableQueryError(ValueError):
    """The question cannot be computed as asked; the message lists what is available."""


def to_number(value: Any) -> int | float | None:
    """1,234.50 / $500 / 12% / (30) / 1 234 -> a number; anything else -> None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    text = str(value).strip()
    if not text:
        return None
    negative = text.startswith("(") and text.endswith(")")
    text = text.strip("()").replace("\u00a0", "").replace(" ", "")
    text = re.sub(r"^[$€£¥₩]|[$€£¥₩%]$|^(USD|EUR|GBP|KRW)|(USD|EUR|GBP|KRW)$", "", text, flags=re.I)
    if not text or not _NUMBER.match(text) or not re.search(r"\d", text):
        return None
    number = float(text.replace(",", ""))
    number = -number if negative else number
    return int(number) if number.is_integer() and "." not in text else number


def _cell(value: Any) -> Any:
    """What SQLite stores: numbers as numbers (so > and SUM work), dates and text as text."""
    if value is None:
        return None
    number = to_number(value)
    if number is not None:
        return number
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ") if hasattr(value, "hour") else value.isoformat()
    text = str(value).strip()
    return text or None


def store_table(db: sqlite3.Connection, file_id: int, table: Table) -> None:
    """Create the table (columns c0..cN plus the spreadsheet row number) inside the caller's transaction."""
    index = db.execute("SELECT COUNT(*) FROM doc_tables WHERE file_id = ?", (file_id,)).fetchone()[0]
    name = f"sheet_{file_id}_{index}"
    db.execute(f'DROP TABLE IF EXISTS "{name}"')
    cols = ", ".join(f"c{i}" for i in range(len(table.columns)))
    db.execute(f'CREATE TABLE "{name}" (row_number INTEGER PRIMARY KEY, {cols})')
    marks = ", ".join("?" * (len(table.columns) + 1))
    db.executemany(f'INSERT INTO "{name}" VALUES ({marks})',
                   [(n, *[_cell(v) for v in row]) for n, row in enumerate(table.rows, start=2)])
    db.execute("INSERT INTO doc_tables(file_id, sheet, name, columns, row_count) VALUES (?, ?, ?, ?, ?)",
               (file_id, table.sheet, name, json.dumps(table.columns), len(table.rows)))


@dataclass
class TableAnswer:
    """A computed result with the rows it came from, ready to show and to cite."""

    text: str
    value: Any
    table: "TableRow"
    rows: list[int] = field(default_factory=list)


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", name.lower()).strip()


def _singular(word: str) -> str:
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


def resolve_column(columns: list[str], name: str | None) -> int | None:
    """Index of the column the model meant: exact, case/plural-insensitive, contained, or close spelling."""
    if not name or not name.strip():
        return None
    want = _norm(name)
    normed = [_norm(c) for c in columns]
    for test in (lambda c: c == want, lambda c: _singular(c) == _singular(want),
                 lambda c: bool(c) and (want in c.split() or c in want.split()),
                 lambda c: bool(c) and (want in c or c in want)):
        hits = [i for i, c in enumerate(normed) if test(c)]
        if len(hits) == 1:
            return hits[0]
    close = difflib.get_close_matches(want, normed, n=1, cutoff=0.75)
    return normed.index(close[0]) if close else None


def resolve_table(tables: list["TableRow"], file: str | None, wanted_columns: list[str]) -> "TableRow":
    """The table the model meant by file name (or sheet), else the only table whose columns fit."""
    if not tables:
        raise TableQueryError("no spreadsheets or CSV files are indexed; add some with `biseo docs add`")
    candidates = tables
    if file and file.strip():
        want = _norm(Path(file.strip()).name)
        stem = _norm(Path(file.strip()).stem)

        def names(t: "TableRow") -> list[str]:
            return [_norm(Path(t.path).name), _norm(Path(t.path).stem), _norm(t.sheet),
                    _norm(f"{Path(t.path).stem} {t.sheet}")]

        for test in (lambda n: n in (want, stem), lambda n: _singular(n) == _singular(stem),
                     lambda n: bool(stem) and (stem in n or (bool(n) and n in stem))):
            hits = [t for t in tables if any(test(n) for n in names(t))]
            if hits:
                candidates = hits
                break
        else:
            close = difflib.get_close_matches(stem, [n for t in tables for n in names(t)], n=1, cutoff=0.7)
            candidates = [t for t in tables if close and close[0] in names(t)] or tables
    if len(candidates) > 1:
        fitting = [t for t in candidates
                   if all(resolve_column(t.columns, c) is not None for c in wanted_columns if c)]
        candidates = fitting or candidates
    if len(candidates) > 1:
        raise TableQueryError("several tables match; name one with `file`: " + describe_tables(candidates))
    return candidates[0]


def describe_tables(tables: list["TableRow"]) -> str:
    return "; ".join(f"{Path(t.path).name}" + (f" sheet {t.sheet!r}" if t.sheet != Path(t.path).stem else "")
                     + f" (columns: {', '.join(t.columns)})" for t in tables)


def run_table_query(store: "DocumentStore", *, file: str | None, operation: str, column: str | None = None,
                    filter_column: str | None = None, filter_op: str | None = None,
                    filter_value: str | None = None) -> TableAnswer:
    """Compute count/sum/average/min/max/list over one table, with at most one filter; SQL is built here."""
    if operation not in OPERATIONS:
        raise TableQueryError(f"unknown operation {operation!r}; use one of {', '.join(OPERATIONS)}")
    has_filter = bool(filter_column and str(filter_column).strip()) or (filter_value not in (None, ""))
    table = resolve_table(store.tables(), file, [column or "", filter_column or ""])
    where, args, filter_text = "", [], ""
    if has_filter:
        fi = resolve_column(table.columns, filter_column)
        if fi is None and filter_value not in (None, ""):
            fi = _column_holding(store, table, str(filter_value))
        if fi is None and filter_op in (">", ">=", "<", "<=") and to_number(filter_value) is not None:
            fi = _only_numeric_column(store, table)  # "invoices over 500": the one amount-like column
        if fi is None:
            raise TableQueryError(f"no column {filter_column!r} in {Path(table.path).name}; columns: "
                                  + ", ".join(table.columns))
        op = filter_op or "="
        if op not in FILTER_OPS:
            raise TableQueryError(f"unknown filter_op {op!r}; use one of {' '.join(FILTER_OPS)}")
        where, args = _condition(f"c{fi}", op, "" if filter_value is None else str(filter_value))
        filter_text = f" where {table.columns[fi]} {op} {filter_value}"
    ci = resolve_column(table.columns, column)
    if operation in ("sum", "average", "min", "max"):
        if ci is None and not (column and column.strip()):
            ci = _only_numeric_column(store, table)  # "the total?" with one numeric column: that one
        if ci is None:
            wanted = f"no column {column!r} in" if column and column.strip() else f"{operation} needs a column of"
            raise TableQueryError(f"{wanted} {Path(table.path).name}; columns: " + ", ".join(table.columns))
    elif column and ci is None and operation == "list":
        raise TableQueryError(f"no column {column!r} in {Path(table.path).name}; columns: "
                              + ", ".join(table.columns))
    source = f'"{table.name}"'
    matched = [r["row_number"] for r in store.query(f"SELECT row_number FROM {source}{where} ORDER BY row_number",
                                                    args)]
    name = Path(table.path).name + (f" (sheet {table.sheet})" if table.sheet != Path(table.path).stem else "")
    scope = f"{len(matched)} of {table.row_count} rows of {name}{filter_text}"
    if operation == "count":
        return TableAnswer(f"count = {len(matched)} ({scope})", len(matched), table, matched)
    if operation == "list":
        cols = [ci] if ci is not None else list(range(len(table.columns)))
        sel = ", ".join(f"c{i}" for i in cols)
        rows = store.query(f"SELECT row_number, {sel} FROM {source}{where} ORDER BY row_number LIMIT {LIST_LIMIT}",
                           args)
        lines = [f"row {r['row_number']}: " + "; ".join(f"{table.columns[i]}: {_show(r[f'c{i}'])}" for i in cols)
                 for r in rows]
        more = f"\n(first {LIST_LIMIT} shown)" if len(matched) > LIST_LIMIT else ""
        return TableAnswer(f"{scope}:\n" + ("\n".join(lines) or "(no rows)") + more, len(matched), table, matched)
    col = f"c{ci}"
    numeric = f"CASE WHEN typeof({col}) IN ('integer', 'real') THEN {col} END"
    func = {"sum": "SUM", "average": "AVG", "min": "MIN", "max": "MAX"}[operation]
    row = store.query(f"SELECT {func}({numeric}) AS v, COUNT({numeric}) AS n, COUNT({col}) AS total "
                      f"FROM {source}{where}", args)[0]
    value, used, total = row["v"], row["n"], row["total"]
    if used == 0:
        if operation in ("min", "max") and total:
            value = store.query(f"SELECT {func}({col}) AS v FROM {source}{where}", args)[0]["v"]
            return TableAnswer(f"{operation} of {table.columns[ci]} = {_show(value)} ({scope})", value, table,
                               matched)
        raise TableQueryError(f"column {table.columns[ci]!r} has no numbers in the {len(matched)} matching rows")
    skipped = f"; {total - used} non-numeric values ignored" if total > used else ""
    if operation == "sum" and isinstance(value, float):
        value = round(value, 6)
    if operation == "average":
        value = round(value, 4)
    return TableAnswer(f"{operation} of {table.columns[ci]} = {_show(value)} ({scope}{skipped})", value, table,
                       matched)


def _condition(col: str, op: str, raw: str) -> tuple[str, list[Any]]:
    number = to_number(raw)
    if op == "contains":
        return f" WHERE instr(lower(CAST({col} AS TEXT)), lower(?)) > 0", [raw.strip()]
    if number is not None:
        numeric = f"typeof({col}) IN ('integer', 'real')"
        if op == "!=":
            return f" WHERE NOT ({numeric} AND {col} = ?)", [number]
        return f" WHERE {numeric} AND {col} {'=' if op == '=' else op} ?", [number]
    text = raw.strip()
    if op == "=":
        return f" WHERE lower(trim(CAST({col} AS TEXT))) = lower(?)", [text]
    if op == "!=":
        return f" WHERE {col} IS NULL OR lower(trim(CAST({col} AS TEXT))) != lower(?)", [text]
    # Text order works for ISO dates (2024-03-01) and names; numbers are compared above.
    return f" WHERE typeof({col}) = 'text' AND {col} {op} ?", [text]


def _column_holding(store: "DocumentStore", table: "TableRow", value: str) -> int | None:
    """When the model named no usable filter column, the one column that holds the value (e.g. ACME)."""
    hits = []
    for i in range(len(table.columns)):
        row = store.query(f'SELECT 1 FROM "{table.name}" WHERE lower(trim(CAST(c{i} AS TEXT))) = lower(?) LIMIT 1',
                          [value.strip()])
        if row:
            hits.append(i)
    return hits[0] if len(hits) == 1 else None


def _only_numeric_column(store: "DocumentStore", table: "TableRow") -> int | None:
    numeric = [i for i in range(len(table.columns))
               if store.query(f"SELECT COUNT(*) AS n FROM \"{table.name}\" WHERE typeof(c{i}) IN ('integer', 'real')"
                              )[0]["n"] > table.row_count / 2]
    return numeric[0] if len(numeric) == 1 else None


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".") if not value.is_integer() else f"{int(value):,}"
    if isinstance(value, int):
        return f"{value:,}"
    return "" if value is None else str(value)
