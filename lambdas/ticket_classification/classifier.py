"""TicketClassifier: the published contract in, the top operation and resource out.

    {"TicketId", "TicketTitle", "TicketDescription", "TicketCreationTime"}
 -> {"TicketId", "Operation": {"Name", "Score"}, "Resource": {"Name", "Score"},
     "Recommendations": {"CatalogKey", "Materials"}, "Truncated", "Duplicate"}

A bad ticket gets `{"TicketId", "Error": {"Code", "Message"}}` and nothing is written for it.
Failures of the services (after the SDK's retries) raise, so the caller (or Lambda's own retry
of an asynchronous invocation) tries again; the ticket table keeps a retry from doing anything
twice.

When the stack's keeper has deleted the endpoints while idle, a ticket is put on the ticket
queue and answered `{"TicketId", "Queued": true, "RetryAfterSeconds", "Message"}`; the keeper
is asked for the endpoints (once) and feeds the queue back to this function, as SQS batches,
only while both serve. A queued ticket that still finds an endpoint down is reported as a
batch item failure and waits in the queue again.
"""

from __future__ import annotations

import functools
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools.utilities.parameters import SSMProvider
from botocore.exceptions import ClientError

from lambdas.shared.endpoint_usage import ENDPOINT_DOWN_ERRORS, EndpointUsage
from lambdas.shared.kit import HandlerKit
from lambdas.shared.s3 import error_code
from lambdas.ticket_classification.classification import classify, endpoint_arns
from lambdas.ticket_classification.processing import Downstream, TicketStore, process
from lambdas.ticket_classification.settings import ClassifierSettings
from lambdas.ticket_classification.tickets import TicketError, parse_ticket

kit = HandlerKit(ClassifierSettings)
pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="classify")


@functools.cache
def ssm_parameters() -> SSMProvider:
    """One provider per execution environment: its cache is what keeps SSM calls rare."""
    return SSMProvider(boto3_client=kit.clients("ssm"))


class EndpointsDownError(Exception):
    """An endpoint is deleted (idle) or starting; the ticket waits in the queue."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the classifier endpoints are starting; retry in {retry_after} s")
        self.retry_after = retry_after


def _usage(settings: ClassifierSettings) -> EndpointUsage:
    kept = bool(settings.keeper_table)
    return EndpointUsage(
        kit.clients("dynamodb") if kept else None,
        kit.clients("lambda") if kept else None,
        settings.keeper_table,
        settings.keeper_function,
        settings.warm_up_seconds,
    )


def classify_ticket(event: Any, settings: ClassifierSettings, request_id: str) -> dict[str, Any]:
    """One ticket: its answer, or its error for a bad ticket; `EndpointsDownError` when the
    kept endpoints do not serve."""
    try:
        ticket = parse_ticket(event)
    except TicketError as error:
        ticket_id = event.get("TicketId") if isinstance(event, dict) else None
        kit.logger.warning("ticket rejected", code=error.code, reason=error.reason)
        kit.count("TicketsRejected")
        return {
            "TicketId": ticket_id if isinstance(ticket_id, str) else None,
            "Error": {"Code": error.code, "Message": error.reason},
        }
    arns = endpoint_arns(
        ssm_parameters(),
        (settings.operation_parameter, settings.resource_parameter),
        settings.parameter_cache_seconds,
    )
    usage = _usage(settings)
    for arn in arns:
        usage.record_use(arn)
    store = TicketStore(kit.clients("dynamodb"), settings.table, request_id, settings.lease_seconds)
    downstream = Downstream(
        kit.clients("firehose"),
        kit.clients("lambda"),
        settings.delivery_stream,
        settings.handler_function,
    )
    comprehend = kit.clients("comprehend")
    try:
        outcome = process(
            ticket, store, lambda text: classify(comprehend, text, arns, pool), downstream
        )
    except ClientError as error:
        if not (usage.enabled and error_code(error) in ENDPOINT_DOWN_ERRORS):
            raise
        raise EndpointsDownError(max(usage.wake(arn) for arn in arns)) from None
    if ticket.truncated:
        kit.logger.info(
            "ticket text truncated", ticket=ticket.ticket_id, bytes=ticket.original_bytes
        )
    kit.count("TicketsDuplicated" if outcome.duplicate else "TicketsClassified")
    return {**outcome.answer, "Duplicate": outcome.duplicate}


def _is_queue_batch(event: Any) -> bool:
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list) or not records:
        return False
    return all(isinstance(r, dict) and r.get("eventSource") == "aws:sqs" for r in records)


@kit.handler()
def handler(event: Any, settings: ClassifierSettings, context: Any) -> dict[str, Any]:
    if _is_queue_batch(event):
        failures = []
        for record in event["Records"]:
            try:
                ticket = json.loads(record["body"])
            except ValueError:
                ticket = record["body"]  # parse_ticket answers a bad ticket with its error
            try:
                classify_ticket(ticket, settings, context.aws_request_id)
            except EndpointsDownError:
                failures.append({"itemIdentifier": record["messageId"]})
        kit.count("QueuedTicketsDeferred", len(failures))
        return {"batchItemFailures": failures}
    try:
        return classify_ticket(event, settings, context.aws_request_id)
    except EndpointsDownError as error:
        kit.clients("sqs").send_message(
            QueueUrl=settings.ticket_queue_url, MessageBody=json.dumps(event)
        )
        kit.count("TicketsQueued")
        return {
            "TicketId": event.get("TicketId"),
            "Queued": True,
            "RetryAfterSeconds": error.retry_after,
            "Message": "the classifier endpoints are starting (they are deleted while idle); "
            "the ticket is queued and classified once they serve",
        }
