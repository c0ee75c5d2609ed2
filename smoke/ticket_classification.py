"""TicketClassification: one ticket through TicketClassifier (invoked as users do); its answer,
TicketHandler's recommendation on the ticket's item, and its row in the warehouse's `tickets`
table (loaded by Firehose within its buffer interval), read through the Redshift Data API."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from lambdas.ticket_classification.warehouse import (
    StatementFailedError,
    run_statement,
    statement_rows,
)
from smoke.core import (
    Environment,
    Result,
    Settings,
    StackOutputs,
    Status,
    error_text,
    find_function_log,
    function_log_group,
    poll,
)

WORKFLOW = "ticket_classification"
STACK = "TicketClassification"
WAIT_SECONDS = 10 * 60  # Firehose buffers up to its interval (60 s by default), then COPYs
POLL_SECONDS = 10
UNSET = "unset"  # the endpoint parameters' value until the endpoints are trained


def check(env: Environment, outputs: StackOutputs, settings: Settings) -> Result:
    for role in ("Operation", "Resource"):
        parameter = outputs[f"{role}EndpointParameterName"]
        value = env.client("ssm").get_parameter(Name=parameter)["Parameter"]["Value"]
        if value == UNSET:
            return Result(
                WORKFLOW,
                outputs.stack,
                Status.SKIPPED,
                f"no model yet: SSM parameter {parameter} holds '{UNSET}'; train the endpoints "
                f"with the state machine {outputs.get('TrainingStateMachineArn')} or deploy "
                "with endpoint ARNs",
            )
    follow = _Ticket(env, outputs, settings)
    try:
        outcome = follow.run()
    finally:
        left = follow.clean_up()
    return replace(outcome, leaves=(*outcome.leaves, *left))


class _Ticket:
    def __init__(self, env: Environment, outputs: StackOutputs, settings: Settings) -> None:
        self.env, self.outputs, self.settings = env, outputs, settings
        self.ticket_id = settings.prefix
        self.table = outputs["TicketTableName"]
        self.invoked = False
        self.handled = False
        self.row_seen = False

    def result(self, status: Status, detail: str, *look_at: str) -> Result:
        return Result(WORKFLOW, self.outputs.stack, status, detail, tuple(look_at))

    def run(self) -> Result:
        env, outputs, ticket_id = self.env, self.outputs, self.ticket_id
        classifier = outputs["ClassifierFunctionName"]
        ticket = {
            "TicketId": ticket_id,
            "TicketTitle": "Cannot delete an S3 bucket",
            "TicketDescription": "Deleting the bucket fails with BucketNotEmpty although the "
            "console shows no objects. How do I delete it?",
            "TicketCreationTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        logs = f"log group {function_log_group(env, classifier)} (function {classifier})"
        self.invoked = True
        invoked = env.client("lambda").invoke(
            FunctionName=classifier, Payload=json.dumps(ticket).encode()
        )
        payload = json.loads(invoked["Payload"].read() or b"null")
        if invoked.get("FunctionError"):
            return self.result(
                Status.FAILED,
                f"TicketClassifier failed: {payload.get('errorType')}: "
                f"{str(payload.get('errorMessage'))[:300]}",
                logs,
            )
        if not isinstance(payload, dict) or "Error" in payload:
            return self.result(Status.FAILED, f"the ticket was rejected: {payload}", logs)
        operation = payload.get("Operation", {}).get("Name")
        resource = payload.get("Resource", {}).get("Name")
        if not operation or not resource or "Recommendations" not in payload:
            return self.result(Status.FAILED, f"an incomplete answer: {payload}", logs)

        deadline = env.deadline(self.settings.wait(WAIT_SECONDS))
        # TicketHandler runs asynchronously, then records the recommendation
        item = poll(env, deadline, self._item, _handled, POLL_SECONDS)
        if not _handled(item):
            return self.result(
                Status.FAILED,
                f"TicketHandler did not record a recommendation on {ticket_id} "
                f"(stage {item.get('stage', {}).get('S', 'none')})",
                f"queue {outputs.get('HandlerFailureQueueUrl')}",
                f"TicketHandler: {find_function_log(env, outputs.stack, 'TicketHandler')}",
                f"DynamoDB table {self.table}, item ticketId={ticket_id}",
            )
        self.handled = True

        query = f"SELECT operation, resource FROM tickets WHERE id = '{ticket_id}'"
        rows = poll(env, deadline, lambda: _sql(env, outputs, query, deadline), bool, POLL_SECONDS)
        if not rows:
            return self.result(
                Status.FAILED,
                f"no row for {ticket_id} in the warehouse after "
                f"{self.settings.wait(WAIT_SECONDS):.0f} s",
                f"delivery stream {outputs.get('DeliveryStreamName')} (its error logs)",
                f"s3://{outputs.get('StagingBucketName')}/errors/manifests/ "
                "(COPYs that kept failing)",
            )
        self.row_seen = True
        if rows != [[operation, resource]]:
            return self.result(
                Status.FAILED,
                f"the warehouse holds {rows} for {ticket_id}; the answer was "
                f"{operation}/{resource}",
                f"the tickets table ({_warehouse(outputs)})",
            )
        return self.result(
            Status.PASSED,
            f"{ticket_id}: {operation}/{resource}, recommendation recorded, row in the warehouse",
        )

    def _item(self) -> dict[str, Any]:
        """The ticket's item in the tickets table ({} before there is one)."""
        item: dict[str, Any] = (
            self.env.client("dynamodb")
            .get_item(
                TableName=self.table, Key={"ticketId": {"S": self.ticket_id}}, ConsistentRead=True
            )
            .get("Item", {})
        )
        return item

    def clean_up(self) -> list[str]:
        """Remove the ticket's row and item; what stays, said."""
        if not self.invoked:
            return []
        ticket_id, outputs = self.ticket_id, self.outputs
        left = [
            f"the Firehose staging objects under s3://{outputs.get('StagingBucketName')}/staging/ "
            f"that hold {ticket_id}'s record (shared with other tickets' records)"
        ]
        delete = f"DELETE FROM ticket_records WHERE id = '{ticket_id}'"
        try:
            _sql(self.env, outputs, delete, self.env.deadline(120))
        except (StatementFailedError, ClientError, TimeoutError) as error:
            detail = error_text(error) if isinstance(error, ClientError) else str(error)
            left.append(f"its row in the tickets table, if loaded ({delete}: {detail})")
        else:
            if not self.row_seen:  # a row loaded after this DELETE stays
                left.append(f"its row, if Firehose loads it later: {delete}")
        if self.handled:
            self.env.client("dynamodb").delete_item(
                TableName=self.table, Key={"ticketId": {"S": ticket_id}}
            )
        else:
            # TicketHandler may still be retrying: without the item it would fail for good.
            left.append(f"item ticketId={ticket_id} in DynamoDB table {self.table}")
        return left


def _handled(item: dict[str, Any]) -> bool:
    return bool(item.get("handled", {}).get("BOOL"))


def _warehouse(outputs: StackOutputs) -> str:
    if outputs.get("ClusterIdentifier"):
        return f"cluster {outputs['ClusterIdentifier']}"
    return f"workgroup {outputs['WorkgroupName']}"


def _sql(env: Environment, outputs: StackOutputs, sql: str, deadline: Any) -> list[list[Any]]:
    """The rows of `sql`, run as the stack's Data API clients run it; TimeoutError once
    `deadline` has passed with the statement still running."""

    def pause(seconds: float) -> None:
        if deadline.expired():
            raise TimeoutError(f"{sql!r} still running")
        env.pause(seconds)

    data = env.client("redshift-data")
    cluster = outputs.get("ClusterIdentifier")
    described = run_statement(
        data,
        sql,
        database=outputs["DatabaseName"],
        secret_arn=outputs["AdminSecretArn"],
        workgroup=None if cluster else outputs["WorkgroupName"],
        cluster=cluster,
        poll_seconds=1,
        max_polls=sys.maxsize,  # the deadline ends the wait
        sleep=pause,
    )
    if not described.get("HasResultSet"):
        return []
    return statement_rows(data, described["Id"])
