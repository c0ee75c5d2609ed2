"""Local CloudWatch alarm evaluation against the tables of "Evaluating an alarm" in the
CloudWatch user guide (AlarmThatSendsEmail.html#alarms-evaluating-missing-data)."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from localcloud.core.alarms import (
    ALARM,
    INSUFFICIENT_DATA,
    OK,
    Alarm,
    AlarmEvaluator,
    MetricId,
    _expression_value,
)

PERIOD = 60
NOW = 10 * PERIOD + 1  # the period in progress is [600, 660)
QUEUE = MetricId.of(
    "AWS/SQS", "ApproximateNumberOfMessagesVisible", [{"Name": "QueueName", "Value": "dlq"}]
)


def _alarm(n: int, m: int, treat: str, **extra: Any) -> Alarm:
    props = {
        "Namespace": "AWS/SQS",
        "MetricName": "ApproximateNumberOfMessagesVisible",
        "Dimensions": [{"Name": "QueueName", "Value": "dlq"}],
        "Statistic": "Maximum",
        "Period": PERIOD,
        "EvaluationPeriods": n,
        "DatapointsToAlarm": m,
        "Threshold": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": treat,
        **extra,
    }
    return Alarm("dlq-alarm", "arn:aws:cloudwatch:us-east-1:123456789012:alarm:dlq-alarm", props, 0)


def _evaluator() -> AlarmEvaluator:
    cloud = SimpleNamespace(clock=SimpleNamespace(time=lambda: NOW), account_id="1", region="r")
    return AlarmEvaluator(cloud)  # type: ignore[arg-type]


def _decide(points: str, n: int, m: int, treat: str, current: str = OK) -> str:
    """`points` as the guide writes them, oldest first: 0 not breaching, X breaching,
    - missing; the newest is the period in progress."""
    evaluator = _evaluator()
    for index, point in enumerate(points.split()):
        start = (NOW // PERIOD - (len(points.split()) - 1 - index)) * PERIOD
        if point != "-":
            evaluator.metrics.add(QUEUE, start, 0.0 if point == "0" else 5.0)
    alarm = _alarm(n, m, treat)
    alarm.state = current
    state, _ = evaluator._decide(alarm, NOW)
    return state


RETAIN = "retain"
TREATMENTS = ("missing", "ignore", "breaching", "notBreaching")


@pytest.mark.parametrize(
    ("points", "m", "expected"),
    [
        # 3 of 3 datapoints to alarm
        ("0 - X - X", 3, (OK, OK, OK, OK)),
        ("0 - - - -", 3, (OK, OK, OK, OK)),
        ("- - - - -", 3, (INSUFFICIENT_DATA, RETAIN, ALARM, OK)),
        ("0 X X - X", 3, (ALARM, ALARM, ALARM, ALARM)),
        ("- - - - X", 3, (INSUFFICIENT_DATA, RETAIN, ALARM, OK)),
        # The guide's sixth row ("X - - - -") decides ALARM for `missing`; not emulated.
        ("X - - - -", 3, (None, RETAIN, ALARM, OK)),
        # 2 of 3
        ("0 - X - X", 2, (ALARM, ALARM, ALARM, ALARM)),
        ("0 0 X 0 X", 2, (ALARM, ALARM, ALARM, ALARM)),
        ("0 - X - -", 2, (OK, OK, ALARM, OK)),
        ("- - - - 0", 2, (OK, OK, ALARM, OK)),
        ("- - - - X", 2, (INSUFFICIENT_DATA, RETAIN, ALARM, OK)),
    ],
)
def test_m_of_three_alarms_follow_the_guide(points: str, m: int, expected: tuple[Any, ...]) -> None:
    for treat, wanted in zip(TREATMENTS, expected, strict=True):
        if wanted is None:
            continue
        for current in (OK, ALARM):
            want = current if wanted == RETAIN else wanted
            assert _decide(points, 3, m, treat, current) == want, (points, treat, current)


def test_metric_math_counts_a_missing_value_as_zero() -> None:
    expression = "failed + timedOut + aborted"
    assert _expression_value(expression, {"failed": 1.0, "timedOut": None, "aborted": 2.0}) == 3
    assert (
        _expression_value(expression, {"failed": None, "timedOut": None, "aborted": None}) is None
    )
    assert _expression_value("(a - b) / 2", {"a": 5.0, "b": 1.0}) == 2
    assert _expression_value("a / b", {"a": 1.0, "b": 0.0}) is None  # dropped, not infinite


def test_unsupported_metrics_and_functions_leave_the_alarm_unevaluated() -> None:
    lambda_errors = _alarm(1, 1, "missing", Namespace="AWS/Lambda", MetricName="Errors")
    assert lambda_errors.unsupported and "AWS/Lambda Errors" in lambda_errors.reason
    props = {
        "Metrics": [
            {"Id": "e", "Expression": "FILL(m, 0)", "ReturnData": True},
            {
                "Id": "m",
                "ReturnData": False,
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/SQS",
                        "MetricName": "ApproximateNumberOfMessagesVisible",
                        "Dimensions": [{"Name": "QueueName", "Value": "dlq"}],
                    },
                    "Period": PERIOD,
                    "Stat": "Maximum",
                },
            },
        ],
        "EvaluationPeriods": 1,
        "Threshold": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
    }
    filled = Alarm("filled", "arn", props, 0)
    assert filled.unsupported and "FILL" in filled.reason and filled.state == INSUFFICIENT_DATA


def test_the_notification_has_cloudwatchs_shape() -> None:
    evaluator = _evaluator()
    alarm = _alarm(1, 1, "notBreaching", AlarmDescription="Dead letters", AlarmActions=["t"])
    alarm.state, alarm.reason = ALARM, "Threshold Crossed: ..."
    message, subject = evaluator.notification(alarm, OK, NOW)
    body = json.loads(message)
    assert subject == 'ALARM: "dlq-alarm" in r'  # the stub region has no long name
    assert body["NewStateValue"] == ALARM and body["OldStateValue"] == OK
    assert body["AlarmArn"] == alarm.arn and body["AlarmActions"] == ["t"]
    assert body["StateChangeTime"] == "1970-01-01T00:10:01.000+0000"
    assert body["Trigger"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert body["Trigger"]["Statistic"] == "MAXIMUM"
    assert body["Trigger"]["Dimensions"] == [{"value": "dlq", "name": "QueueName"}]
