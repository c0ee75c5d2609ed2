"""The endpoint keeper and its callers against DynamoDB and SQS under moto, with a fake
Comprehend and a hand-moved clock: runs at the exact idle deadline (a delayed message of the
keeper's own, sent once), a use recorded after it was sent keeps the endpoint, and a recreated
endpoint is kept for the callers told to come back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from lambdas.endpoint_keeper import keeper as keeper_module
from lambdas.endpoint_keeper.keeper import Keeper
from lambdas.endpoint_keeper.settings import KeeperSettings
from lambdas.shared.endpoint_policy import SCALE_TO_ZERO, EndpointPolicy, Memory
from lambdas.shared.endpoint_usage import MIN_RETRY_AFTER_SECONDS, EndpointUsage
from tests.helpers.aws import create_table
from tests.helpers.handlers import ACCOUNT, REGION, HandlerClients, call, handler_environment

NAME = "classifier-endpoint"
ARN = f"arn:aws:comprehend:{REGION}:{ACCOUNT}:document-classifier-endpoint/{NAME}"
MODEL = f"arn:aws:comprehend:{REGION}:{ACCOUNT}:document-classifier/news/version/1"
START = datetime(2024, 5, 6, 12, tzinfo=UTC).timestamp()
WARM_UP = 300
# Pauses of a day: the keeper's idle timeout is its shortest, a minute.
DAILY = Memory(START - 3600, (86400.0,) * 5, START - 10 * 86400, START - 3600)


@dataclass
class Clock:
    now: float = START

    def __call__(self) -> float:
        return self.now


class FakeComprehend:
    """An endpoint that serves from `ready_at` until deleted."""

    def __init__(self, ready_at: float) -> None:
        self.ready_at: float | None = ready_at
        self.deleted: list[float] = []
        self.clock: Clock | None = None

    def describe_endpoint(self, **request: Any) -> dict[str, Any]:
        if self.ready_at is None:
            raise ClientError(
                {"Error": {"Code": "ResourceNotFoundException", "Message": "gone"}},
                "DescribeEndpoint",
            )
        return {
            "EndpointProperties": {
                "EndpointArn": request["EndpointArn"],
                "Status": "IN_SERVICE",
                "ModelArn": MODEL,
                "DesiredInferenceUnits": 1,
                "CurrentInferenceUnits": 1,
                "LastModifiedTime": datetime.fromtimestamp(self.ready_at, UTC),
            }
        }

    def delete_endpoint(self, **request: Any) -> dict[str, Any]:
        assert self.clock is not None
        self.deleted.append(self.clock.now)
        self.ready_at = None
        return {}


class RecordingLambda:
    """Where callers ask for the keeper: the asynchronous invocations they make."""

    def __init__(self) -> None:
        self.invocations: list[dict[str, Any]] = []

    def invoke(self, **request: Any) -> dict[str, Any]:
        self.invocations.append(request)
        return {"StatusCode": 202}


class RecordingSqs:
    """SQS under moto, remembering what the keeper sent."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.sent: list[dict[str, Any]] = []

    def send_message(self, **request: Any) -> dict[str, Any]:
        self.sent.append(request)
        response: dict[str, Any] = self.client.send_message(**request)
        return response


@dataclass
class World:
    clock: Clock
    comprehend: FakeComprehend
    dynamodb: Any
    sqs: RecordingSqs
    table: str
    queue_url: str
    invoked: RecordingLambda = field(default_factory=RecordingLambda)

    def keeper(self, idle_minutes: int = 15) -> Keeper:
        settings = KeeperSettings(
            table=self.table,
            endpoint_arns=(ARN,),
            policy=EndpointPolicy.parse(SCALE_TO_ZERO, idle_minutes=idle_minutes).as_json(),
            warm_up_seconds=WARM_UP,
            stack_name="",
            queue_url=None,
            rule_name=None,
            event_source_mapping=None,
            deadline_queue_url=self.queue_url,
        )
        return Keeper(self.comprehend, self.dynamodb, settings, clock=self.clock, sqs=self.sqs)

    def usage(self) -> EndpointUsage:
        EndpointUsage._written.clear()  # a fresh execution environment
        return EndpointUsage(self.dynamodb, self.invoked, self.table, "keeper", WARM_UP, self.clock)

    def item(self) -> dict[str, Any]:
        item: dict[str, Any] = self.dynamodb.get_item(
            TableName=self.table, Key={"endpoint": {"S": NAME}}, ConsistentRead=True
        )["Item"]
        return item

    def scheduled(self) -> list[dict[str, Any]]:
        """The deadline runs sent, with their delays."""
        return [{**json.loads(m["MessageBody"]), "delay": m["DelaySeconds"]} for m in self.sqs.sent]


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "ServerlessMlWorkflows")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "endpoint_keeper")
    monkeypatch.setattr(keeper_module.kit, "count", lambda *args, **kwargs: None)
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        create_table(dynamodb, "keeper", "endpoint")
        sqs = boto3.client("sqs", region_name=REGION)
        url = sqs.create_queue(QueueName="deadlines")["QueueUrl"]
        clock = Clock()
        comprehend = FakeComprehend(ready_at=START - 3600)
        comprehend.clock = clock
        world = World(clock, comprehend, dynamodb, RecordingSqs(sqs), "keeper", url)
        dynamodb.put_item(
            TableName="keeper",
            Item={"endpoint": {"S": NAME}, "memory": {"S": DAILY.as_json()}},
        )
        yield world


