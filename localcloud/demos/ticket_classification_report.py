"""The ticket analysis: the local equivalent of the published QuickSight analysis.

From the `tickets` table: a pivot table of operation x resource (HTML table and heat map),
pie charts of tickets by operation and by resource, and tickets per day of `creation_time` by
operation; PNG charts (matplotlib, Agg backend) and one self-contained HTML page that shows
them. The queries are plain SQL, run through the caller's `query` function (the Redshift Data
API in the demo, the saved DuckDB warehouse from the command line).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # after the backend is chosen
from matplotlib.ticker import MaxNLocator

Query = Callable[[str], list[dict[str, Any]]]

PIVOT_SQL = (
    "SELECT operation, resource, COUNT(*) AS tickets FROM tickets "
    "GROUP BY operation, resource ORDER BY operation, resource"
)
TIMELINE_SQL = (
    "SELECT CAST(DATE_TRUNC('day', creation_time) AS DATE) AS day, operation, "
    "COUNT(*) AS tickets FROM tickets GROUP BY 1, 2 ORDER BY 1, 2"
)


class EmptyWarehouseError(RuntimeError):
    """The tickets table has no rows: there is nothing to report."""


def _pie(counts: dict[str, int], title: str, path: Path) -> None:
    figure, axes = plt.subplots(figsize=(6, 6))
    axes.pie(list(counts.values()), labels=list(counts), autopct="%1.0f%%", startangle=90)
    axes.set_title(title)
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)


def write_report(query: Query, out_dir: Path) -> Path:
    """Write the charts and `index.html` into `out_dir`; the HTML page's path."""
    pivot_rows = query(PIVOT_SQL)
    if not pivot_rows:
        raise EmptyWarehouseError("the tickets table is empty")
    out_dir.mkdir(parents=True, exist_ok=True)
    operations = sorted({str(r["operation"]) for r in pivot_rows})
    resources = sorted({str(r["resource"]) for r in pivot_rows})
    cells = {(str(r["operation"]), str(r["resource"])): int(r["tickets"]) for r in pivot_rows}
    by_operation = {o: sum(cells.get((o, r), 0) for r in resources) for o in operations}
    by_resource = {r: sum(cells.get((o, r), 0) for o in operations) for r in resources}
    total = sum(by_operation.values())

    figure, axes = plt.subplots(figsize=(1 + 0.8 * len(resources), 1 + 0.6 * len(operations)))
    matrix = [[cells.get((o, r), 0) for r in resources] for o in operations]
    image = axes.imshow(matrix, cmap="Blues")
    axes.set_xticks(range(len(resources)), resources, rotation=45, ha="right")
    axes.set_yticks(range(len(operations)), operations)
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            axes.text(j, i, str(value), ha="center", va="center", fontsize=8)
    figure.colorbar(image, ax=axes, label="tickets")
    axes.set_title("Tickets by operation and resource")
    figure.savefig(out_dir / "pivot.png", dpi=100, bbox_inches="tight")
    plt.close(figure)

    _pie(by_operation, "Tickets by operation", out_dir / "by-operation.png")
    _pie(by_resource, "Tickets by resource", out_dir / "by-resource.png")

    timeline = query(TIMELINE_SQL)
    days = sorted({str(r["day"]) for r in timeline})
    figure, axes = plt.subplots(figsize=(10, 5))
    for operation in operations:
        counts = {str(r["day"]): int(r["tickets"]) for r in timeline if r["operation"] == operation}
        axes.plot(days, [counts.get(day, 0) for day in days], marker="o", label=operation)
    axes.set_xlabel("creation day (UTC)")
    axes.set_ylabel("tickets")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))  # whole tickets
    axes.set_title("Tickets over time by operation")
    axes.tick_params(axis="x", rotation=45)
    axes.legend(fontsize=8, ncols=2)
    figure.savefig(out_dir / "over-time.png", dpi=100, bbox_inches="tight")
    plt.close(figure)

    header = "".join(f"<th>{html.escape(r)}</th>" for r in resources)
    body = "".join(
        f"<tr><th>{html.escape(o)}</th>"
        + "".join(f"<td>{cells.get((o, r), 0)}</td>" for r in resources)
        + f"<td><b>{by_operation[o]}</b></td></tr>"
        for o in operations
    )
    totals = "".join(f"<td><b>{by_resource[r]}</b></td>" for r in resources)
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Support tickets</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}img{{max-width:100%}}</style>
</head><body>
<h1>Support tickets: {total} classified</h1>
<h2>Operation x resource</h2>
<table id="pivot"><tr><th>operation \\ resource</th>{header}<th>total</th></tr>{body}
<tr><th>total</th>{totals}<td><b>{total}</b></td></tr></table>
<p><img src="pivot.png" alt="Tickets by operation and resource"></p>
<h2>By operation and by resource</h2>
<p><img src="by-operation.png" alt="Tickets by operation" width="45%">
<img src="by-resource.png" alt="Tickets by resource" width="45%"></p>
<h2>Over time</h2>
<p><img src="over-time.png" alt="Tickets over time by operation"></p>
</body></html>
"""
    index = out_dir / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


def duckdb_query(path: Path) -> Query:
    """Queries against a warehouse the local cloud saved (`<work dir>/warehouse/*.duckdb`)."""
    import duckdb

    def query(sql: str) -> list[dict[str, Any]]:
        with duckdb.connect(str(path), read_only=True) as connection:
            cursor = connection.execute(sql)
            names = [d[0] for d in cursor.description or []]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    return query
