"""The ticket report from a saved warehouse, as `python -m localcloud report tickets` runs it."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from lambdas.ticket_classification.warehouse import DDL_STATEMENTS
from localcloud.cli import main
from localcloud.demos.ticket_classification_report import (
    EmptyWarehouseError,
    duckdb_query,
    write_report,
)

ROWS = [
    ("T-1", "create", "ec2", "2026-01-05 08:00:00"),
    ("T-2", "create", "s3", "2026-01-05 09:00:00"),
    ("T-3", "delete", "s3", "2026-01-06 10:00:00"),
]


def _warehouse(path: Path, rows: list[tuple[str, str, str, str]]) -> Path:
    with duckdb.connect(str(path)) as connection:
        for statement in DDL_STATEMENTS:
            connection.execute(statement)
        for ticket_id, operation, resource, created in rows:
            connection.execute(
                "INSERT INTO ticket_records VALUES (?, 't', 'd', ?, ?, ?)",
                [ticket_id, created, operation, resource],
            )
    return path


def test_the_report_pivots_counts_and_draws_every_chart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "warehouse"
    directory.mkdir()
    _warehouse(directory / "tickets-abc.duckdb", ROWS)
    assert (
        main(
            [
                "report",
                "ticket_classification",
                "--warehouse",
                str(directory),
                "--out",
                str(tmp_path / "r"),
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.strip().endswith('index.html"}')
    html = (tmp_path / "r" / "index.html").read_text()
    assert "Support tickets: 3 classified" in html
    pivot = re.search(r'<table id="pivot">(.*?)</table>', html, re.DOTALL)[1]  # type: ignore[index]
    assert "<tr><th>create</th><td>1</td><td>1</td><td><b>2</b></td></tr>" in pivot
    assert "<tr><th>delete</th><td>0</td><td>1</td><td><b>1</b></td></tr>" in pivot
    for chart in ("pivot.png", "by-operation.png", "by-resource.png", "over-time.png"):
        assert (tmp_path / "r" / chart).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_empty_warehouse_has_nothing_to_report(tmp_path: Path) -> None:
    path = _warehouse(tmp_path / "empty.duckdb", [])
    with pytest.raises(EmptyWarehouseError):
        write_report(duckdb_query(path), tmp_path / "r")
    with pytest.raises(SystemExit, match="run the demo first"):
        main(
            [
                "report",
                "ticket_classification",
                "--warehouse",
                str(tmp_path / "none"),
                "--out",
                str(tmp_path),
            ]
        )