def test_the_deadline_is_run_once_at_the_exact_second_and_deletes_if_still_idle(
    world: World,
) -> None:
    world.usage().record_use(ARN)  # at START: idle timeout a minute, deadline START + 60
    world.clock.now = START + 25
    world.keeper().run()
    assert world.scheduled() == [{"deadline": NAME, "at": START + 60, "delay": 35}]
    # The schedule's next run before the deadline sends nothing more: one is pending.
    world.clock.now = START + 40
    world.keeper().run()
    assert len(world.scheduled()) == 1 and world.comprehend.deleted == []
    # The delayed run: still idle, deleted at the deadline, not at the next minute tick.
    world.clock.now = START + 60
    result = world.keeper().run()
    assert result["endpoints"][ARN]["action"] == "delete"
    assert world.comprehend.deleted == [START + 60]


def test_cost_first_deletes_fifteen_seconds_after_the_last_recorded_use(world: World) -> None:
    world.clock.now = START + 1
    world.usage().record_use(ARN)
    world.clock.now = START + 4
    world.keeper(idle_minutes=0).run()
    assert world.scheduled() == [{"deadline": NAME, "at": START + 16, "delay": 12}]
    world.clock.now = START + 16
    result = world.keeper(idle_minutes=0).run()
    assert result["endpoints"][ARN]["action"] == "delete"
    assert world.comprehend.deleted == [START + 16]


def test_a_use_recorded_after_the_deadline_run_was_sent_keeps_the_endpoint(
    world: World,
) -> None:
    world.usage().record_use(ARN)
    world.clock.now = START + 25
    world.keeper().run()
    world.clock.now = START + 50
    world.usage().record_use(ARN)  # a caller, after the message was sent
    world.clock.now = START + 60  # the message comes: a duplicate of it would act the same
    for _ in range(2):
        result = world.keeper().run()
        assert result["endpoints"][ARN]["action"] == "keep"
    assert world.comprehend.deleted == []
    # ... and the new deadline (START + 110) gets its own run, once.
    assert [m["at"] for m in world.scheduled()] == [START + 60, START + 110]


def test_a_use_record_is_written_at_most_every_ten_seconds(world: World) -> None:
    usage = world.usage()
    for second in range(0, 30):
        world.clock.now = START + second
        usage.record_use(ARN)
    assert float(world.item()["lastUsed"]["N"]) == START + 20


def test_callers_told_to_come_back_keep_a_recreated_endpoint_until_they_are_due(
    world: World,
) -> None:
    world.comprehend.ready_at = None  # deleted while idle
    usage = world.usage()
    assert usage.wake(ARN) == WARM_UP  # the first caller: the whole warm-up
    assert [json.loads(i["Payload"]) for i in world.invoked.invocations] == [{"wake": NAME}]
    world.clock.now = START + WARM_UP - 5  # a caller near the end of it: the minimum, 10 s
    assert usage.wake(ARN) == MIN_RETRY_AFTER_SECONDS == 10
    world.clock.now = START + 10  # an earlier one again: the latest promise stays
    assert usage.wake(ARN) == WARM_UP - 10
    assert float(world.item()["retryDue"]["N"]) == START + WARM_UP + 5
    assert len(world.invoked.invocations) == 1  # asked once

    world.comprehend.ready_at = START + WARM_UP  # the keeper recreated it; it serves now
    # Nobody has come yet a minute after it became ready: the caller due at +5 s is still
    # within the grace of a minute from then, so it stays.
    world.clock.now = START + WARM_UP + 60
    assert world.keeper().run()["endpoints"][ARN]["action"] == "keep"
    world.clock.now = START + WARM_UP + 65
    assert world.keeper().run()["endpoints"][ARN]["action"] == "delete"


def test_an_answered_wake_up_is_removed_and_a_newer_one_stays(world: World) -> None:
    world.comprehend.ready_at = None
    world.usage().wake(ARN)
    world.comprehend.ready_at = START + WARM_UP
    world.clock.now = START + WARM_UP + 5
    world.keeper().run()
    assert "wakeRequested" not in world.item()


def test_a_batch_of_deadline_messages_is_one_run_that_reports_no_failure(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler_environment(
        monkeypatch,
        "endpoint_keeper",
        {
            "KEEPER_TABLE": world.table,
            "ENDPOINT_ARNS": ARN,
            "ENDPOINT_POLICY": EndpointPolicy.parse(SCALE_TO_ZERO).as_json(),
            "WARM_UP_SECONDS": str(WARM_UP),
            "DEADLINE_QUEUE_URL": world.queue_url,
        },
    )
    clients = HandlerClients(comprehend=world.comprehend, dynamodb=world.dynamodb, sqs=world.sqs)
    monkeypatch.setattr(keeper_module.kit, "clients", clients)
    monkeypatch.setattr(keeper_module, "_now", world.clock)
    world.usage().record_use(ARN)
    world.clock.now = START + 60
    message = {"messageId": "1", "body": json.dumps({"deadline": NAME, "at": START + 60})}
    event = {"Records": [{**message, "eventSource": "aws:sqs"}, {**message, "messageId": "2"}]}
    assert call(keeper_module, event) == {"batchItemFailures": []}
    assert world.comprehend.deleted == [START + 60]
