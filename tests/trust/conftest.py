"""The trust suite's report: cases tried and passed per category, plus crashes and items lost.

Mark a test (or a parametrized case) with `@pytest.mark.trust("category")`; every case counts once.
Tests that kill processes or check stored data add figures with the `trust_figures` fixture:
`trust_figures.add("crash-harness", kills=1, crashes=0, lost=0)`.
The table is printed at the end of the run and written to `.test-home/trust-report.json`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from tests.plugins.conftest import local_web  # noqa: F401 - the same local test web server, for trust cases

REPORT = Path(__file__).resolve().parents[2] / ".test-home" / "trust-report.json"

_cases: dict[str, dict[str, int]] = defaultdict(lambda: {"tried": 0, "passed": 0, "failed": 0})
_figures: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))


class TrustFigures:
    """Counters a test adds to its category's line in the report (kills, crashes, items lost...)."""

    def add(self, category: str, **counts: int) -> None:
        for key, value in counts.items():
            _figures[category][key] += int(value)


@pytest.fixture
def trust_figures() -> TrustFigures:
    return TrustFigures()


def _category(item: pytest.Item) -> str | None:
    marker = item.get_closest_marker("trust")
    return str(marker.args[0]) if marker and marker.args else None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]):
    outcome = yield
    report = outcome.get_result()
    category = _category(item)
    if category is None:
        return
    # A case counts once: its call phase, or its setup when setup failed (the case never ran).
    if report.when == "call" or (report.when == "setup" and not report.passed):
        line = _cases[category]
        if report.skipped:
            return  # skipped is not tried (and the suite has no skips)
        line["tried"] += 1
        line["passed" if report.passed else "failed"] += 1


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _cases:
        return
    rows = []
    for category in sorted(_cases):
        line = dict(_cases[category])
        line.update(_figures.get(category, {}))
        rows.append({"category": category, **line})
    total = {"tried": sum(r["tried"] for r in rows), "passed": sum(r["passed"] for r in rows),
             "failed": sum(r["failed"] for r in rows)}
    write = terminalreporter.write_line
    write("")
    write("Trust suite: cases tried / passed per category")
    for r in rows:
        extra = ", ".join(f"{k} {v}" for k, v in r.items() if k not in ("category", "tried", "passed", "failed"))
        write(f"  {r['category']:<28} {r['passed']:>4} / {r['tried']:<4}" + (f"  ({extra})" if extra else ""))
    write(f"  {'total':<28} {total['passed']:>4} / {total['tried']:<4}")
    try:
        REPORT.parent.mkdir(parents=True, exist_ok=True)
        REPORT.write_text(json.dumps({"categories": rows, "total": total}, indent=2) + "\n")
    except OSError:
        pass
