"""IAM roles that an AWS service assumes for a workflow (data access and execution roles)."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks.constructs.acknowledge import acknowledge_wildcards
from stacks.constructs.arns import service_arn
from stacks.constructs.secure_bucket import SecureBucket


class ServiceRole(iam.Role):
    """A role `<service>.amazonaws.com` assumes. Against the confused deputy, the trust policy
    names what may act through it: `source_account` (`aws:SourceAccount`), `source_arn`
    (`aws:SourceArn`, the resources of the service that call), or `external_id`
    (`sts:ExternalId`, as Firehose documents for its delivery role)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        service: str,
        description: str,
        source_account: str | None = None,
        source_arn: str | None = None,
        external_id: str | None = None,
    ) -> None:
        equals: dict[str, str] = {}
        if source_account is not None:
            equals["aws:SourceAccount"] = source_account
        if external_id is not None:
            equals["sts:ExternalId"] = external_id
        conditions: dict[str, Any] = {"StringEquals": equals} if equals else {}
        if source_arn is not None:
            conditions["ArnLike"] = {"aws:SourceArn": source_arn}
        super().__init__(
            scope,
            construct_id,
            description=description,
            assumed_by=iam.ServicePrincipal(
                f"{service}.amazonaws.com", conditions=conditions or None
            ),
        )

    def grant_log_groups(self, pattern: str, reason: str) -> None:
        """Let the service create and write the log groups (and their streams) it names per
        job under `pattern` (`/aws-glue/*`); `reason` acknowledges the wildcard."""
        log_groups = f"{service_arn('logs')}:log-group:{pattern}"
        self.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_groups],
            )
        )
        acknowledge_wildcards(self, reason, log_groups)


class DataAccessRole(ServiceRole):
    """The role an ML service's jobs (Translate, Comprehend) read their input with, the
    objects matching `reads` in `bucket`, and write their output with, under `writes`. The
    service may assume it only for `source_account` (by default the stack's) and for the
    resources matching `source_arn` (by default any of the service's in the stack's region
    and account)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        service: str,
        description: str,
        source_account: str | None = None,
        source_arn: str | None = None,
        bucket: SecureBucket,
        reads: str,
        writes: str | None = None,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            service=service,
            description=description,
            source_account=source_account or Stack.of(scope).account,
            source_arn=source_arn or f"{service_arn(service)}:*",
        )
        bucket.grant_prefix(self, ["s3:GetObject"], reads)
        if writes is not None:
            bucket.grant_prefix(self, ["s3:PutObject"], writes)
        bucket.grant_list(self, ["s3:ListBucket"], reads)
