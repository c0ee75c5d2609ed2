"""TicketHandler: recommended materials for a classified ticket, recorded on the ticket.

Invoked asynchronously by TicketClassifier with `{"TicketId", "Operation", "Resource",
"TicketCreationTime"}`; writes the recommendation to the ticket's item (an idempotent
overwrite) and returns it. Failures go, after Lambda's retries, to the on-failure queue.
"""

from __future__ import annotations

import json
from typing import Any

from lambdas.shared.aws import ClientCache
from lambdas.shared.config import env_str
from lambdas.shared.errors import InputError
from lambdas.shared.observability import observability
from lambdas.ticket_classification.catalog import recommend

logger, tracer, metrics = observability()
clients = ClientCache()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        ticket_id, operation, resource = (
            str(event[key]) for key in ("TicketId", "Operation", "Resource")
        )
    except (KeyError, TypeError):
        raise InputError("the event needs TicketId, Operation and Resource") from None
    recommendation = recommend(operation, resource)
    clients("dynamodb").update_item(
        TableName=env_str("TICKET_TABLE"),
        Key={"ticketId": {"S": ticket_id}},
        UpdateExpression="SET recommendations = :r, handled = :true",
        ConditionExpression="attribute_exists(ticketId)",
        ExpressionAttributeValues={
            ":r": {"S": json.dumps(recommendation.as_dict())},
            ":true": {"BOOL": True},
        },
    )
    logger.info("ticket handled", ticket=ticket_id, catalog_key=recommendation.key)
    metrics.add_metric(name="TicketsHandled", unit="Count", value=1)
    return {"TicketId": ticket_id, "Recommendations": recommendation.as_dict()}
