"""ComprehendModelLifecycle: build, evaluate and deploy a Comprehend custom classifier, keeping
the better model (active learning, part 1).

Training CSVs uploaded under `train/` reach the Intake function through an SQS queue; Intake
records them as pending and starts a round unless one runs (one round at a time, by a lock
item). A round merges the pending data with the ground truth, trains a candidate, has the live
model and the candidate classify the same held-out documents, and moves the endpoint only to a
better candidate, recording it in SSM.
"""

from __future__ import annotations

import hashlib

from aws_cdk import Aws, CfnOutput, Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from constructs import Construct

from stacks.config import ComprehendLifecycleSettings
from stacks.constructs import (
    AccessLogsBucket,
    AslStateMachine,
    NotificationTopic,
    PythonFunction,
    QueueWithDlq,
    SecureBucket,
)
from stacks.constructs.acknowledge import acknowledge, acknowledge_bucket_notifications_handler
from stacks.constructs.alarms import workflow_failure_alarm
from stacks.constructs.endpoint_keeper import EndpointKeeper
from stacks.constructs.runtime_cleanup import RuntimeCleanup

WORKFLOW = "comprehend_model_lifecycle"
INTAKE_TIMEOUT = Duration.seconds(60)
COMPREHEND_LIST_REASON = (
    "comprehend:ListDocumentClassifiers supports no resource-level permissions; the function "
    "lists this workflow's versions (by name filter) to delete the ones past retention."
)


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
        digest = hashlib.sha256(construct_id.encode()).hexdigest()[:8]
        classifier_name = f"cml-{digest}"
        endpoint_name = f"cml-{digest}-endpoint"
        classifier_parameter = f"/{construct_id}/CURRENT_CLASSIFIER_ARN"
        endpoint_parameter = f"/{construct_id}/CURRENT_ENDPOINT_ARN"
        comprehend = f"arn:{Aws.PARTITION}:comprehend:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        # Every model the workflow trains is a version named after its round; it never creates
        # or touches an unversioned classifier.
        classifier_arns = [f"{comprehend}:document-classifier/{classifier_name}/version/*"]
        endpoint_arn = f"{comprehend}:document-classifier-endpoint/{endpoint_name}"
        job_arns = [f"{comprehend}:document-classification-job/*"]
        parameter_arns = [
            f"arn:{Aws.PARTITION}:ssm:{Aws.REGION}:{Aws.ACCOUNT_ID}:parameter{name}"
            for name in (classifier_parameter, endpoint_parameter)
        ]

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
        bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED,
            s3n.SqsDestination(uploads.queue),
            s3.NotificationKeyFilter(prefix="train/"),
        )
        table = dynamodb.Table(
            self,
            "StateTable",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=RemovalPolicy.RETAIN,
            time_to_live_attribute="expiresAt",
        )

        data_access = iam.Role(
            self,
            "ComprehendDataAccessRole",
            description="Lets Comprehend read a round's data and write its job output",
            assumed_by=iam.ServicePrincipal(
                "comprehend.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": self.account},
                    "ArnLike": {"aws:SourceArn": f"{comprehend}:*"},
                },
            ),
        )
        bucket.grant_prefix(data_access, ["s3:GetObject"], "rounds/*")
        bucket.grant_prefix(data_access, ["s3:PutObject"], "rounds/*/jobs/*")
        bucket.grant_list(data_access, ["s3:ListBucket"], "rounds/*")

        environment = {
            "BUCKET_NAME": bucket.bucket_name,
            "STATE_TABLE": table.table_name,
            "CLASSIFIER_MODE": settings.mode,
            "LABEL_DELIMITER": settings.label_delimiter,
            "SELECTION_METRIC": settings.metric,
            "TEST_PERCENT": str(settings.test_percent),
            "ALLOWED_LABELS": ",".join(settings.labels),
            "RETAIN_MODELS": str(settings.retain_models),
            "MIN_IMPROVEMENT_PER_MILLE": str(settings.min_improvement_per_mille),
            "CLASSIFIER_NAME": classifier_name,
        }

        def make_function(construct_id: str, module: str, description: str) -> PythonFunction:
            return PythonFunction(
                self,
                construct_id,
                workflow=WORKFLOW,
                handler=f"{module}.handler",
                description=description,
                environment=environment,
                timeout=Duration.minutes(5) if module != "intake" else INTAKE_TIMEOUT,
                memory_size=1024 if module != "intake" else 256,
            )

        intake = make_function("Intake", "intake", "Records uploads and starts a training round")
        prepare = make_function("PrepareRound", "prepare_round", "Builds a round's data")
        evaluate = make_function("EvaluateRound", "evaluate_round", "Compares the two models")
        finish = make_function("FinishRound", "finish_round", "Promotes or keeps a round's data")

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
                actions=["comprehend:DeleteDocumentClassifier"], resources=classifier_arns
            )
        )
        finish.grant_unscoped(
            "ListClassifiersPolicy", ["comprehend:ListDocumentClassifiers"], COMPREHEND_LIST_REASON
        )
        acknowledge(
            finish.role.node.find_child("DefaultPolicy"),
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:comprehend:<AWS::Region>:"
            f"<AWS::AccountId>:document-classifier/{classifier_name}/version/*]",
            "This workflow's classifier versions; a version is named by its training round.",
        )

        # The endpoint's lifecycle policy: deleted while idle, recreated on demand (the
        # classify API of ComprehendFeedbackLoop is its caller).
        self.endpoint_keeper = EndpointKeeper(
            self,
            "EndpointKeeper",
            policy=settings.endpoint_policy,
            endpoint_arns=[endpoint_arn],
            model_arns=classifier_arns,
            alarm_topic=topic,
        )
        acknowledge(
            self.endpoint_keeper.function.role.node.find_child("DefaultPolicy"),
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:comprehend:<AWS::Region>:"
            f"<AWS::AccountId>:document-classifier/{classifier_name}/version/*]",
            "The keeper recreates the endpoint with whichever version the rounds promoted.",
        )
        train_polls = settings.max_training_minutes * 60 // settings.poll_interval_seconds
        workflow = AslStateMachine(
            self,
            "Workflow",
            definition_file="comprehend_model_lifecycle.asl.json",
            substitutions={
                "PollSeconds": settings.poll_interval_seconds,
                "MaxTrainingPolls": max(1, train_polls),
                "MaxJobPolls": max(
                    1, settings.max_job_minutes * 60 // settings.poll_interval_seconds
                ),
                "MaxEndpointPolls": max(
                    1, settings.max_endpoint_minutes * 60 // settings.poll_interval_seconds
                ),
                "MaxRounds": settings.max_rounds,
                "PrepareRoundFunctionArn": prepare.function_arn,
                "EvaluateRoundFunctionArn": evaluate.function_arn,
                "FinishRoundFunctionArn": finish.function_arn,
                "NotificationTopicArn": topic.topic_arn,
                "ClassifierParameter": classifier_parameter,
                "EndpointParameter": endpoint_parameter,
                "ClassifierName": classifier_name,
                "DataAccessRoleArn": data_access.role_arn,
                "LabelDelimiter": settings.label_delimiter,
                "LanguageCode": settings.language,
                "ClassifierMode": settings.mode,
                "EndpointName": endpoint_name,
                "InferenceUnits": settings.inference_units,
                "StateTableName": table.table_name,
                "StackName": Aws.STACK_NAME,
                "KeeperFunctionArn": self.endpoint_keeper.function_arn,
            },
            sdk_resources={
                "ssm:GetParameter": parameter_arns,
                "ssm:PutParameter": parameter_arns,
                "comprehend:CreateDocumentClassifier": classifier_arns,
                "comprehend:DescribeDocumentClassifier": classifier_arns,
                "comprehend:StartDocumentClassificationJob": [*classifier_arns, *job_arns],
                "comprehend:DescribeDocumentClassificationJob": job_arns,
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
        acknowledge(
            workflow.role.node.find_child("DefaultPolicy"),
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:comprehend:<AWS::Region>:"
            f"<AWS::AccountId>:document-classifier/{classifier_name}/version/*]",
            "This workflow's classifier versions; each round trains a version named after it.",
        )
        # On stack deletion: the endpoint and every classifier version the rounds trained.
        RuntimeCleanup(
            self,
            "RuntimeCleanup",
            comprehend_endpoint_arns=[endpoint_arn],
            comprehend_classifier_names=[classifier_name],
            protects=[workflow, intake, self.endpoint_keeper],
        )
        acknowledge(
            workflow.role.node.find_child("DefaultPolicy"),
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:comprehend:<AWS::Region>:"
            "<AWS::AccountId>:document-classification-job/*]",
            "Classification jobs get their ids from Comprehend when they start.",
        )
        intake.function.add_environment("STATE_MACHINE_ARN", workflow.state_machine_arn)
        executions = Fn.join(
            "",
            [
                f"arn:{Aws.PARTITION}:states:{Aws.REGION}:{Aws.ACCOUNT_ID}:execution:",
                Fn.select(6, Fn.split(":", workflow.state_machine_arn)),
                ":*",
            ],
        )
        lock_policy = iam.Policy(
            self,
            "IntakeExecutionsPolicy",
            statements=[
                iam.PolicyStatement(
                    actions=["states:StartExecution"], resources=[workflow.state_machine_arn]
                ),
                iam.PolicyStatement(actions=["states:DescribeExecution"], resources=[executions]),
            ],
        )
        lock_policy.attach_to_role(intake.role)
        logical_id = self.get_logical_id(workflow.resource)
        acknowledge(
            lock_policy,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:"
            '<AWS::AccountId>:execution:{"Fn::Select":[6,{"Fn::Split":[":",{"Fn::GetAtt":["'
            + logical_id
            + '","Arn"]}]}]}:*]',
            "Intake describes the execution holding the lock to tell a live round from a "
            "stale lock; execution names exist only at run time.",
        )
        intake.add_queue_trigger(uploads.queue, batch_size=10)
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
        self.endpoint_parameter = endpoint_parameter
        self.endpoint_name = endpoint_name
        CfnOutput(self, "TrainingBucketName", value=bucket.bucket_name)
        CfnOutput(self, "NotificationTopicArn", value=topic.topic_arn)
        CfnOutput(self, "StateMachineArn", value=workflow.state_machine_arn)
        CfnOutput(self, "ClassifierParameterName", value=classifier_parameter)
        CfnOutput(self, "EndpointParameterName", value=endpoint_parameter)
