"""S3 buckets with the project's defaults: private, encrypted, TLS only, versioned, logged."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.constructs.acknowledge import acknowledge


class AccessLogsBucket(s3.Bucket):
    """Target of S3 server access logs for the stack's buckets (kept 90 days)."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(
            scope,
            construct_id,
            encryption=s3.BucketEncryption.S3_MANAGED,  # log delivery supports SSE-S3 only
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(90))],
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            self,
            "AwsSolutions-S1",
            "This bucket receives the server access logs; logging it to itself would recurse.",
        )


class SecureBucket(s3.Bucket):
    """A workflow bucket. Versioning keeps every overwritten or deleted object recoverable;
    noncurrent versions expire after `noncurrent_days` so that safety net stays cheap."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        access_logs: s3.IBucket,
        noncurrent_days: int = 30,
        lifecycle_rules: list[s3.LifecycleRule] | None = None,
        **overrides: Any,
    ) -> None:
        rules = [
            s3.LifecycleRule(
                id="ExpireNoncurrentVersions",
                noncurrent_version_expiration=Duration.days(noncurrent_days),
                abort_incomplete_multipart_upload_after=Duration.days(7),
            ),
            *(lifecycle_rules or []),
        ]
        settings: dict[str, Any] = {
            "encryption": s3.BucketEncryption.S3_MANAGED,
            "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
            "enforce_ssl": True,
            "minimum_tls_version": 1.2,
            "versioned": True,
            "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            "server_access_logs_bucket": access_logs,
            "server_access_logs_prefix": f"{construct_id}/",
            "lifecycle_rules": rules,
            "removal_policy": RemovalPolicy.RETAIN,
        }
        settings.update(overrides)
        super().__init__(scope, construct_id, **settings)

    def objects_arn(self, pattern: str) -> str:
        """ARN of the objects matching a key pattern, e.g. `batches/*`."""
        return self.arn_for_objects(pattern)

    def grant_prefix(self, role: iam.Role, actions: list[str], *patterns: str) -> None:
        """Grant object actions under key prefixes (`batches/*`), with the cdk-nag
        acknowledgment for each wildcard: object keys under a workflow prefix (batch ids,
        file names) exist only at run time, so the grant cannot name them."""
        role.add_to_policy(
            iam.PolicyStatement(actions=actions, resources=[self.objects_arn(p) for p in patterns])
        )
        logical_id = Stack.of(self).get_logical_id(self.node.default_child)  # type: ignore[arg-type]
        policy = role.node.find_child("DefaultPolicy")
        for pattern in patterns:
            acknowledge(
                policy,
                f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>/{pattern}]",
                f"Objects under the workflow's '{pattern.rstrip('*')}' prefix of {self.node.id}; "
                "their keys (batch ids, file names) exist only at run time.",
            )

    def grant_list(self, role: iam.Role, actions: list[str], *prefixes: str) -> None:
        """Grant bucket-level list actions restricted to key prefixes by `s3:prefix`."""
        role.add_to_policy(
            iam.PolicyStatement(
                actions=actions,
                resources=[self.bucket_arn],
                conditions={"StringLike": {"s3:prefix": list(prefixes)}},
            )
        )

    def notify_new_objects(
        self, queue: sqs.IQueue, *, prefix: str | None = None, suffix: str | None = None
    ) -> None:
        """Send an event for every object created (under `prefix`, ending in `suffix`) to
        `queue`."""
        filters = (
            [s3.NotificationKeyFilter(prefix=prefix, suffix=suffix)] if prefix or suffix else []
        )
        self.add_event_notification(
            s3.EventType.OBJECT_CREATED, s3n.SqsDestination(queue), *filters
        )
