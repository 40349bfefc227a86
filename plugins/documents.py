"""Documents tools: search the user's indexed files, and compute over their spreadsheets (with citations)."""

from __future__ import annotations

from typing import Annotated, Any, Callable, Literal

from pydantic import Field

from assistant.api import ToolContext, ToolError, hookimpl, tool

SEARCH_CHARS = 900  # per passage in the tool output; the context block already carries the best ones
ROWS_CITED = 12


def _documents(ctx: ToolContext) -> Any:
    if ctx.documents is None:
        raise ToolError("documents are not available in this app")
    return ctx.documents


@tool(examples=[
    ("according to my documents, who signed the contract?", {"query": "who signed the contract"}),
    ("what do my notes say about the boiler service?", {"query": "boiler service"}),
    ("search my documents for the warranty period", {"query": "warranty period"}),
])
def search_documents(
    ctx: ToolContext,
    query: Annotated[str, Field(description="What to look for: names, codes, numbers or a topic")],
) -> str:
    """Search the files the user added (PDFs, Word, notes, spreadsheets) for passages, with [n] citations."""
    if not query.strip():
        raise ToolError("give the words or topic to look for")
    docs = _documents(ctx)
    if not docs.has_documents():
        return "The user has no indexed documents. They can add some with `biseo docs add PATH`."
    passages = [p for p in docs.search(query) if p.relevant]
    if not passages:
        return f"Nothing about {query!r} was found in the user's documents."
    lines = []
    for p in passages:
        where = {k: v for k, v in p.citation().items() if k != "source"}
        n = ctx.cite(p.path, **where)
        text = " ".join(p.text.split())
        lines.append(f"[{n}] {p.where}: {text[:SEARCH_CHARS]}")
    return "\n".join(lines)


# The 0.5B router copies the shape of these examples: short "how many X are over N?" questions in other
# domains than any test data, with every argument spelled out.
@tool(examples=[
    ("how many orders are over 100?",
     {"operation": "count", "file": "orders", "filter_column": "amount", "filter_op": ">", "filter_value": "100"}),
    ("what is the total of the orders from Berlin?",
     {"operation": "sum", "file": "orders", "column": "amount", "filter_column": "city", "filter_op": "=",
      "filter_value": "Berlin"}),
    ("how many rows of sales.csv are paid?",
     {"operation": "count", "file": "sales.csv", "filter_column": "status", "filter_op": "=", "filter_value": "paid"}),
    ("average score in results.xlsx", {"operation": "average", "file": "results.xlsx", "column": "score"}),
])
def table_query(
    ctx: ToolContext,
    operation: Annotated[Literal["count", "sum", "average", "min", "max", "list"], Field(
        description="count rows, sum/average/min/max a column, or list rows")],
    file: Annotated[str, Field(description="The spreadsheet or CSV file (name or part of it); "
                               "'' when unsure")] = "",
    column: Annotated[str, Field(description="Column to sum/average/min/max or list; '' for count")] = "",
    filter_column: Annotated[str, Field(description="Column to filter rows on; '' for all rows")] = "",
    filter_op: Annotated[Literal[">", ">=", "<", "<=", "=", "!=", "contains"], Field(
        description="How filter_column is compared with filter_value")] = "=",
    filter_value: Annotated[str, Field(description="Value rows are compared with; '' for all rows")] = "",
) -> str:
    """Count, sum, average, min, max or list rows of the user's spreadsheets and CSV files, computed exactly."""
    docs = _documents(ctx)
    try:
        answer = docs.table_query(file=file or None, operation=operation, column=column or None,
                                  filter_column=filter_column or None, filter_op=filter_op,
                                  filter_value=filter_value if (filter_value or filter_column) else None)
    except ValueError as exc:  # TableQueryError: says what tables and columns exist
        raise ToolError(str(exc)) from None
    table = answer.table
    rows = answer.rows
    shown = ", ".join(str(r) for r in rows[:ROWS_CITED]) + (" ..." if len(rows) > ROWS_CITED else "")
    section = (table.sheet + ", " if table.sheet and not table.path.endswith(f"{table.sheet}.csv") else "") + (
        f"rows {shown}" if rows else "no matching rows")
    n = ctx.cite(table.path, file=_name(table.path), page=None, section=section, snippet=answer.text[:240],
                 chunk_id=None)
    return f"[{n}] {answer.text}"


def _name(path: str) -> str:
    return path.replace("\\", "/").rsplit("/", 1)[-1]


@hookimpl
def register_tools(register: Callable[[Any], None]) -> None:
    register(search_documents)
    register(table_query)
