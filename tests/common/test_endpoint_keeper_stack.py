"""The endpoint keeper's construct: under a scaling policy, its deadline queue (with a
dead-letter queue and its alarm) feeds the keeper, and the keeper may send to that queue and
nothing else; each new statement names AWS's actions and resource types; `always-on` has no
queue at all."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template

from lambdas.shared.endpoint_policy import ALWAYS_ON, SCALE_TO_ZERO, EndpointPolicy
from localcloud.core.iam_database import statement_findings
from stacks.constructs.endpoint_keeper import EndpointKeeper
from stacks.constructs.topic import NotificationTopic

pytestmark = pytest.mark.synth

ENDPOINT = "arn:aws:comprehend:us-east-1:123456789012:document-classifier-endpoint/news"
MODEL = "arn:aws:comprehend:us-east-1:123456789012:document-classifier/news/version/1"
QUEUE = "arn:aws:sqs:us-east-1:123456789012:Keeper-Deadlines"


def _template(mode: str) -> dict[str, Any]:
    app = App()
    stack = Stack(app, "Keeper")
    EndpointKeeper(
        stack,
        "EndpointKeeper",
        policy=EndpointPolicy.parse(mode),
        endpoint_arns=[ENDPOINT],
        model_arns=[MODEL],
        alarm_topic=NotificationTopic(stack, "Alarms"),
    )
    return Template.from_stack(stack).to_json()


@pytest.fixture(scope="module")
def scaling() -> dict[str, Any]:
    return _template(SCALE_TO_ZERO)


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _keeper_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    (policy,) = [
        p
        for k, p in _of_type(template, "AWS::IAM::Policy").items()
        if k.startswith("EndpointKeeper")
    ]
    statements: list[dict[str, Any]] = policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _queue_id(template: dict[str, Any]) -> str:
    (queue,) = [
        k
        for k, q in _of_type(template, "AWS::SQS::Queue").items()
        if "RedrivePolicy" in q["Properties"]
    ]
    return queue


def test_the_deadline_queue_feeds_the_keeper_and_dead_letters_with_an_alarm(
    scaling: dict[str, Any],
) -> None:
    queue_id = _queue_id(scaling)
    queue = scaling["Resources"][queue_id]["Properties"]
    (mapping,) = _of_type(scaling, "AWS::Lambda::EventSourceMapping").values()
    assert mapping["Properties"]["EventSourceArn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    (function_id, function), *_ = [
        (k, f)
        for k, f in _of_type(scaling, "AWS::Lambda::Function").items()
        if f["Properties"]["Handler"] == "lambdas.endpoint_keeper.keeper.handler"
    ]
    assert mapping["Properties"]["FunctionName"] == {"Ref": function_id}
    assert queue["VisibilityTimeout"] >= 6 * function["Properties"]["Timeout"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] >= 1
    variables = function["Properties"]["Environment"]["Variables"]
    assert variables["DEADLINE_QUEUE_URL"] == {"Ref": queue_id}
    dead_letters = queue["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
    assert any(
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [dead_letters, "QueueName"]}}
        in alarm["Properties"].get("Dimensions", [])
        for alarm in _of_type(scaling, "AWS::CloudWatch::Alarm").values()
    )


def test_the_keeper_may_send_to_its_deadline_queue_and_nothing_else(
    scaling: dict[str, Any],
) -> None:
    queue_arn = {"Fn::GetAtt": [_queue_id(scaling), "Arn"]}
    statements = _keeper_statements(scaling)
    unscoped = [s for s in statements if s["Resource"] == "*" or "*" in _list(s["Resource"])]
    # Only X-Ray's tracing calls, which AWS authorizes on no resource but "*".
    assert [sorted(_list(s["Action"])) for s in unscoped] == [
        ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]
    ]
    sqs = [s for s in statements if any(str(a).startswith("sqs:") for a in _list(s["Action"]))]
    assert {(a, str(s["Resource"])) for s in sqs for a in _list(s["Action"])} == {
        (action, str(queue_arn))
        for action in (
            "sqs:SendMessage",  # the keeper schedules its own runs
            "sqs:ReceiveMessage",  # Lambda's poller, as the keeper's role
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
        )
    }
    for statement in sqs:  # AWS's actions, on the queue's resource type
        assert statement_findings({**statement, "Resource": QUEUE}) == []


def test_always_on_needs_no_deadline_queue() -> None:
    template = _template(ALWAYS_ON)
    assert _of_type(template, "AWS::SQS::Queue") == {}
    assert _of_type(template, "AWS::Lambda::EventSourceMapping") == {}
    assert not any(
        str(a).startswith("sqs:") for s in _keeper_statements(template) for a in _list(s["Action"])
    )


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
