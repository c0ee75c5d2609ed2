"""What every Kinesis Data Firehose delivery stream of the workflows gets: a role of its own
that Firehose assumes, encryption with an AWS owned key, and its delivery errors logged."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.constructs.log_group import WorkflowLogGroup
from stacks.constructs.service_role import ServiceRole

ENCRYPTION = firehose.CfnDeliveryStream.DeliveryStreamEncryptionConfigurationInputProperty(
    key_type="AWS_OWNED_CMK"
)


class DeliveryRole(ServiceRole):
    """The role a delivery stream writes with (`source_account` or `external_id` names the
    account Firehose acts for)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        description: str,
        source_account: str | None = None,
        external_id: str | None = None,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            service="firehose",
            description=description,
            source_account=source_account,
            external_id=external_id,
        )

    def grant_s3_destination(self, bucket: s3.IBucket, objects: str) -> None:
        """The documented permissions of an S3 destination, on the objects matching
        `objects` (a key pattern)."""
        self.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
                resources=[bucket.arn_for_objects(objects)],
            )
        )
        self.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
                resources=[bucket.bucket_arn],
            )
        )


class DeliveryLogs(WorkflowLogGroup):
    """The log group of a stream's delivery errors, and its log stream `stream_id` (beside
    it in `scope`)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stream_id: str,
        stream_name: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.stream = logs.LogStream(scope, stream_id, log_group=self, log_stream_name=stream_name)

    @property
    def logging_options(self) -> firehose.CfnDeliveryStream.CloudWatchLoggingOptionsProperty:
        return firehose.CfnDeliveryStream.CloudWatchLoggingOptionsProperty(
            enabled=True,
            log_group_name=self.log_group_name,
            log_stream_name=self.stream.log_stream_name,
        )
