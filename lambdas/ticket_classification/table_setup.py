"""The custom resource that creates the warehouse's `ticket_records` table (what Firehose loads)
and its `tickets` view (one row per ticket) through the Redshift Data API.

CloudFormation sends Create, Update and Delete requests; the function answers on the request's
pre-signed `ResponseURL` (the custom resource response protocol). Create and Update run the
idempotent DDL statements one at a time, waiting for each within a bounded number of polls
(first moving the rows of a `tickets` table that stacks before the view created);
Delete keeps the table and its data (the namespace's own retention decides their fate).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes import CloudFormationCustomResourceEvent

from lambdas.shared.custom_resource import respond
from lambdas.shared.kit import HandlerKit
from lambdas.ticket_classification.settings import WarehouseSettings
from lambdas.ticket_classification.warehouse import (
    DDL_STATEMENTS,
    MIGRATION_STATEMENTS,
    TABLE,
    TABLE_KIND,
    run_statement,
    statement_rows,
)

kit = HandlerKit(WarehouseSettings)
DATA = {"TableName": TABLE}


@kit.handler(CloudFormationCustomResourceEvent)
def handler(event: CloudFormationCustomResourceEvent, settings: WarehouseSettings) -> None:
    physical_id = f"{settings.database}.{TABLE}"
    try:
        if event.request_type in ("Create", "Update"):
            data_api = kit.clients("redshift-data")

            def run(statement: str) -> dict[str, Any]:
                return run_statement(
                    data_api,
                    statement,
                    database=settings.database,
                    secret_arn=settings.secret_arn,
                    workgroup=settings.workgroup,
                    cluster=settings.cluster,
                    poll_seconds=settings.poll_seconds,
                    max_polls=settings.max_polls,
                )

            kind = statement_rows(data_api, run(TABLE_KIND)["Id"])
            if kind and kind[0][0] == "BASE TABLE":
                for statement in MIGRATION_STATEMENTS:
                    run(statement)
                kit.logger.info("rows of the former tickets table moved", table=TABLE)
            for statement in DDL_STATEMENTS:
                run(statement)
            kit.logger.info("tickets table ready", database=settings.database)
    except Exception as error:
        kit.logger.exception("tickets table setup failed")
        respond(event, "FAILED", f"{type(error).__name__}: {error}", physical_id, DATA)
        return
    respond(event, "SUCCESS", "tickets table ready", physical_id, DATA)
