"""ComprehendModelLifecycle: build, evaluate and deploy a Comprehend custom classifier, keeping
the better model (active learning, part 1).

Training CSVs uploaded under `train/` reach the Intake function through an SQS queue; Intake
records them as pending and starts a round unless one runs (one round at a time, by a lock
item). A round merges the pending data with the ground truth, trains a candidate, has the live
model and the candidate classify the same held-out documents, and moves the endpoint only to a
better candidate, recording it in SSM.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Aws, Duration, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks import stack_digest
from stacks.config import ComprehendLifecycleSettings, max_polls
from stacks.constructs import (
    AccessLogsBucket,
    AslStateMachine,
    NotificationTopic,
    PythonFunction,
    QueueWithDlq,
    SecureBucket,
)
from stacks.constructs.acknowledge import (
    acknowledge,
    acknowledge_bucket_notifications_handler,
    acknowledge_wildcards,
)
from stacks.constructs.alarms import workflow_failure_alarm
from stacks.constructs.arns import service_arn
from stacks.constructs.endpoint_keeper import EndpointKeeper
from stacks.constructs.outputs import add_outputs
from stacks.constructs.python_function import WorkflowFunctions
from stacks.constructs.runtime_cleanup import RuntimeCleanup
from stacks.constructs.service_role import DataAccessRole
from stacks.constructs.table import WorkflowTable

WORKFLOW = "comprehend_model_lifecycle"
INTAKE_TIMEOUT = Duration.seconds(60)
COMPREHEND_LIST_REASON = (
    "comprehend:ListDocumentClassifiers supports no resource-level permissions; the function "
    "lists this workflow's versions (by name filter) to delete the ones past retention."
)
JOB_ARNS = [f"{service_arn('comprehend')}:document-classification-job/*"]


@dataclass(frozen=True)
class _Names:
    """What the rounds create at run time, named after the stack so stages stay apart."""

    classifier: str
    endpoint: str
    classifier_parameter: str
    endpoint_parameter: str

    @classmethod
    def of(cls, stack_name: str) -> _Names:
        digest = stack_digest(stack_name)
        return cls(
            classifier=f"cml-{digest}",
            endpoint=f"cml-{digest}-endpoint",
            classifier_parameter=f"/{stack_name}/CURRENT_CLASSIFIER_ARN",
            endpoint_parameter=f"/{stack_name}/CURRENT_ENDPOINT_ARN",
        )

    @property
    def classifier_arns(self) -> list[str]:
        # Every model the workflow trains is a version named after its round; it never creates
        # or touches an unversioned classifier.
        return [f"{service_arn('comprehend')}:document-classifier/{self.classifier}/version/*"]

    @property
    def endpoint_arn(self) -> str:
        return f"{service_arn('comprehend')}:document-classifier-endpoint/{self.endpoint}"

    @property
    def parameter_arns(self) -> list[str]:
        return [
            f"{service_arn('ssm')}:parameter{name}"
            for name in (self.classifier_parameter, self.endpoint_parameter)
        ]


@dataclass(frozen=True)
class _Functions:
    intake: PythonFunction
    prepare: PythonFunction
    evaluate: PythonFunction
    finish: PythonFunction


class ComprehendModelLifecycleStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: ComprehendLifecycleSettings,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        names = _Names.of(construct_id)

        access_logs = AccessLogsBucket(self, "AccessLogs")
        bucket = SecureBucket(self, "TrainingBucket", access_logs=access_logs)
        topic = NotificationTopic(self, "RoundNotifications", email=settings.notification_email)
        uploads = QueueWithDlq(
            self,
            "UploadQueue",
            visibility_timeout=Duration.seconds(6 * INTAKE_TIMEOUT.to_seconds()),
            # An upload waits (retried) while a round runs; its data is recorded as pending
            # at once, so even a dead-lettered message loses nothing.
            max_receive_count=100,
            retention=Duration.days(14),
            alarm_topic=topic,
        )
        bucket.notify_new_objects(uploads.queue, prefix="train/")
        table = WorkflowTable(
            self,
            "StateTable",
            partition_key="pk",
            sort_key="sk",
            time_to_live_attribute="expiresAt",
        )
        data_access = DataAccessRole(
            self,
            "ComprehendDataAccessRole",
            service="comprehend",
            description="Lets Comprehend read a round's data and write its job output",
            bucket=bucket,
            reads="rounds/*",
            writes="rounds/*/jobs/*",
        )
        functions = self._functions(settings, names, bucket, table)

        # The endpoint's lifecycle policy: deleted while idle, recreated on demand (the
        # classify API of ComprehendFeedbackLoop is its caller).
        self.endpoint_keeper = EndpointKeeper(
            self,
            "EndpointKeeper",
            policy=settings.endpoint_policy,
            endpoint_arns=[names.endpoint_arn],
            model_arns=names.classifier_arns,
            alarm_topic=topic,
        )
        acknowledge_wildcards(
            self.endpoint_keeper.function.role,
            "The keeper recreates the endpoint with whichever version the rounds promoted.",
            *names.classifier_arns,
        )
        workflow = self._workflow(settings, names, functions, topic, data_access, table)
        # On stack deletion: the endpoint and every classifier version the rounds trained.
        RuntimeCleanup(
            self,
            "RuntimeCleanup",
            comprehend_endpoint_arns=[names.endpoint_arn],
            comprehend_classifier_names=[names.classifier],
            protects=[workflow, functions.intake, self.endpoint_keeper],
        )
        acknowledge_wildcards(
            workflow.role,
            "Classification jobs get their ids from Comprehend when they start.",
            *JOB_ARNS,
        )
        self._let_intake_start_rounds(functions.intake, workflow)
        functions.intake.add_queue_trigger(uploads.queue, batch_size=10)
        workflow_failure_alarm(
            self,
            "WorkflowFailuresAlarm",
            workflow.state_machine_arn,
            topic,
            "A training round failed; the ground truth and the live endpoint are unchanged.",
        )
        acknowledge_bucket_notifications_handler(self)
        # What part 2 (ComprehendFeedbackLoop) reads and writes.
        self.training_bucket = bucket
        self.endpoint_parameter = names.endpoint_parameter
        self.endpoint_name = names.endpoint
        add_outputs(
            self,
            TrainingBucketName=bucket.bucket_name,
            NotificationTopicArn=topic.topic_arn,
            StateMachineArn=workflow.state_machine_arn,
            ClassifierParameterName=names.classifier_parameter,
            EndpointParameterName=names.endpoint_parameter,
        )

    def _functions(
        self,
        settings: ComprehendLifecycleSettings,
        names: _Names,
        bucket: SecureBucket,
        table: WorkflowTable,
    ) -> _Functions:
        """Intake and the round's three steps, each granted what its code calls."""
        make = WorkflowFunctions(
            self,
            WORKFLOW,
            {
                "BUCKET_NAME": bucket.bucket_name,
                "STATE_TABLE": table.table_name,
                "CLASSIFIER_MODE": settings.mode,
                "LABEL_DELIMITER": settings.label_delimiter,
                "SELECTION_METRIC": settings.metric,
                "TEST_PERCENT": str(settings.test_percent),
                "ALLOWED_LABELS": ",".join(settings.labels),
                "RETAIN_MODELS": str(settings.retain_models),
                "MIN_IMPROVEMENT_PER_MILLE": str(settings.min_improvement_per_mille),
                "CLASSIFIER_NAME": names.classifier,
            },
        )
        intake = make.add(
            "Intake",
            "intake",
            "Records uploads and starts a training round",
            timeout=INTAKE_TIMEOUT,
        )

        def step(construct_id: str, module: str, description: str) -> PythonFunction:
            return make.add(
                construct_id, module, description, timeout=Duration.minutes(5), memory_size=1024
            )

        prepare = step("PrepareRound", "prepare_round", "Builds a round's data")
        evaluate = step("EvaluateRound", "evaluate_round", "Compares the two models")
        finish = step("FinishRound", "finish_round", "Promotes or keeps a round's data")

        intake.add_to_policy(
            iam.PolicyStatement(
                actions=["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:DeleteItem"],
                resources=[table.table_arn],
            )
        )
        prepare.add_to_policy(
            iam.PolicyStatement(
                actions=["dynamodb:Query", "dynamodb:UpdateItem"], resources=[table.table_arn]
            )
        )
        evaluate.add_to_policy(
            iam.PolicyStatement(actions=["dynamodb:BatchWriteItem"], resources=[table.table_arn])
        )
        # The bucket is versioned: uploads are read and quarantined by the version the upload
        # event names.
        bucket.grant_prefix(prepare.role, ["s3:GetObjectVersion"], "train/*")
        bucket.grant_prefix(prepare.role, ["s3:GetObject"], "ground-truth/*", "carried/*")
        bucket.grant_prefix(
            prepare.role, ["s3:PutObject"], "rounds/*", "failed/*", "error-reports/*", "carried/*"
        )
        bucket.grant_list(prepare.role, ["s3:ListBucket"], "ground-truth/*", "carried/*")
        bucket.grant_prefix(evaluate.role, ["s3:GetObject", "s3:PutObject"], "rounds/*")
        bucket.grant_list(evaluate.role, ["s3:ListBucket"], "rounds/*")
        bucket.grant_prefix(finish.role, ["s3:GetObject"], "rounds/*")
        bucket.grant_prefix(finish.role, ["s3:PutObject"], "ground-truth/*", "carried/*")
        finish.add_to_policy(
            iam.PolicyStatement(
                actions=["comprehend:DeleteDocumentClassifier"], resources=names.classifier_arns
            )
        )
        finish.grant_unscoped(
            "ListClassifiersPolicy", ["comprehend:ListDocumentClassifiers"], COMPREHEND_LIST_REASON
        )
        acknowledge_wildcards(
            finish.role,
            "This workflow's classifier versions; a version is named by its training round.",
            *names.classifier_arns,
        )
        return _Functions(intake, prepare, evaluate, finish)

    def _workflow(
        self,
        settings: ComprehendLifecycleSettings,
        names: _Names,
        functions: _Functions,
        topic: NotificationTopic,
        data_access: DataAccessRole,
        table: WorkflowTable,
    ) -> AslStateMachine:
        """A round: train a candidate, have both models classify the held-out documents, and
        move the endpoint only to a better one."""

        endpoint_arn, classifier_arns = names.endpoint_arn, names.classifier_arns
        workflow = AslStateMachine(
            self,
            "Workflow",
            definition_file="comprehend_model_lifecycle.asl.json",
            substitutions={
                "PollSeconds": settings.poll_interval_seconds,
                "MaxTrainingPolls": max_polls(
                    settings.max_training_minutes, settings.poll_interval_seconds
                ),
                "MaxJobPolls": max_polls(settings.max_job_minutes, settings.poll_interval_seconds),
                "MaxEndpointPolls": max_polls(
                    settings.max_endpoint_minutes, settings.poll_interval_seconds
                ),
                "MaxRounds": settings.max_rounds,
                "PrepareRoundFunctionArn": functions.prepare.function_arn,
                "EvaluateRoundFunctionArn": functions.evaluate.function_arn,
                "FinishRoundFunctionArn": functions.finish.function_arn,
                "NotificationTopicArn": topic.topic_arn,
                "ClassifierParameter": names.classifier_parameter,
                "EndpointParameter": names.endpoint_parameter,
                "ClassifierName": names.classifier,
                "DataAccessRoleArn": data_access.role_arn,
                "LabelDelimiter": settings.label_delimiter,
                "LanguageCode": settings.language,
                "ClassifierMode": settings.mode,
                "EndpointName": names.endpoint,
                "InferenceUnits": settings.inference_units,
                "StateTableName": table.table_name,
                "StackName": Aws.STACK_NAME,
                "KeeperFunctionArn": self.endpoint_keeper.function_arn,
            },
            sdk_resources={
                "ssm:GetParameter": names.parameter_arns,
                "ssm:PutParameter": names.parameter_arns,
                "comprehend:CreateDocumentClassifier": classifier_arns,
                "comprehend:DescribeDocumentClassifier": classifier_arns,
                "comprehend:StartDocumentClassificationJob": [*classifier_arns, *JOB_ARNS],
                "comprehend:DescribeDocumentClassificationJob": JOB_ARNS,
                "comprehend:CreateEndpoint": [endpoint_arn, *classifier_arns],
                # The reference authorizes UpdateEndpoint on the endpoint alone.
                "comprehend:UpdateEndpoint": [endpoint_arn],
                "comprehend:DescribeEndpoint": [endpoint_arn],
                "comprehend:DeleteEndpoint": [endpoint_arn],
                "dynamodb:DeleteItem": [table.table_arn],
            },
            pass_roles=[data_access],
            timeout=Duration.minutes(
                settings.max_rounds
                * (
                    settings.max_training_minutes
                    + settings.max_job_minutes
                    + settings.max_endpoint_minutes
                    + 30
                )
            ),
        )
        # Tags given on create are authorized as comprehend:TagResource.
        workflow.role.add_to_policy(
            iam.PolicyStatement(
                actions=["comprehend:TagResource"], resources=[endpoint_arn, *classifier_arns]
            )
        )
        acknowledge_wildcards(
            workflow.role,
            "This workflow's classifier versions; each round trains a version named after it.",
            *classifier_arns,
        )
        return workflow

    def _let_intake_start_rounds(self, intake: PythonFunction, workflow: AslStateMachine) -> None:
        """Intake starts a round, and describes the execution holding the lock."""
        intake.function.add_environment("STATE_MACHINE_ARN", workflow.state_machine_arn)
        lock_policy = iam.Policy(
            self,
            "IntakeExecutionsPolicy",
            statements=[
                iam.PolicyStatement(
                    actions=["states:StartExecution"], resources=[workflow.state_machine_arn]
                ),
                iam.PolicyStatement(
                    actions=["states:DescribeExecution"], resources=[workflow.executions_arn]
                ),
            ],
        )
        lock_policy.attach_to_role(intake.role)
        acknowledge(
            lock_policy,
            f"AwsSolutions-IAM5[Resource::{workflow.executions_nag_arn}]",
            "Intake describes the execution holding the lock to tell a live round from a "
            "stale lock; execution names exist only at run time.",
        )
