"""Upgrading a stack whose warehouse still has the `tickets` table of earlier versions (before
`ticket_records` and the one-row-per-ticket `tickets` view): the table-setup resource's Update
moves the rows and puts the view in its place, so the upgrade neither fails nor loses a ticket."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambdas.ticket_classification.warehouse import COLUMNS
from localcloud.cloud import LocalCloud
from localcloud.core.iam_check import check
from localcloud.demos.ticket_classification import deploy
from localcloud.services.cloudformation.custom_resources import _send

pytestmark = [pytest.mark.workflow, pytest.mark.xdist_group("tickets")]

STACK = "TicketClassification-test"
# The table earlier versions created and Firehose loaded directly.
FORMER_TABLE = (
    "CREATE TABLE tickets (id VARCHAR(64) NOT NULL, title VARCHAR(1000), "
    "description VARCHAR(65535), creation_time TIMESTAMP, operation VARCHAR(64), "
    "resource VARCHAR(64))"
)


def test_an_update_moves_the_former_tickets_table_behind_the_view(
    assembly_dir: Path, tmp_path: Path
) -> None:
    with LocalCloud(assembly_dir, work_dir=tmp_path / "localcloud") as cloud:
        stack = deploy(cloud, STACK)
        stack.sql("DROP VIEW tickets")
        stack.sql("DROP TABLE ticket_records")
        stack.sql(FORMER_TABLE)
        for ticket in ("T-1", "T-2", "T-1"):  # T-1 loaded twice, as Firehose may
            stack.sql(
                f"INSERT INTO tickets ({', '.join(COLUMNS)}) VALUES "
                f"('{ticket}', 'title', 'text', '2026-01-05 08:00:00', 'create', 'ec2')"
            )
        (logical_id,) = stack.stack.resources_of_type("Custom::TicketsTable")
        state = stack.stack.context.resources[logical_id]

        response = _send(cloud, stack.stack.context, "Update", logical_id, state.resource_type,
                         state.properties, physical_id=state.ref)  # fmt: skip
        again = _send(cloud, stack.stack.context, "Update", logical_id, state.resource_type,
                      state.properties, physical_id=state.ref)  # fmt: skip

        assert response["Status"] == again["Status"] == "SUCCESS"
        kinds = stack.sql(
            "SELECT table_name, table_type FROM information_schema.tables "
            "WHERE table_name IN ('tickets', 'ticket_records') ORDER BY table_name"
        )
        assert [(k["table_name"], k["table_type"]) for k in kinds] == [
            ("ticket_records", "BASE TABLE"),
            ("tickets", "VIEW"),
        ]
        assert [r["id"] for r in stack.sql("SELECT id FROM tickets ORDER BY id")] == ["T-1", "T-2"]
        assert stack.sql("SELECT COUNT(*) AS n FROM ticket_records") == [{"n": 3}]
        report = check(cloud)
        assert report.denied == [], report.format()
