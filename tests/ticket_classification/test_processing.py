"""Once per ticket when a write took effect but its answer was lost (the SDK sent it again)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from lambdas.ticket_classification.classification import Classification, Label
from lambdas.ticket_classification.processing import (
    DONE,
    Downstream,
    TicketStore,
    answer_for,
    process,
)
from lambdas.ticket_classification.tickets import parse_ticket
from tests.helpers.aws import create_table

EVENT = {
    "TicketId": "T-1",
    "TicketTitle": "Cannot start my instance",
    "TicketDescription": "The EC2 instance stays in pending",
    "TicketCreationTime": "2026-01-05T08:00:00Z",
}


def _condition_failed(operation: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": "ConditionalCheckFailedException"}, "ResponseMetadata": {}}, operation
    )


class AnswerLostTable:
    """A DynamoDB table whose next conditional write takes effect, then fails its condition as
    the SDK's retry of it does when the first answer was lost."""

    def __init__(self, lose: str) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.lose = lose

    def get_item(self, **request: Any) -> dict[str, Any]:
        item = self.items.get(request["Key"]["ticketId"]["S"])
        return {"Item": copy.deepcopy(item)} if item else {}

    def put_item(self, **request: Any) -> None:
        key = request["Item"]["ticketId"]["S"]
        if key in self.items:
            raise _condition_failed("PutItem")
        self.items[key] = copy.deepcopy(request["Item"])
        if self.lose == "PutItem":
            self.lose = ""
            raise _condition_failed("PutItem")  # the retry found its own item

    def update_item(self, **request: Any) -> None:
        item = self.items[request["Key"]["ticketId"]["S"]]
        values = request["ExpressionAttributeValues"]
        if request["ConditionExpression"] == "#owner = :me":
            if item["owner"] != values[":me"]:
                raise _condition_failed("UpdateItem")
        elif item["leaseUntil"] != values[":seen"] or item["stage"] == values[":done"]:
            raise _condition_failed("UpdateItem")
        expression = request["UpdateExpression"]
        if ":stage" in values:
            item["stage"] = values[":stage"]
        if ":me" in values and "#owner = :me," in expression:
            item["owner"] = values[":me"]
        if ":until" in values:
            item["leaseUntil"] = values[":until"]
        if ":zero" in values:
            item["leaseUntil"] = values[":zero"]
        if self.lose == "UpdateItem" and "#owner = :me," in expression:
            self.lose = ""
            raise _condition_failed("UpdateItem")  # the retry found the lease already moved


class Recorder:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def put_record(self, **request: Any) -> None:
        self.calls.append(request)

    def invoke(self, **request: Any) -> None:
        self.calls.append(request)


def _classify(text: str) -> Classification:
    return Classification(Label("describe", 0.9), Label("ec2", 0.8))


def _run(table: Any, owner: str, now: float = 1000.0) -> tuple[Any, Recorder]:
    downstream = Recorder()
    outcome = process(
        parse_ticket(EVENT),
        TicketStore(table, "tickets", owner, 60, clock=lambda: now),
        _classify,
        Downstream(downstream, downstream, "stream", "handler"),
    )
    return outcome, downstream


def test_a_claim_whose_answer_was_lost_is_finished_by_its_own_invocation() -> None:
    table = AnswerLostTable(lose="PutItem")
    outcome, downstream = _run(table, "request-1")
    assert outcome.duplicate is False
    assert outcome.answer["Operation"]["Name"] == "describe"
    assert len(downstream.calls) == 2  # one Firehose record, one hand-over
    assert table.items["T-1"]["stage"] == {"S": DONE}


ANSWER = (
    '{"TicketId": "T-1", "Operation": {"Name": "describe", "Score": 0.9}, '
    '"Resource": {"Name": "ec2", "Score": 0.8}}'
)


def test_a_take_over_whose_answer_was_lost_is_finished_by_its_own_invocation() -> None:
    table = AnswerLostTable(lose="")
    table.items["T-1"] = {  # claimed by an invocation that stopped before the end
        "ticketId": {"S": "T-1"}, "stage": {"S": "claimed"}, "owner": {"S": "request-0"},
        "leaseUntil": {"N": "900"}, "answer": {"S": ANSWER},
        "record": {"S": '{"creation_time": "2026-01-05 08:00:00"}'},
        "truncated": {"BOOL": False},
    }  # fmt: skip
    table.lose = "UpdateItem"
    outcome, downstream = _run(table, "request-2")
    assert outcome.duplicate is True
    assert len(downstream.calls) == 2
    assert table.items["T-1"]["stage"] == {"S": DONE}


def test_another_invocations_live_claim_is_still_left_alone() -> None:
    from lambdas.ticket_classification.processing import TicketInProgressError

    table = AnswerLostTable(lose="")
    table.items["T-1"] = {
        "ticketId": {"S": "T-1"}, "stage": {"S": "claimed"}, "owner": {"S": "request-0"},
        "leaseUntil": {"N": "2000"}, "answer": {"S": "{}"}, "record": {"S": "{}"},
    }  # fmt: skip
    with pytest.raises(TicketInProgressError):
        _run(table, "request-2")


