"""CaptionTranslation: WebVTT/SRT caption files translated with Amazon Translate.

Upload caption files under `input/`, then the trigger file. The trigger file's S3 event reaches
the StartBatch function through an SQS queue (with a dead-letter queue); StartBatch moves the
waiting files into a batch of their own and starts the workflow state machine, which validates,
translates (in real time for small batches, with batch jobs otherwise), rebuilds the caption files
under `output/<lang>/`, quarantines rejected files under `failed/`, and publishes a summary.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.config import CaptionSettings
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
from stacks.constructs.outputs import add_outputs
from stacks.constructs.python_function import WorkflowFunctions
from stacks.constructs.service_role import DataAccessRole

WORKFLOW = "caption_translation"
START_BATCH_TIMEOUT = Duration.minutes(5)
TRANSLATE_UNSCOPED = (
    "Amazon Translate authorizes TranslateText, StartTextTranslationJob, "
    "DescribeTextTranslationJob and StopTextTranslationJob only on Resource '*' (resource-level "
    "permissions exist only for terminologies and parallel data)."
)


@dataclass(frozen=True)
class _Functions:
    start_batch: PythonFunction
    prepare: PythonFunction
    realtime: PythonFunction
    rebuild: PythonFunction


class CaptionTranslationStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, settings: CaptionSettings, **kwargs: object
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]

        access_logs = AccessLogsBucket(self, "AccessLogs")
        bucket = SecureBucket(
            self,
            "CaptionsBucket",
            access_logs=access_logs,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireFinishedBatches",
                    prefix="batches/",
                    expiration=Duration.days(settings.batch_retention_days),
                )
            ],
        )
        topic = NotificationTopic(self, "BatchNotifications", email=settings.notification_email)
        trigger_queue = QueueWithDlq(
            self,
            "TriggerQueue",
            visibility_timeout=Duration.seconds(6 * START_BATCH_TIMEOUT.to_seconds()),
            alarm_topic=topic,
        )
        bucket.notify_new_objects(
            trigger_queue.queue, prefix="input/", suffix=settings.trigger_file
        )
        translate_role = DataAccessRole(
            self,
            "TranslateDataAccessRole",
            service="translate",
            description="Lets Amazon Translate batch jobs read documents and write results",
            source_arn=f"arn:aws:translate:{self.region}:{self.account}:*",
            bucket=bucket,
            reads="batches/*/translate-input/*",
            writes="batches/*/translate-output/*",
        )
        functions = self._functions(bucket, settings)

        workflow = AslStateMachine(
            self,
            "Workflow",
            definition_file="caption_translation.asl.json",
            substitutions={
                "PrepareBatchFunctionArn": functions.prepare.function_arn,
                "TranslateRealtimeFunctionArn": functions.realtime.function_arn,
                "RebuildOutputsFunctionArn": functions.rebuild.function_arn,
                "TranslateDataAccessRoleArn": translate_role.role_arn,
                "NotificationTopicArn": topic.topic_arn,
            },
            sdk_resources={
                "translate:StartTextTranslationJob": ["*"],
                "translate:DescribeTextTranslationJob": ["*"],
                "translate:StopTextTranslationJob": ["*"],
            },
            unscoped_reason=TRANSLATE_UNSCOPED,
            pass_roles=[translate_role],
            timeout=Duration.hours(24),
        )
        workflow.grant_start(functions.start_batch)
        functions.start_batch.add_queue_trigger(trigger_queue.queue, batch_size=10)
        workflow_failure_alarm(
            self,
            "WorkflowFailuresAlarm",
            workflow.state_machine_arn,
            topic,
            "A caption batch failed, timed out or was aborted; a failed batch's notification "
            "says why, and its sources stay under batches/<id>/source/.",
        )

        acknowledge_bucket_notifications_handler(self)
        add_outputs(
            self,
            BucketName=bucket.bucket_name,
            NotificationTopicArn=topic.topic_arn,
            StateMachineArn=workflow.state_machine_arn,
            # What a client needs to start a batch and find its outputs (the smoke check, scripts).
            TriggerFileKey=f"input/{settings.trigger_file}",
            TargetLanguages=",".join(settings.target_languages),
        )

    def _functions(self, bucket: SecureBucket, settings: CaptionSettings) -> _Functions:
        """The four handlers, each granted the prefixes and calls its code makes."""
        make = WorkflowFunctions(
            self,
            WORKFLOW,
            {
                "BUCKET_NAME": bucket.bucket_name,
                "SOURCE_LANGUAGE": settings.source_language,
                "TARGET_LANGUAGES": ",".join(settings.target_languages),
                "TERMINOLOGY_NAMES": ",".join(settings.terminology_names),
                "TRIGGER_FILE": settings.trigger_file,
                "REALTIME_MAX_BYTES": str(settings.realtime_max_bytes),
                "POLL_INTERVAL_SECONDS": str(settings.poll_interval_seconds),
                "MAX_POLLS": str(settings.max_polls),
                "READING_PROFILE": json.dumps(settings.reading_profile, sort_keys=True),
            },
        )
        functions = _Functions(
            start_batch=make.add(
                "StartBatch",
                "start_batch",
                "Moves waiting caption files into a new batch and starts its workflow",
                timeout=START_BATCH_TIMEOUT,
            ),
            prepare=make.add(
                "PrepareBatch",
                "prepare_batch",
                "Validates a batch's caption files and plans their translation",
                timeout=Duration.minutes(5),
                memory_size=1024,
            ),
            realtime=make.add(
                "TranslateRealtime",
                "translate_realtime",
                "Translates a small batch with real-time TranslateText calls",
                timeout=Duration.minutes(15),
                memory_size=512,
            ),
            rebuild=make.add(
                "RebuildOutputs",
                "rebuild_outputs",
                "Rebuilds caption files from batch translation job output",
                timeout=Duration.minutes(15),
                memory_size=1024,
            ),
        )
        start_batch, prepare = functions.start_batch, functions.prepare
        bucket.grant_list(start_batch.role, ["s3:ListBucketVersions"], "input/*")
        bucket.grant_prefix(
            start_batch.role, ["s3:GetObjectVersion", "s3:DeleteObjectVersion"], "input/*"
        )
        bucket.grant_prefix(start_batch.role, ["s3:GetObject", "s3:PutObject"], "batches/*")
        bucket.grant_prefix(prepare.role, ["s3:GetObject"], "batches/*")
        bucket.grant_prefix(
            prepare.role, ["s3:PutObject"], "batches/*", "failed/*", "error-reports/*"
        )
        for function in (functions.realtime, functions.rebuild):
            bucket.grant_prefix(function.role, ["s3:GetObject"], "batches/*")
            bucket.grant_prefix(
                function.role,
                ["s3:PutObject"],
                "batches/*",
                "output/*",
                "failed/*",
                "error-reports/*",
            )
        for function in (start_batch, prepare, functions.realtime, functions.rebuild):
            # Existence checks list the exact key (see ObjectStore.exists).
            bucket.grant_list(function.role, ["s3:ListBucket"], "batches/*")
        if settings.terminology_names:
            # the never-translate terms are read once per batch, to check every output keeps them
            prepare.add_to_policy(
                iam.PolicyStatement(
                    actions=["translate:GetTerminology"],
                    resources=[
                        self.format_arn(
                            service="translate", resource="terminology", resource_name=name
                        )
                        for name in settings.terminology_names
                    ],
                )
            )
        functions.realtime.grant_unscoped(
            "TranslatePolicy", ["translate:TranslateText"], TRANSLATE_UNSCOPED
        )
        functions.rebuild.grant_unscoped(
            "TranslatePolicy",
            ["translate:TranslateText", "translate:DescribeTextTranslationJob"],
            TRANSLATE_UNSCOPED,
        )
        return functions
