"""DynamoDB tables with the project's defaults: billed per request, point-in-time recovery."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct


def _string(name: str) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)


class WorkflowTable(dynamodb.Table):
    """A table keyed by string attributes. Retained with the stack unless `removal_policy`
    says its items are worth nothing after it (a lock, a cache)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        partition_key: str,
        sort_key: str | None = None,
        time_to_live_attribute: str | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            partition_key=_string(partition_key),
            sort_key=_string(sort_key) if sort_key else None,
            time_to_live_attribute=time_to_live_attribute,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=removal_policy,
        )
