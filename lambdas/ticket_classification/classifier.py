"""TicketClassifier: the published contract in, the top operation and resource out.

    {"TicketId", "TicketTitle", "TicketDescription", "TicketCreationTime"}
 -> {"TicketId", "Operation": {"Name", "Score"}, "Resource": {"Name", "Score"},
     "Recommendations": {"CatalogKey", "Materials"}, "Truncated", "Duplicate"}

A bad ticket gets `{"TicketId", "Error": {"Code", "Message"}}` and nothing is written for it.
Failures of the services (after the SDK's retries) raise, so the caller (or Lambda's own retry
of an asynchronous invocation) tries again; the ticket table keeps a retry from doing anything
twice.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lambdas.shared.aws import ClientCache
from lambdas.shared.observability import observability
from lambdas.ticket_classification.classification import EndpointParameters, classify
from lambdas.ticket_classification.processing import Downstream, TicketStore, process
from lambdas.ticket_classification.settings import ClassifierSettings
from lambdas.ticket_classification.tickets import TicketError, parse_ticket

logger, tracer, metrics = observability()
clients = ClientCache()
endpoints = EndpointParameters()
pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="classify")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: Any, context: Any) -> dict[str, Any]:
    try:
        ticket = parse_ticket(event)
    except TicketError as error:
        ticket_id = event.get("TicketId") if isinstance(event, dict) else None
        logger.warning("ticket rejected", code=error.code, reason=error.reason)
        metrics.add_metric(name="TicketsRejected", unit="Count", value=1)
        return {
            "TicketId": ticket_id if isinstance(ticket_id, str) else None,
            "Error": {"Code": error.code, "Message": error.reason},
        }
    settings = ClassifierSettings.from_env()
    arns = endpoints.get(
        clients("ssm"),
        (settings.operation_parameter, settings.resource_parameter),
        settings.parameter_cache_seconds,
    )
    store = TicketStore(
        clients("dynamodb"), settings.table, context.aws_request_id, settings.lease_seconds
    )
    downstream = Downstream(
        clients("firehose"),
        clients("lambda"),
        settings.delivery_stream,
        settings.handler_function,
    )
    outcome = process(
        ticket, store, lambda text: classify(clients("comprehend"), text, arns, pool), downstream
    )
    if ticket.truncated:
        logger.info("ticket text truncated", ticket=ticket.ticket_id, bytes=ticket.original_bytes)
    metrics.add_metric(
        name="TicketsDuplicated" if outcome.duplicate else "TicketsClassified",
        unit="Count",
        value=1,
    )
    return {**outcome.answer, "Duplicate": outcome.duplicate}
