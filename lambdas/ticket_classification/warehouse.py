"""The warehouse side: the published `tickets` view and the table Firehose loads, created
through the Redshift Data API."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

# Firehose delivers at least once (a PutRecord whose answer was lost is sent again), so its
# COPY loads every delivered record into `ticket_records`, and the published `tickets` is a view
# with one row per ticket id. Redshift enforces no primary key, and Firehose's COPY cannot merge.
TABLE = "ticket_records"
VIEW = "tickets"
COLUMNS = ("id", "title", "description", "creation_time", "operation", "resource")
DDL_STATEMENTS = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} ("
    "id VARCHAR(64) NOT NULL, "
    "title VARCHAR(1000), "
    "description VARCHAR(65535), "
    "creation_time TIMESTAMP, "
    "operation VARCHAR(64), "
    "resource VARCHAR(64))",
    f"CREATE OR REPLACE VIEW {VIEW} AS SELECT {', '.join(COLUMNS)} FROM ("
    f"SELECT {', '.join(COLUMNS)}, "
    "ROW_NUMBER() OVER (PARTITION BY id ORDER BY creation_time) AS delivery "
    f"FROM {TABLE}) AS deliveries WHERE delivery = 1",
)
# One statement per Data API call (ExecuteStatement runs a single statement).
DDL = ";\n".join(DDL_STATEMENTS)
# Stacks before the view loaded Firehose's records into a `tickets` table: its rows move to
# `ticket_records` (the view keeps one per ticket, so a move interrupted and run again adds
# nothing visible) and the table makes way for the view.
TABLE_KIND = (
    "SELECT table_type FROM information_schema.tables "
    f"WHERE table_schema = current_schema() AND table_name = '{VIEW}'"
)
MIGRATION_STATEMENTS = (
    DDL_STATEMENTS[0],
    f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) SELECT {', '.join(COLUMNS)} FROM {VIEW}",
    f"DROP TABLE {VIEW}",
)


class StatementFailedError(Exception):
    """A Data API statement ended FAILED or ABORTED, or did not finish within its polls."""


def run_statement(
    data_api: Any,
    sql: str,
    *,
    database: str,
    secret_arn: str,
    workgroup: str | None,
    cluster: str | None,
    poll_seconds: float,
    max_polls: int,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """ExecuteStatement, then DescribeStatement until it finishes (at most `max_polls` times)."""
    target = {"WorkgroupName": workgroup} if workgroup else {"ClusterIdentifier": cluster}
    statement = data_api.execute_statement(
        Sql=sql, Database=database, SecretArn=secret_arn, **target
    )
    for _ in range(max_polls):
        described: dict[str, Any] = data_api.describe_statement(Id=statement["Id"])
        status = described["Status"]
        if status == "FINISHED":
            return described
        if status in ("FAILED", "ABORTED"):
            raise StatementFailedError(f"{status}: {described.get('Error', 'no error message')}")
        sleep(poll_seconds)
    raise StatementFailedError(f"statement {statement['Id']} did not finish in {max_polls} polls")


def statement_rows(data_api: Any, statement_id: str) -> list[list[Any]]:
    """Every row of a finished statement's result (GetStatementResult, all pages), each as a
    list of plain values (the Data API's typed fields unwrapped; NULL as None)."""
    rows: list[list[Any]] = []
    request: dict[str, Any] = {"Id": statement_id}
    while True:
        page = data_api.get_statement_result(**request)
        for record in page.get("Records", []):
            rows.append([None if f.get("isNull") else next(iter(f.values())) for f in record])
        if not page.get("NextToken"):
            return rows
        request["NextToken"] = page["NextToken"]
