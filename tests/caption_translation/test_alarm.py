"""End to end: a deployed workflow fails, its alarm goes to ALARM on the local clock, and the
notification reaches an operator subscribed to the stack's topic."""

from __future__ import annotations

import json
from typing import Any

import pytest

from localcloud.core.delivery import wait_until
from localcloud.services.translate.engine import TranslateFaults
from tests.caption_translation.helpers import GOOD_SAMPLES, deploy, samples
from tests.conftest import DEFAULT_STACK

pytestmark = [pytest.mark.workflow, pytest.mark.xdist_group("captions")]


def _operator_inbox(cloud: Any, topic: str) -> str:
    """An SQS queue subscribed to the topic, with the queue policy SNS needs."""
    sqs = cloud.client("sqs")
    url = sqs.create_queue(QueueName="operator-inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    cloud.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return str(url)


def test_a_failed_batch_raises_the_workflow_alarm_and_the_operator_hears_of_it(
    cloud: Any,
) -> None:
    stack = deploy(cloud, DEFAULT_STACK)
    topic = stack.stack.outputs["NotificationTopicArn"]
    inbox = _operator_inbox(cloud, topic)
    (alarm_id,) = [
        logical_id
        for logical_id in stack.stack.resources_of_type("AWS::CloudWatch::Alarm")
        if logical_id.startswith("WorkflowFailuresAlarm")
    ]
    alarm = cloud.delivery.alarms.alarms[stack.stack.physical_id(alarm_id)]

    cloud.translate.faults = TranslateFaults(modes=frozenset({"throttle"}), throttle_calls=10_000)
    stack.run(samples(GOOD_SAMPLES[:1]))
    assert [e["status"] for e in stack.executions()] == ["FAILED"]
    cloud.clock.advance(60)  # the next evaluation
    # The local clock also moves with real time, so a later evaluation may already have
    # returned the alarm to OK (a period with no failure): the history holds the transition.
    assert wait_until(lambda: any(new == "ALARM" for _, _, new, _ in alarm.history), timeout=10), (
        alarm.reason
    )

    # The state changes first; the notification follows it through SNS.
    notices: list[dict[str, Any]] = []

    def alarm_noticed() -> bool:
        received = cloud.client("sqs").receive_message(QueueUrl=inbox, MaxNumberOfMessages=10)
        notices.extend(json.loads(m["Body"]) for m in received.get("Messages", []))
        return any(n["Subject"].startswith("ALARM: ") for n in notices)

    assert wait_until(alarm_noticed, timeout=10), notices
    (notice,) = [n for n in notices if n["Subject"].startswith("ALARM: ")]
    message = json.loads(notice["Message"])
    assert message["AlarmName"] == alarm.name and message["NewStateValue"] == "ALARM"
    assert message["AlarmDescription"].startswith("A caption batch failed")
    metrics = {
        m["MetricStat"]["Metric"]["MetricName"]
        for m in message["Trigger"]["Metrics"]
        if "MetricStat" in m
    }
    assert metrics == {"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"}
    # The batch's own failure notice reached the operator too; nothing was refused.
    assert "Caption translation batch failed" in [n["Subject"] for n in notices]
    assert cloud.delivery.denied == []
