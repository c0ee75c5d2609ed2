"""Alarms every workflow state machine gets."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from stacks.constructs.topic import NotificationTopic


def workflow_failure_alarm(
    scope: Construct,
    construct_id: str,
    state_machine_arn: str,
    topic: NotificationTopic,
    description: str,
) -> cloudwatch.Alarm:
    """Alarm, on `topic`, when any execution fails, times out or is aborted."""

    def executions(metric_name: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace="AWS/States",
            metric_name=metric_name,
            dimensions_map={"StateMachineArn": state_machine_arn},
            period=Duration.minutes(5),
            statistic="Sum",
        )

    alarm = cloudwatch.Alarm(
        scope,
        construct_id,
        alarm_description=description,
        metric=cloudwatch.MathExpression(
            expression="failed + timedOut + aborted",
            using_metrics={
                "failed": executions("ExecutionsFailed"),
                "timedOut": executions("ExecutionsTimedOut"),
                "aborted": executions("ExecutionsAborted"),
            },
            period=Duration.minutes(5),
        ),
        threshold=1,
        evaluation_periods=1,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )
    topic.notify_on_alarm(alarm)
    return alarm
