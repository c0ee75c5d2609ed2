"""Intake, called with the SQS events Lambda gives it, under moto: the state table is moto's,
and Step Functions a stand-in that keeps executions by name, as the service does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdas.comprehend_model_lifecycle import intake, locking
from lambdas.shared.events import s3_events_from_body
from tests.helpers.aws import create_table
from tests.helpers.handlers import ACCOUNT, REGION, HandlerClients, call, handler_environment

BUCKET = "lifecycle-handler-training"
TABLE = "lifecycle-handler-state"
STATE_MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:Rounds"
EXECUTION_PREFIX = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:Rounds"
NO_FAILURES: dict[str, list[Any]] = {"batchItemFailures": []}


class ExecutionAlreadyExistsError(Exception):
    pass


class ExecutionDoesNotExistError(Exception):
    pass


@dataclass
class StepFunctions:
    """StartExecution and DescribeExecution over executions kept by name. A name used before
    with the same input starts nothing new (the service answers the running execution, or
    ExecutionAlreadyExists once it is closed); every call is remembered."""

    executions: dict[str, str] = field(default_factory=dict)  # name -> input
    calls: list[str] = field(default_factory=list)
    statuses: dict[str, str] = field(default_factory=dict)  # name -> status; RUNNING if unset
    refused: set[str] = field(default_factory=set)  # names whose start fails

    class exceptions:  # noqa: N801 - shaped like a boto3 client's `exceptions`
        ExecutionAlreadyExists = ExecutionAlreadyExistsError
        ExecutionDoesNotExist = ExecutionDoesNotExistError

    def start_execution(self, stateMachineArn: str, name: str, input: str) -> dict[str, str]:  # noqa: N803
        assert stateMachineArn == STATE_MACHINE
        self.calls.append(name)
        if name in self.refused:
            raise RuntimeError(f"StartExecution of {name} failed")
        if self.executions.setdefault(name, input) != input:
            raise ExecutionAlreadyExistsError(name)
        return {"executionArn": f"{STATE_MACHINE}:{name}".replace(":stateMachine:", ":execution:")}

    def describe_execution(self, executionArn: str) -> dict[str, str]:  # noqa: N803
        name = executionArn.rsplit(":", 1)[1]
        if executionArn != f"{EXECUTION_PREFIX}:{name}" or name not in self.executions:
            raise ExecutionDoesNotExistError(executionArn)
        return {"status": self.statuses.get(name, "RUNNING")}


@dataclass
class Account:
    s3: Any
    dynamodb: Any
    stepfunctions: StepFunctions

    def upload(self, key: str) -> str:
        return str(self.s3.put_object(Bucket=BUCKET, Key=key, Body=b"World,text\n")["VersionId"])

    def lock_holder(self) -> str:
        item = self.dynamodb.get_item(
            TableName=TABLE, Key={"pk": {"S": "lock"}, "sk": {"S": "lock"}}
        )["Item"]
        return str(item["holder"]["S"])


def notification(key: str, version_id: str | None, event_time: str, sequencer: str) -> str:
    """The body of the SQS message S3 sends for one upload."""
    obj: dict[str, Any] = {"key": key, "size": 11, "eTag": "0cc1", "sequencer": sequencer}
    if version_id is not None:
        obj["versionId"] = version_id
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventTime": event_time,
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": BUCKET}, "object": obj},
    }
    return json.dumps({"Records": [record]})


def sqs_event(body: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": "message-1",
                "receiptHandle": "handle-1",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:uploads",
                "awsRegion": REGION,
            }
        ]
    }


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[Account]:
    handler_environment(
        monkeypatch,
        "comprehend-model-lifecycle",
        {
            "BUCKET_NAME": BUCKET,
            "STATE_TABLE": TABLE,
            "CLASSIFIER_NAME": "rounds",
            "STATE_MACHINE_ARN": STATE_MACHINE,
        },
    )
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        create_table(dynamodb, TABLE, "pk", "sk")
        stepfunctions = StepFunctions()
        monkeypatch.setattr(intake.kit, "clients", HandlerClients(stepfunctions=stepfunctions))
        monkeypatch.setattr(intake.kit.metrics.provider, "namespace", "ServerlessMlWorkflows")
        yield Account(s3, dynamodb, stepfunctions)


def test_one_upload_version_notified_twice_starts_one_round(account: Account) -> None:
    version = account.upload("train/news.csv")
    first = notification("train/news.csv", version, "2024-05-06T10:15:30.123Z", "0066389F2A1D")
    again = notification("train/news.csv", version, "2024-05-06T10:15:31.456Z", "0066389F2A1E")

    assert call(intake, sqs_event(first)) == NO_FAILURES
    assert call(intake, sqs_event(again)) == NO_FAILURES

    (name,) = set(account.stepfunctions.calls)
    assert len(account.stepfunctions.calls) == 2  # the second delivery asked for the same round
    assert list(account.stepfunctions.executions) == [name]
    assert account.lock_holder() == name


def name_of(body: str) -> str:
    return intake.round_name(s3_events_from_body(body)[0], body)


def test_each_upload_version_names_its_own_round(account: Account) -> None:
    first = account.upload("train/news.csv")
    second = account.upload("train/news.csv")
    time = "2024-05-06T10:15:30.123Z"
    assert name_of(notification("train/news.csv", first, time, "00A1")) != name_of(
        notification("train/news.csv", second, time, "00A1")
    )


def test_an_upload_without_a_version_names_its_round_from_the_message() -> None:
    one = notification("train/news.csv", None, "2024-05-06T10:15:30.123Z", "0066389F2A1D")
    other = notification("train/news.csv", None, "2024-05-06T10:15:31.456Z", "0066389F2A1E")
    assert name_of(one) != name_of(other)
    assert all(name.startswith("round-") and len(name) == 30 for name in map(name_of, (one, other)))


def test_a_round_lock_is_taken_over_once_its_execution_ended_never_while_it_runs(
    account: Account,
) -> None:
    db, sfn = account.dynamodb, account.stepfunctions
    assert locking.start_round_if_idle(db, sfn, TABLE, STATE_MACHINE, "round-1")
    assert not locking.start_round_if_idle(db, sfn, TABLE, STATE_MACHINE, "round-2")
    assert account.lock_holder() == "round-1" and sfn.calls == ["round-1"]
    # The same round again (its message delivered twice) holds its own lock.
    assert locking.start_round_if_idle(db, sfn, TABLE, STATE_MACHINE, "round-1")
    sfn.statuses["round-1"] = "ABORTED"
    assert locking.start_round_if_idle(db, sfn, TABLE, STATE_MACHINE, "round-2")
    assert account.lock_holder() == "round-2"
    assert sfn.calls == ["round-1", "round-1", "round-2"] and sfn.executions["round-2"] == "{}"


def test_a_round_lock_whose_execution_never_existed_is_taken_over(account: Account) -> None:
    account.dynamodb.put_item(
        TableName=TABLE, Item={**locking.LOCK_KEY, "holder": {"S": "round-0"}}
    )
    db, sfn = account.dynamodb, account.stepfunctions
    assert locking.start_round_if_idle(db, sfn, TABLE, STATE_MACHINE, "round-1")
    assert account.lock_holder() == "round-1" and sfn.calls == ["round-1"]


def test_a_round_that_cannot_start_gives_its_lock_back_and_only_its_own(account: Account) -> None:
    db, sfn = account.dynamodb, account.stepfunctions
    sfn.refused.add("round-1")
    with pytest.raises(RuntimeError, match="StartExecution of round-1 failed"):
        locking.start_round_if_idle(db, sfn, TABLE, STATE_MACHINE, "round-1")
    assert "Item" not in db.get_item(TableName=TABLE, Key=locking.LOCK_KEY)
    assert locking.start_round_if_idle(db, sfn, TABLE, STATE_MACHINE, "round-2")
    locking.release(db, TABLE, "round-1")
    assert account.lock_holder() == "round-2"


def test_an_upload_is_recorded_pending_once_with_its_key_and_version(account: Account) -> None:
    db = account.dynamodb
    assert locking.record_pending(db, TABLE, "0001#train/a.csv", "train/a.csv", "v1")
    assert not locking.record_pending(db, TABLE, "0001#train/a.csv", "train/a.csv", "v1")
    assert locking.record_pending(db, TABLE, "0002#train/b.csv", "train/b.csv", None)
    items = db.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pending",
        ExpressionAttributeValues={":pending": {"S": "pending"}},
    )["Items"]
    assert items == [
        {"pk": {"S": "pending"}, "sk": {"S": "0001#train/a.csv"}, "key": {"S": "train/a.csv"},
         "versionId": {"S": "v1"}},
        {"pk": {"S": "pending"}, "sk": {"S": "0002#train/b.csv"}, "key": {"S": "train/b.csv"}},
    ]  # fmt: skip