@pytest.fixture
def tickets_table(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The ticket table in moto's DynamoDB, which evaluates the conditions and updates."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        create_table(dynamodb, "tickets", "ticketId")
        yield dynamodb


def _left_behind(dynamodb: Any, stage: str, lease_until: int) -> None:
    """The ticket as an invocation that stopped at `stage` left it."""
    dynamodb.put_item(
        TableName="tickets",
        Item={
            "ticketId": {"S": "T-1"}, "stage": {"S": stage}, "owner": {"S": "request-0"},
            "leaseUntil": {"N": str(lease_until)}, "answer": {"S": ANSWER},
            "record": {"S": '{"creation_time": "2026-01-05 08:00:00"}'},
            "truncated": {"BOOL": False},
        },
    )  # fmt: skip


@pytest.mark.parametrize(("stage", "calls"), [("claimed", 2), ("delivered", 1)])
def test_a_ticket_left_behind_is_finished_once_its_lease_ends(
    tickets_table: Any, stage: str, calls: int
) -> None:
    _left_behind(tickets_table, stage, lease_until=1000)
    outcome, downstream = _run(tickets_table, "request-2", now=1000.0)
    assert outcome.duplicate is True and outcome.answer["Operation"]["Name"] == "describe"
    # A record already delivered is not sent again: only the missing steps run.
    assert len(downstream.calls) == calls
    item = tickets_table.get_item(TableName="tickets", Key={"ticketId": {"S": "T-1"}})["Item"]
    assert (item["stage"], item["owner"], item["leaseUntil"]) == (
        {"S": DONE}, {"S": "request-2"}, {"N": "1060"},
    )  # fmt: skip


def test_a_ticket_whose_lease_still_runs_is_reported_in_progress(tickets_table: Any) -> None:
    from lambdas.ticket_classification.processing import TicketInProgressError

    _left_behind(tickets_table, "claimed", lease_until=1001)
    with pytest.raises(TicketInProgressError, match="retry shortly"):
        _run(tickets_table, "request-2", now=1000.0)
    item = tickets_table.get_item(TableName="tickets", Key={"ticketId": {"S": "T-1"}})["Item"]
    assert item["owner"] == {"S": "request-0"}


def test_a_done_ticket_is_answered_from_the_table_and_not_taken_over(tickets_table: Any) -> None:
    _left_behind(tickets_table, DONE, lease_until=0)
    outcome, downstream = _run(tickets_table, "request-2", now=1000.0)
    assert outcome.duplicate is True and downstream.calls == []
    store = TicketStore(tickets_table, "tickets", "request-3", 60, clock=lambda: 1000.0)
    item = store.get("T-1")
    assert item is not None and store.take_over(item) is False
    assert tickets_table.get_item(TableName="tickets", Key={"ticketId": {"S": "T-1"}})["Item"][
        "owner"
    ] == {"S": "request-0"}


def test_the_answer_names_each_label_with_its_score_to_four_places() -> None:
    classification = Classification(Label("restore", 0.912345), Label("ebs", 0.5))
    answer = answer_for(parse_ticket(EVENT), classification)
    assert (answer["Operation"], answer["Resource"]) == (
        {"Name": "restore", "Score": 0.9123}, {"Name": "ebs", "Score": 0.5},
    )  # fmt: skip
    assert answer["Recommendations"]["CatalogKey"] == "restore/ebs"


def test_a_new_ticket_goes_to_the_warehouse_and_the_handler_once_and_is_kept_done(
    tickets_table: Any,
) -> None:
    event = {
        **EVENT,
        "TicketTitle": "Café   closed",
        "TicketCreationTime": "2026-01-05T09:00+01:00",
    }
    store = TicketStore(tickets_table, "tickets", "request-1", 60, clock=lambda: 1000.0)
    downstream = Recorder()
    outcome = process(
        parse_ticket(event), store, _classify, Downstream(downstream, downstream, "stream", "fn")
    )
    assert outcome.duplicate is False
    record, hand_over = downstream.calls
    assert record["DeliveryStreamName"] == "stream"
    assert record["Record"]["Data"].decode("utf-8") == (
        '{"id": "T-1", "title": "Café closed", "description": "The EC2 instance stays in '
        'pending", "creation_time": "2026-01-05 08:00:00", "operation": "describe", '
        '"resource": "ec2", "truncated": false, "text_bytes": 47}\n'
    )
    assert (hand_over["FunctionName"], hand_over["InvocationType"]) == ("fn", "Event")
    assert json.loads(hand_over["Payload"]) == {
        "TicketId": "T-1",
        "Operation": "describe",
        "Resource": "ec2",
        "TicketCreationTime": "2026-01-05 08:00:00",
    }
    item = tickets_table.get_item(TableName="tickets", Key={"ticketId": {"S": "T-1"}})["Item"]
    assert (item["stage"], item["owner"], item["leaseUntil"], item["truncated"]) == (
        {"S": DONE}, {"S": "request-1"}, {"N": "1060"}, {"BOOL": False},
    )  # fmt: skip
    assert json.loads(item["answer"]["S"]) == outcome.answer
    # Delivered again: the stored answer, nothing sent twice.
    again = process(
        parse_ticket(event), store, _classify, Downstream(downstream, downstream, "stream", "fn")
    )
    assert again == type(outcome)(outcome.answer, duplicate=True) and len(downstream.calls) == 2
