"""Classifying one ticket exactly once: the answer, the warehouse record and the handler call.

The ticket table holds one item per `TicketId`, written with a conditional put, so a ticket is
classified, sent to Firehose and handed to TicketHandler once however often it arrives. The item
records how far the ticket got (`stage`: claimed, delivered, done) under a short lease: a
second invocation for the same ticket returns the stored answer when the ticket is done, reports
it in progress while another invocation holds the lease, and finishes the missing steps (never
repeating a finished one) when a failed invocation left it behind.

This stays hand-written rather than Powertools idempotency, which runs a failed call again
from the start: here a Firehose record already sent must not be sent again when only the
hand-over failed, and a duplicate's answer says `Duplicate: true` where a stored response
could not.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from lambdas.shared.aws import conditional_write
from lambdas.ticket_classification.catalog import recommend
from lambdas.ticket_classification.classification import Classification
from lambdas.ticket_classification.tickets import Ticket

CLAIMED, DELIVERED, DONE = "claimed", "delivered", "done"


class TicketInProgressError(Exception):
    """Another invocation is classifying this ticket right now; try again in a moment."""


@dataclass(frozen=True)
class Outcome:
    answer: dict[str, Any]
    duplicate: bool


def answer_for(ticket: Ticket, classification: Classification) -> dict[str, Any]:
    recommendation = recommend(classification.operation.name, classification.resource.name)
    return {
        "TicketId": ticket.ticket_id,
        "Operation": classification.operation.as_dict(),
        "Resource": classification.resource.as_dict(),
        "Recommendations": recommendation.as_dict(),
        "Truncated": ticket.truncated,
    }


def warehouse_record(ticket: Ticket, classification: Classification) -> dict[str, Any]:
    """One row of `tickets(id, title, description, creation_time, operation, resource)`; COPY's
    JSON 'auto' maps keys to columns and ignores the others (`truncated`, `text_bytes`)."""
    return {
        "id": ticket.ticket_id,
        "title": ticket.title,
        "description": ticket.description,
        "creation_time": ticket.creation_time_text,
        "operation": classification.operation.name,
        "resource": classification.resource.name,
        "truncated": ticket.truncated,
        "text_bytes": ticket.original_bytes,
    }


class TicketStore:
    def __init__(
        self,
        dynamodb: Any,
        table: str,
        owner: str,
        lease_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = dynamodb
        self._table = table
        self._owner = owner
        self._lease = lease_seconds
        self._clock = clock

    def get(self, ticket_id: str) -> dict[str, Any] | None:
        item = self._db.get_item(
            TableName=self._table, Key={"ticketId": {"S": ticket_id}}, ConsistentRead=True
        ).get("Item")
        return dict(item) if item else None

    def claim(self, ticket_id: str, answer: dict[str, Any], record: dict[str, Any]) -> bool:
        return conditional_write(
            self._db.put_item,
            TableName=self._table,
            Item={
                "ticketId": {"S": ticket_id},
                "stage": {"S": CLAIMED},
                "owner": {"S": self._owner},
                "leaseUntil": {"N": str(int(self._clock()) + self._lease)},
                "answer": {"S": json.dumps(answer)},
                "record": {"S": json.dumps(record)},
                "truncated": {"BOOL": bool(record["truncated"])},
            },
            ConditionExpression="attribute_not_exists(ticketId)",
        )

    def take_over(self, item: dict[str, Any]) -> bool:
        """Take the lease of a ticket whose previous invocation stopped before the end."""
        if int(item["leaseUntil"]["N"]) > self._clock():
            return False
        if conditional_write(
            self._db.update_item,
            TableName=self._table,
            Key={"ticketId": item["ticketId"]},
            UpdateExpression="SET #owner = :me, leaseUntil = :until",
            ConditionExpression="leaseUntil = :seen AND stage <> :done",
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues={
                ":me": {"S": self._owner},
                ":until": {"N": str(int(self._clock()) + self._lease)},
                ":seen": item["leaseUntil"],
                ":done": {"S": DONE},
            },
        ):
            return True
        # Ours after all when this update took effect, its answer was lost and the SDK's retry
        # found the lease already changed.
        current = self.get(item["ticketId"]["S"])
        return current is not None and self.owns(current)

    def owns(self, item: dict[str, Any]) -> bool:
        """Whether this invocation holds the ticket's lease."""
        return bool(item.get("owner", {}).get("S") == self._owner)

    def advance(self, ticket_id: str, stage: str) -> None:
        self._update_owned(ticket_id, "SET stage = :stage", {":stage": {"S": stage}})

    def release(self, ticket_id: str) -> None:
        """Give the lease back after a failure, so a retry can go on at once."""
        # If this fails too, the lease expires on its own; the caller sees the original error.
        with contextlib.suppress(ClientError):
            self._update_owned(ticket_id, "SET leaseUntil = :zero", {":zero": {"N": "0"}})

    def _update_owned(self, ticket_id: str, update: str, values: dict[str, Any]) -> None:
        """Update the ticket's item on condition that this invocation holds its lease."""
        self._db.update_item(
            TableName=self._table,
            Key={"ticketId": {"S": ticket_id}},
            UpdateExpression=update,
            ConditionExpression="#owner = :me",
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues={**values, ":me": {"S": self._owner}},
        )


