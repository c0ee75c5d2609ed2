"""TicketHandler: recommended materials for a classified ticket, recorded on the ticket.

Invoked asynchronously by TicketClassifier with `{"TicketId", "Operation", "Resource",
"TicketCreationTime"}`; writes the recommendation to the ticket's item (an idempotent
overwrite) and returns it. Failures go, after Lambda's retries, to the on-failure queue.
"""

from __future__ import annotations

import json
from typing import Any

from lambdas.shared.errors import InputError
from lambdas.shared.kit import HandlerKit
from lambdas.ticket_classification.catalog import recommend
from lambdas.ticket_classification.settings import HandlerSettings

kit = HandlerKit(HandlerSettings)


@kit.handler()
def handler(event: Any, settings: HandlerSettings) -> dict[str, Any]:
    try:
        ticket_id, operation, resource = (
            str(event[key]) for key in ("TicketId", "Operation", "Resource")
        )
    except (KeyError, TypeError):
        raise InputError("the event needs TicketId, Operation and Resource") from None
    recommendation = recommend(operation, resource)
    kit.clients("dynamodb").update_item(
        TableName=settings.table,
        Key={"ticketId": {"S": ticket_id}},
        UpdateExpression="SET recommendations = :r, handled = :true",
        ConditionExpression="attribute_exists(ticketId)",
        ExpressionAttributeValues={
            ":r": {"S": json.dumps(recommendation.as_dict())},
            ":true": {"BOOL": True},
        },
    )
    kit.logger.info("ticket handled", ticket=ticket_id, catalog_key=recommendation.key)
    kit.count("TicketsHandled")
    return {"TicketId": ticket_id, "Recommendations": recommendation.as_dict()}
