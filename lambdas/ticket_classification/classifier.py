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

import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools.utilities.parameters import SSMProvider

from lambdas.shared.kit import HandlerKit
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


@kit.handler()
def handler(event: Any, settings: ClassifierSettings, context: Any) -> dict[str, Any]:
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
    store = TicketStore(
        kit.clients("dynamodb"), settings.table, context.aws_request_id, settings.lease_seconds
    )
    downstream = Downstream(
        kit.clients("firehose"),
        kit.clients("lambda"),
        settings.delivery_stream,
        settings.handler_function,
    )
    comprehend = kit.clients("comprehend")
    outcome = process(
        ticket, store, lambda text: classify(comprehend, text, arns, pool), downstream
    )
    if ticket.truncated:
        kit.logger.info(
            "ticket text truncated", ticket=ticket.ticket_id, bytes=ticket.original_bytes
        )
    kit.count("TicketsDuplicated" if outcome.duplicate else "TicketsClassified")
    return {**outcome.answer, "Duplicate": outcome.duplicate}
