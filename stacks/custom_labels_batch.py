"""CustomLabelsBatch: label uploaded images with a Rekognition Custom Labels model that runs
(and is billed) only while images wait.

Uploads go through an SQS queue (with a DLQ) that nothing reads while the model is stopped. On a
schedule, the state machine counts what waits; if anything does, it starts the model, enables
the processor's event source mapping, lets it drain the queue within a runtime budget, disables
it, stops the model and notifies. One run at a time, by a lock item in DynamoDB.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.config import CustomLabelsSettings, max_polls
from stacks.constructs import (
    AccessLogsBucket,
    AslStateMachine,
    NotificationTopic,
    PythonFunction,
    QueueWithDlq,
    SecureBucket,
)
from stacks.constructs.acknowledge import acknowledge_bucket_notifications_handler
from stacks.constructs.alarms import workflow_failure_alarm
from stacks.constructs.asl_state_machine import OWN_EXECUTIONS
from stacks.constructs.deploy_input import deploy_input
from stacks.constructs.outputs import add_outputs
from stacks.constructs.runtime_cleanup import RuntimeCleanup
from stacks.constructs.table import WorkflowTable

PROCESSOR_TIMEOUT = Duration.minutes(2)
MAX_RECEIVE_COUNT = 10
REKOGNITION_ARN = r"arn:aws[a-z-]*:rekognition:[a-z0-9-]+:\d{12}:project/[A-Za-z0-9._-]+/"


@dataclass(frozen=True)
class _Model:
    """The Custom Labels model the stack runs: its project and version."""

    project_arn: str
    version_arn: str
    version_name: str


class CustomLabelsBatchStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: CustomLabelsSettings,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]

        model = self._model()
        access_logs = AccessLogsBucket(self, "AccessLogs")
        source = SecureBucket(self, "SourceBucket", access_logs=access_logs)
        final = SecureBucket(self, "FinalBucket", access_logs=access_logs)
        topic = NotificationTopic(self, "RunNotifications", email=settings.notification_email)
        images = QueueWithDlq(
            self,
            "ImageQueue",
            visibility_timeout=Duration.seconds(6 * PROCESSOR_TIMEOUT.to_seconds()),
            # The processor retries and quarantines failing images itself (max_attempts); the
            # DLQ takes messages that crash it. A lone message's look by the workflow counts
            # as a receive, hence the margin.
            max_receive_count=MAX_RECEIVE_COUNT,
            retention=Duration.days(14),
            alarm_topic=topic,
        )
        source.notify_new_objects(images.queue)
        lock = WorkflowTable(
            self, "RunLock", partition_key="pk", removal_policy=RemovalPolicy.DESTROY
        )
        mapping = self._processor(settings, model, source, final, images.queue, lock)
        workflow = self._workflow(settings, model, images.queue, lock, mapping, topic)
        schedule = events.Rule(
            self,
            "Schedule",
            description="Starts a Custom Labels run; a run with nothing queued ends at once",
            schedule=events.Schedule.expression(settings.schedule),
        )
        schedule.add_target(targets.SfnStateMachine(workflow.state_machine))
        # On stack deletion (after the schedule and the state machine): the model version is
        # stopped if a run left it starting or running. It is a deploy input, never deleted.
        RuntimeCleanup(
            self,
            "RuntimeCleanup",
            rekognition_project_arn=model.project_arn,
            rekognition_version_name=model.version_name,
            rekognition_version_arn=model.version_arn,
            protects=[workflow, schedule],
        )
        workflow_failure_alarm(
            self,
            "WorkflowFailuresAlarm",
            workflow.state_machine_arn,
            topic,
            "A Custom Labels run failed, timed out or was aborted; the model was asked to stop "
            "and the images stay queued.",
        )
        acknowledge_bucket_notifications_handler(self)
        add_outputs(
            self,
            SourceBucketName=source.bucket_name,
            FinalBucketName=final.bucket_name,
            NotificationTopicArn=topic.topic_arn,
            StateMachineArn=workflow.state_machine_arn,
            ImageQueueUrl=images.queue.queue_url,
        )

    def _model(self) -> _Model:
        """The trained model to run: deploy inputs, since no stack can create one."""
        project_arn = deploy_input(
            self,
            "ProjectArn",
            context_key="custom_labels_batch:projectArn",
            description="ARN of the Rekognition Custom Labels project",
            pattern=REKOGNITION_ARN + r"\d+",
        ).value_as_string
        version_arn = deploy_input(
            self,
            "ProjectVersionArn",
            context_key="custom_labels_batch:projectVersionArn",
            description="ARN of the trained model (project version) to run",
            pattern=REKOGNITION_ARN + r"version/[A-Za-z0-9._-]+/\d+",
        ).value_as_string
        return _Model(project_arn, version_arn, Fn.select(3, Fn.split("/", version_arn)))

    def _processor(
        self,
        settings: CustomLabelsSettings,
        model: _Model,
        source: SecureBucket,
        final: SecureBucket,
        images: sqs.IQueue,
        lock: WorkflowTable,
    ) -> lambda_.EventSourceMapping:
        """The function that labels queued images; its queue feed, which the workflow turns on
        only while the model runs."""
        processor = PythonFunction(
            self,
            "ProcessImages",
            workflow="custom_labels_batch",
            handler="process_images.handler",
            description="Labels queued images with the running Custom Labels model",
            timeout=PROCESSOR_TIMEOUT,
            environment={
                "FINAL_BUCKET": final.bucket_name,
                "PROJECT_VERSION_ARN": model.version_arn,
                "MIN_CONFIDENCE": str(settings.min_confidence),
                "LOCK_TABLE": lock.table_name,
                "QUEUE_URL": images.queue_url,
                "MAX_ATTEMPTS": str(settings.max_attempts),
                "RETRY_DELAY_SECONDS": str(settings.poll_interval_seconds),
            },
        )
        # Concurrency bounded by what the model's inference units can serve.
        mapping = processor.add_queue_trigger(
            images,
            batch_size=10,
            enabled=False,
            max_concurrency=max(2, 2 * settings.max_inference_units),
        )
        processor.add_to_policy(
            iam.PolicyStatement(
                actions=["rekognition:DetectCustomLabels"], resources=[model.version_arn]
            ),
            iam.PolicyStatement(actions=["dynamodb:UpdateItem"], resources=[lock.table_arn]),
            iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[images.queue_arn]),
            # Finding out whether an upload is still there lists its versions (any key).
            iam.PolicyStatement(actions=["s3:ListBucketVersions"], resources=[source.bucket_arn]),
        )
        # Rekognition reads the image from S3 with the caller's permissions. The bucket is
        # versioned, so every event names the version, and every read is of that version.
        source.grant_prefix(processor.role, ["s3:GetObjectVersion"], "*")
        source.grant_prefix(processor.role, ["s3:DeleteObjectVersion"], "*")
        final.grant_prefix(
            processor.role,
            ["s3:PutObject"],
            "labels/*",
            "images/*",
            "failed/*",
            "error-reports/*",
        )
        final.grant_list(processor.role, ["s3:ListBucket"], "labels/*")
        return mapping

    def _workflow(
        self,
        settings: CustomLabelsSettings,
        model: _Model,
        images: sqs.IQueue,
        lock: WorkflowTable,
        mapping: lambda_.EventSourceMapping,
        topic: NotificationTopic,
    ) -> AslStateMachine:
        """The run: start the model, feed it the queue within the budget, stop it, notify."""

        return AslStateMachine(
            self,
            "Workflow",
            definition_file="custom_labels_batch.asl.json",
            substitutions={
                "PollSeconds": settings.poll_interval_seconds,
                "MaxStartPolls": max_polls(
                    settings.max_start_minutes, settings.poll_interval_seconds
                ),
                "MaxDrainPolls": max_polls(
                    settings.runtime_budget_minutes, settings.poll_interval_seconds
                ),
                "LockTableName": lock.table_name,
                "QueueUrl": images.queue_url,
                "ProjectArn": model.project_arn,
                "ProjectVersionArn": model.version_arn,
                "VersionName": model.version_name,
                "MinInferenceUnits": settings.min_inference_units,
                "MaxInferenceUnits": settings.max_inference_units,
                "MappingUuid": mapping.event_source_mapping_id,
                "NotificationTopicArn": topic.topic_arn,
            },
            sdk_resources={
                "dynamodb:PutItem": [lock.table_arn],
                "dynamodb:GetItem": [lock.table_arn],
                "dynamodb:DeleteItem": [lock.table_arn],
                "sqs:GetQueueAttributes": [images.queue_arn],
                # Peeking at a short queue for S3's test message, and deleting only that.
                "sqs:ReceiveMessage": [images.queue_arn],
                "sqs:DeleteMessage": [images.queue_arn],
                "rekognition:DescribeProjectVersions": [model.project_arn],
                "rekognition:StartProjectVersion": [model.version_arn],
                "rekognition:StopProjectVersion": [model.version_arn],
                "lambda:UpdateEventSourceMapping": [mapping.event_source_mapping_arn],
                "states:DescribeExecution": [OWN_EXECUTIONS],
            },
            timeout=Duration.minutes(
                settings.runtime_budget_minutes + 2 * settings.max_start_minutes + 30
            ),
        )
