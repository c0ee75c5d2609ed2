"""End to end on the local cloud: tickets in through TicketClassifier, rows out of the
warehouse, recommendations on the ticket, nothing duplicated, nothing half-written, and every
call inside (and every grant used by) the deployed IAM policies."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from moto.firehose.models import FirehoseBackend

from localcloud.cloud import LocalCloud
from localcloud.core.iam_check import check
from localcloud.demos.ticket_classification import (
    TicketsStack,
    deploy,
    sample_tickets,
    train_endpoints,
)
from localcloud.demos.ticket_classification_report import write_report
from tests.helpers.least_privilege import logical_names

pytestmark = [pytest.mark.workflow, pytest.mark.xdist_group("tickets")]

STACK = "TicketClassification-test"


@pytest.fixture(scope="module")
def tickets(assembly_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TicketsStack]:
    """One deployment with trained endpoints for the module: training is the slow part."""
    work_dir = tmp_path_factory.mktemp("tickets") / "localcloud"
    with LocalCloud(assembly_dir, work_dir=work_dir) as cloud:
        stack = deploy(cloud, STACK)
        train_endpoints(cloud, stack)
        yield stack


def _item(stack: TicketsStack, ticket_id: str) -> dict[str, Any] | None:
    item = stack.cloud.client("dynamodb").get_item(
        TableName=stack.output("TicketTableName"),
        Key={"ticketId": {"S": ticket_id}},
        ConsistentRead=True,
    )
    return item.get("Item")


def _rows(stack: TicketsStack, ticket_id: str) -> list[dict[str, Any]]:
    return stack.sql(f"SELECT * FROM tickets WHERE id = '{ticket_id}'")


def _staged_objects(stack: TicketsStack) -> list[str]:
    listing = stack.cloud.client("s3").list_objects_v2(
        Bucket=stack.output("StagingBucketName"), Prefix="staging/"
    )
    return [o["Key"] for o in listing.get("Contents", [])]


def test_classified_tickets_land_once_in_the_warehouse_with_their_recommendations(
    tickets: TicketsStack, tmp_path: Path
) -> None:
    batch = sample_tickets(24, seed=11)
    answers = {t.ticket_id: tickets.classify(t.event()) for t in batch}
    for ticket in batch[:6]:  # the same tickets again: same answer, no second row
        again = tickets.classify(ticket.event())
        assert again["Duplicate"] is True
        assert {**again, "Duplicate": False} == answers[ticket.ticket_id]

    answer = answers[batch[0].ticket_id]
    assert set(answer) == {
        "TicketId", "Operation", "Resource", "Recommendations", "Truncated", "Duplicate",
    }  # fmt: skip
    assert answer["TicketId"] == batch[0].ticket_id and answer["Duplicate"] is False
    assert 0 < answer["Operation"]["Score"] <= 1 and 0 < answer["Resource"]["Score"] <= 1
    materials = answer["Recommendations"]["Materials"]
    assert materials and all({"type", "title", "link"} <= set(m) for m in materials)
    correct = [
        t
        for t in batch
        if answers[t.ticket_id]["Operation"]["Name"] == t.operation
        and answers[t.ticket_id]["Resource"]["Name"] == t.resource
    ]
    assert len(correct) >= 0.75 * len(batch)
    for ticket in correct:  # the most specific catalog entry that exists
        key = answers[ticket.ticket_id]["Recommendations"]["CatalogKey"]
        assert key in (f"{ticket.operation}/{ticket.resource}", f"*/{ticket.resource}")

    tickets.cloud.settle(timeout=60)
    tickets.wait_delivered()
    assert tickets.delivery.errors == []
    ids = [t.ticket_id for t in batch]
    rows = tickets.sql(
        "SELECT id, title, description, creation_time, operation, resource FROM tickets "
        f"WHERE id IN ({', '.join(repr(i) for i in ids)})"
    )
    assert sorted(r["id"] for r in rows) == sorted(ids)  # every ticket once, no duplicate
    by_id = {r["id"]: r for r in rows}
    for ticket in batch:
        row = by_id[ticket.ticket_id]
        assert row["title"] == ticket.title and row["description"] == ticket.description
        assert row["creation_time"] == ticket.creation_time  # UTC, as the warehouse stores it
        assert row["operation"] == answers[ticket.ticket_id]["Operation"]["Name"]
        assert row["resource"] == answers[ticket.ticket_id]["Resource"]["Name"]
    # Firehose staged the records in S3 before COPY loaded them.
    assert any(key.startswith("staging/manifests/") for key in _staged_objects(tickets))

    # TicketHandler ran (asynchronously) for every ticket and recorded its recommendation.
    for ticket in batch:
        item = _item(tickets, ticket.ticket_id)
        assert item is not None and item["stage"]["S"] == "done"
        assert item["handled"]["BOOL"] is True
        recorded = json.loads(item["recommendations"]["S"])
        assert recorded == answers[ticket.ticket_id]["Recommendations"]
    handled = [
        event["TicketId"]
        for name, event, _ in tickets.cloud.runtime.invocations
        if "TicketHandler" in name
    ]
    assert sorted(set(handled)) == sorted(ids) and len(handled) == len(ids)

    # The report renders from the warehouse, queried through the Data API.
    page = write_report(tickets.sql, tmp_path / "report")
    html = page.read_text()
    total = int(re.search(r"Support tickets: (\d+) classified", html)[1])  # type: ignore[index]
    assert total >= len(batch)
    for chart in ("pivot.png", "by-operation.png", "by-resource.png", "over-time.png"):
        assert (tmp_path / "report" / chart).stat().st_size > 5000
        assert f'src="{chart}"' in html


@pytest.mark.parametrize(
    ("event", "code"),
    [
        ({"TicketId": "T-m1", "TicketTitle": "Create bucket"}, "missing-field"),
        (
            {"TicketId": "T-e1", "TicketTitle": " ", "TicketDescription": "",
             "TicketCreationTime": "2026-01-05T08:00:00Z"},
            "empty-text",
        ),
        (
            {"TicketId": "T-t1", "TicketTitle": "Delete volume", "TicketDescription": "please",
             "TicketCreationTime": "last Tuesday"},
            "invalid-creation-time",
        ),
        (
            {"TicketId": 42, "TicketTitle": "Scale table", "TicketDescription": "more capacity",
             "TicketCreationTime": "2026-01-05T08:00:00Z"},
            "invalid-field",
        ),
        (["not", "an", "object"], "invalid-event"),
    ],
)  # fmt: skip
def test_bad_tickets_get_a_clear_error_and_nothing_is_written(
    tickets: TicketsStack, event: Any, code: str
) -> None:
    staged_before = len(_staged_objects(tickets))
    answer = tickets.classify(event)
    assert answer["Error"]["Code"] == code
    assert answer["Error"]["Message"]
    ticket_id = event.get("TicketId") if isinstance(event, dict) else None
    if isinstance(ticket_id, str):
        assert _item(tickets, ticket_id) is None
        tickets.wait_delivered()
        assert _rows(tickets, ticket_id) == []
    assert len(_staged_objects(tickets)) == staged_before
    assert sum(len(b.records) for b in tickets.delivery.buffers.values()) == 0


def test_over_long_text_is_truncated_at_a_character_boundary_and_noted(
    tickets: TicketsStack,
) -> None:
    description = "Our S3 bucket needs a lifecycle rule. " + "é" * 6000  # 12,000+ bytes
    event = {
        "TicketId": "T-long-1",
        "TicketTitle": "Modify the S3 bucket",
        "TicketDescription": description,
        "TicketCreationTime": "2026-01-06T10:15:00+02:00",
    }
    answer = tickets.classify(event)
    assert answer["Truncated"] is True and "Error" not in answer
    item = _item(tickets, "T-long-1")
    assert item is not None and item["truncated"]["BOOL"] is True
    record = json.loads(item["record"]["S"])
    assert record["truncated"] is True and record["text_bytes"] > 10_000
    tickets.cloud.settle(timeout=60)
    tickets.wait_delivered()
    (row,) = _rows(tickets, "T-long-1")
    assert row["creation_time"] == "2026-01-06 08:15:00"  # converted to UTC
    assert row["description"] == description  # the warehouse keeps the whole description


def test_a_ticket_whose_delivery_failed_is_finished_by_the_retry_without_a_second_row(
    tickets: TicketsStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    (ticket,) = sample_tickets(1, seed=23)
    patched = FirehoseBackend.put_record_batch
    failures = []

    def failing(self: Any, name: str, records: Any) -> Any:
        failures.append(name)
        raise RuntimeError("Firehose is unavailable (injected)")

    monkeypatch.setattr(FirehoseBackend, "put_record_batch", failing)
    with pytest.raises(RuntimeError, match="TicketClassifier failed"):
        tickets.classify(ticket.event())
    assert failures  # the SDK retried, then the invocation failed
    item = _item(tickets, ticket.ticket_id)
    assert item is not None and item["stage"]["S"] == "claimed"  # claimed, lease released
    monkeypatch.setattr(FirehoseBackend, "put_record_batch", patched)

    again = tickets.classify(ticket.event())
    assert again["Duplicate"] is True and "Error" not in again
    tickets.classify(ticket.event())
    tickets.cloud.settle(timeout=60)
    tickets.wait_delivered()
    assert len(_rows(tickets, ticket.ticket_id)) == 1
    assert _item(tickets, ticket.ticket_id)["stage"]["S"] == "done"  # type: ignore[index]


def test_a_failing_ticket_handler_lands_in_the_on_failure_queue(tickets: TicketsStack) -> None:
    # A ticket the classifier never saw: TicketHandler's conditional write fails every time.
    event = {"TicketId": "T-ghost", "Operation": "delete", "Resource": "s3"}
    tickets.cloud.client("lambda").invoke(
        FunctionName=tickets.output("HandlerFunctionName"),
        InvocationType="Event",
        Payload=json.dumps(event).encode(),
    )
    tickets.cloud.settle(timeout=60)
    sqs = tickets.cloud.client("sqs")
    messages = sqs.receive_message(
        QueueUrl=tickets.output("HandlerFailureQueueUrl"), MaxNumberOfMessages=10
    ).get("Messages", [])
    failed = [json.loads(m["Body"]) for m in messages]
    ghost = [f for f in failed if f["requestPayload"] == event]
    assert len(ghost) == 1
    assert ghost[0]["requestContext"]["condition"] == "RetriesExhausted"
    assert ghost[0]["requestContext"]["approximateInvokeCount"] == 3
    assert _item(tickets, "T-ghost") is None


def test_data_api_statements_report_failures_and_have_results_only_when_finished(
    tickets: TicketsStack,
) -> None:
    data = tickets.cloud.client("redshift-data")
    target = {
        "WorkgroupName": tickets.output("WorkgroupName"),
        "Database": tickets.output("DatabaseName"),
        "SecretArn": tickets.output("AdminSecretArn"),
    }
    bad = data.execute_statement(Sql="SELECT nope FROM tickets", **target)
    engine = tickets.cloud.engines["redshift-data"]
    engine.wait(bad["Id"])
    described = data.describe_statement(Id=bad["Id"])
    assert described["Status"] == "FAILED" and "nope" in described["Error"]
    with pytest.raises(data.exceptions.ResourceNotFoundException):
        data.get_statement_result(Id=bad["Id"])
    with pytest.raises(data.exceptions.ValidationException):
        data.execute_statement(Sql="SELECT 1", Database="tickets", SecretArn=target["SecretArn"])
    wrong_database = data.execute_statement(Sql="SELECT 1", **{**target, "Database": "other"})
    assert engine.wait(wrong_database["Id"]).status == "FAILED"
    assert tickets.sql("SELECT 41 + 1 AS n") == [{"n": 42}]  # and the warehouse still answers


def test_a_load_that_keeps_failing_is_skipped_with_its_manifest_under_errors(
    tickets: TicketsStack,
) -> None:
    secrets = tickets.cloud.client("secretsmanager")
    secret_arn = tickets.output("AdminSecretArn")
    original = secrets.get_secret_value(SecretId=secret_arn)["SecretString"]
    wrong = json.dumps({**json.loads(original), "password": "Not-the-password-1"})
    secrets.put_secret_value(SecretId=secret_arn, SecretString=wrong)
    try:
        (ticket,) = sample_tickets(1, seed=41)
        tickets.classify(ticket.event())
        tickets.cloud.clock.advance(120)  # past the buffer interval: staged, COPY fails
        deadline = 200
        while not any(tickets.delivery.loads.values()) and deadline:
            deadline -= 1
            time.sleep(0.01)
        tickets.cloud.clock.advance(3700)  # past the stack's one-hour retry duration
        tickets.wait_delivered()
    finally:
        secrets.put_secret_value(SecretId=secret_arn, SecretString=original)
    assert any("password authentication failed" in e for _, e in tickets.delivery.errors)
    tickets.delivery.errors.clear()
    assert _rows(tickets, ticket.ticket_id) == []
    listing = tickets.cloud.client("s3").list_objects_v2(
        Bucket=tickets.output("StagingBucketName"), Prefix="errors/manifests/"
    )
    manifests = [o["Key"] for o in listing.get("Contents", [])]
    assert len(manifests) == 1  # what a manual COPY replays


def _retrain(tickets: TicketsStack, name: str) -> dict[str, Any]:
    sfn = tickets.cloud.client("stepfunctions")
    execution = sfn.start_execution(
        stateMachineArn=tickets.output("TrainingStateMachineArn"), name=name
    )["executionArn"]
    tickets.cloud.settle(timeout=300)
    described: dict[str, Any] = sfn.describe_execution(executionArn=execution)
    assert described["status"] == "SUCCEEDED", described.get("cause")
    return described


def test_training_again_moves_the_same_endpoints_to_new_models(tickets: TicketsStack) -> None:
    ssm = tickets.cloud.client("ssm")
    names = [tickets.output(f"{role}EndpointParameterName") for role in ("Operation", "Resource")]
    before = [ssm.get_parameter(Name=name)["Parameter"]["Value"] for name in names]
    described = _retrain(tickets, "retraining")
    classifiers = json.loads(described["output"])["classifiers"]
    assert [c["endpointArn"] for c in classifiers] == before  # clients keep their endpoint
    comprehend = tickets.cloud.client("comprehend")
    # One version per execution, named by a hash of its ARN (a name Comprehend accepts).
    version = hashlib.md5(described["executionArn"].encode()).hexdigest()
    for classifier in classifiers:
        assert classifier["modelArn"].endswith(f"/version/{version}")
        endpoint = comprehend.describe_endpoint(EndpointArn=classifier["endpointArn"])
        assert endpoint["EndpointProperties"]["ModelArn"] == classifier["modelArn"]
    assert [ssm.get_parameter(Name=name)["Parameter"]["Value"] for name in names] == before
    answer = tickets.classify(sample_tickets(1, seed=51)[0].event())
    assert "Error" not in answer


# Last, so the scenarios above have exercised every path (the retraining's UpdateEndpoint too).
def test_every_call_is_allowed_and_every_grant_is_used(tickets: TicketsStack) -> None:
    if not any(c.operation == "UpdateEndpoint" for c in tickets.cloud.recorder.calls()):
        _retrain(tickets, "retraining-for-grants")  # when run without the test above
    tickets.classify(sample_tickets(1, seed=31)[0].event())
    tickets.cloud.client("lambda").invoke(  # a handler failure, for the on-failure path
        FunctionName=tickets.output("HandlerFunctionName"),
        InvocationType="Event",
        Payload=json.dumps({"TicketId": "T-ghost-2", "Operation": "x", "Resource": "y"}),
    )
    tickets.cloud.settle(timeout=60)
    tickets.wait_delivered()
    report = check(tickets.cloud)
    assert report.denied == [], report.format()
    assert report.unverifiable == [], report.format()
    names = logical_names(tickets.stack)
    assert {names[p] for p in report.principals if p in names} == {
        "TicketClassifier", "TicketHandler", "TableSetup", "Delivery", "TrainingWorkflow",
        "ComprehendDataAccess", "EndpointKeeper",
    }  # fmt: skip
    unused = {(names.get(u.principal, u.principal), u.action) for u in report.unused}
    # What the emulation does not exercise: Firehose's documented S3 permissions for
    # multipart uploads and bucket lookups; what aws-cdk-lib's grants add next to the call
    # that is made (DescribeSecret next to GetSecretValue, GetQueueAttributes next to the
    # on-failure destination's SendMessage); comprehend:TagResource, with which Comprehend
    # authorizes the tags of a create call (the IAM reference lists no dependent action).
    assert unused <= {
        ("TrainingWorkflow", "comprehend:TagResource"),
        ("TicketHandler", "sqs:GetQueueAttributes"),
        ("Delivery", "s3:AbortMultipartUpload"),
        ("Delivery", "s3:GetBucketLocation"),
        ("Delivery", "s3:ListBucket"),
        ("Delivery", "s3:ListBucketMultipartUploads"),
        ("Delivery", "secretsmanager:DescribeSecret"),
        ("TableSetup", "secretsmanager:DescribeSecret"),
        # Always-on (this stage): the endpoints never go missing, so nothing waits in the
        # ticket queue and the keeper creates and deletes nothing (the scale-to-zero paths run
        # in test_endpoint_lifecycle.py).
        ("TicketClassifier", "sqs:SendMessage"),
        ("TicketClassifier", "sqs:ReceiveMessage"),
        ("TicketClassifier", "sqs:DeleteMessage"),
        ("TicketClassifier", "sqs:GetQueueAttributes"),
        ("TicketClassifier", "dynamodb:GetItem"),
        ("TicketClassifier", "lambda:InvokeFunction"),
        ("EndpointKeeper", "comprehend:CreateEndpoint"),
        ("EndpointKeeper", "comprehend:DeleteEndpoint"),
        ("EndpointKeeper", "comprehend:TagResource"),
    }, unused
    # And the check does catch a call outside the policy.
    denied = check(
        tickets.cloud,
        [
            replace(call, operation="PutItem")
            for call in tickets.cloud.recorder.calls()
            if call.service == "dynamodb" and "TicketHandler" in (call.principal or "")
        ][:1],
    )
    assert denied.denied, "TicketHandler may only update items"
