"""Log groups with the project's defaults: kept a month, removed with the stack."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs
from constructs import Construct


class WorkflowLogGroup(logs.LogGroup):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
    ) -> None:
        super().__init__(
            scope, construct_id, retention=retention, removal_policy=RemovalPolicy.DESTROY
        )