@dataclass(frozen=True)
class Downstream:
    """Where a classified ticket goes: the warehouse stream and the handler function."""

    firehose: Any
    lambda_client: Any
    delivery_stream: str
    handler_function: str

    def deliver(self, record: dict[str, Any]) -> None:
        data = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        self.firehose.put_record(DeliveryStreamName=self.delivery_stream, Record={"Data": data})

    def hand_over(self, answer: dict[str, Any], creation_time: str) -> None:
        payload = {
            "TicketId": answer["TicketId"],
            "Operation": answer["Operation"]["Name"],
            "Resource": answer["Resource"]["Name"],
            "TicketCreationTime": creation_time,
        }
        self.lambda_client.invoke(
            FunctionName=self.handler_function,
            InvocationType="Event",
            Payload=json.dumps(payload).encode("utf-8"),
        )


def process(
    ticket: Ticket,
    store: TicketStore,
    classify: Callable[[str], Classification],
    downstream: Downstream,
) -> Outcome:
    item = store.get(ticket.ticket_id)
    if item is None:
        classification = classify(ticket.text)
        answer = answer_for(ticket, classification)
        record = warehouse_record(ticket, classification)
        if store.claim(ticket.ticket_id, answer, record):
            _finish(ticket.ticket_id, CLAIMED, answer, record, store, downstream)
            return Outcome(answer, duplicate=False)
        item = store.get(ticket.ticket_id)
        if item is None:  # pragma: no cover - a claimed item is never deleted
            raise TicketInProgressError(ticket.ticket_id)
        if store.owns(item) and item["stage"]["S"] != DONE:
            # This invocation's own claim: the put took effect, its answer was lost and the
            # SDK's retry failed the condition. The ticket is new, not a duplicate.
            _finish(ticket.ticket_id, item["stage"]["S"], answer, record, store, downstream)
            return Outcome(answer, duplicate=False)
    answer = json.loads(item["answer"]["S"])
    stage = item["stage"]["S"]
    if stage == DONE:
        return Outcome(answer, duplicate=True)
    if not store.take_over(item):
        raise TicketInProgressError(
            f"ticket {ticket.ticket_id} is being classified by another invocation; retry shortly"
        )
    _finish(ticket.ticket_id, stage, answer, json.loads(item["record"]["S"]), store, downstream)
    return Outcome(answer, duplicate=True)


def _finish(
    ticket_id: str,
    stage: str,
    answer: dict[str, Any],
    record: dict[str, Any],
    store: TicketStore,
    downstream: Downstream,
) -> None:
    try:
        if stage == CLAIMED:
            downstream.deliver(record)
            store.advance(ticket_id, DELIVERED)
        downstream.hand_over(answer, record["creation_time"])
        store.advance(ticket_id, DONE)
    except Exception:
        store.release(ticket_id)
        raise
