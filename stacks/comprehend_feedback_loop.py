"""ComprehendFeedbackLoop: classify API, implicit and explicit feedback, human review, and
reviewed answers as training data for part 1 (active learning, part 2).

`POST /classify` answers with part 1's live endpoint; an answer below the confidence threshold
and every `POST /feedback` go to the feedback stream, as do the sentences of batch feedback
files. Feedback objects start A2I human loops; a completed loop's answers become training rows
that the training stream delivers under part 1's `train/` prefix, which starts a part 1 round.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from aws_cdk import CfnOutput, CfnParameter, CustomResource, Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker_cfn
from constructs import Construct

from lambdas.comprehend_feedback_loop.feedback import MAX_TEXT_BYTES
from lambdas.comprehend_feedback_loop.loops import task_template
from stacks import stack_digest
from stacks.config import FeedbackLoopSettings
from stacks.constructs import (
    AccessLogsBucket,
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
from stacks.constructs.arns import service_arn
from stacks.constructs.delivery_stream import ENCRYPTION, DeliveryLogs, DeliveryRole
from stacks.constructs.deploy_input import deploy_input
from stacks.constructs.endpoint_keeper import EndpointKeeper
from stacks.constructs.log_group import WorkflowLogGroup
from stacks.constructs.outputs import add_outputs
from stacks.constructs.python_function import WorkflowFunctions
from stacks.constructs.service_role import ServiceRole
from stacks.constructs.table import WorkflowTable

WORKFLOW = "comprehend_feedback_loop"
STATUS_EVENT = "SageMaker A2I HumanLoop Status Change"
TRAINING_PREFIX = "train/reviewed/"


@dataclass(frozen=True)
class _PartOne:
    """What this stack uses of ComprehendModelLifecycle: its training bucket (and how cdk-nag
    names it), the SSM parameter naming its live endpoint, and the endpoint's name."""

    training_bucket: s3.IBucket
    training_nag_arn: str
    endpoint_parameter: str
    endpoint_name: str


class ComprehendFeedbackLoopStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: FeedbackLoopSettings,
        training_bucket: s3.IBucket | None = None,
        endpoint_parameter: str | None = None,
        endpoint_name: str | None = None,
        endpoint_keeper: EndpointKeeper | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        part_one = self._part_one(settings, training_bucket, endpoint_parameter, endpoint_name)
        name_prefix = f"cfl-{stack_digest(construct_id)}"
        workteam = deploy_input(
            self,
            "WorkteamArn",
            context_key="comprehend_feedback_loop:workteamArn",
            description="ARN of the SageMaker work team that reviews feedback",
            pattern=r"arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]+:[0-9]{12}:workteam/.+",
        )

        access_logs = AccessLogsBucket(self, "AccessLogs")
        feedback_bucket = SecureBucket(self, "FeedbackBucket", access_logs=access_logs)
        batch_bucket = SecureBucket(self, "BatchUploadBucket", access_logs=access_logs)
        review_bucket = SecureBucket(self, "ReviewOutputBucket", access_logs=access_logs)
        # Powertools idempotency records of the answer transformer (one per human loop);
        # completed ones expire through the TTL attribute Powertools sets.
        table = WorkflowTable(
            self, "StateTable", partition_key="pk", time_to_live_attribute="expiration"
        )
        feedback_logical_id = self.get_logical_id(feedback_bucket.node.default_child)  # type: ignore[arg-type]
        feedback_stream = self._delivery_stream(
            "FeedbackStream", feedback_bucket, f"<{feedback_logical_id}.Arn>", "feedback/", settings
        )
        training_stream = self._delivery_stream(
            "TrainingStream",
            part_one.training_bucket,
            part_one.training_nag_arn,
            TRAINING_PREFIX,
            settings,
        )
        make = WorkflowFunctions(
            self,
            WORKFLOW,
            {
                "CLASSIFIER_NAME": settings.classifier_name,
                "CATEGORIES": ",".join(settings.categories),
                "CONFIDENCE_THRESHOLD_PER_MILLE": str(settings.confidence_threshold_per_mille),
                "ENDPOINT_PARAMETER": part_one.endpoint_parameter,
                "PARAMETER_MAX_AGE_SECONDS": str(settings.parameter_max_age_seconds),
                "FEEDBACK_STREAM": feedback_stream.ref,
                "MAX_ITEMS_PER_LOOP": str(settings.max_items_per_loop),
            },
        )
        flow_arn = self._review_workflow(make, settings, name_prefix, workteam, review_bucket)

        self.api = self._api(make, part_one, feedback_stream, endpoint_keeper, settings)
        # Where the dead-letter alarms notify (subscribe an operator to AlarmTopicArn).
        alarms = NotificationTopic(self, "AlarmNotifications")
        self._batch_feedback(make, batch_bucket, feedback_stream, alarms)
        self._human_loops(make, feedback_bucket, flow_arn, alarms)
        self._training_rows(make, review_bucket, training_stream, table, flow_arn, alarms)

        acknowledge_bucket_notifications_handler(self)
        add_outputs(
            self,
            ApiUrl=self.api.url,
            AlarmTopicArn=alarms.topic_arn,
            ClassifierName=settings.classifier_name,
            FeedbackBucketName=feedback_bucket.bucket_name,
            BatchUploadBucketName=batch_bucket.bucket_name,
            ReviewOutputBucketName=review_bucket.bucket_name,
            FlowDefinitionArn=flow_arn,
            FeedbackStreamName=feedback_stream.ref,
            TrainingStreamName=training_stream.ref,
            StateTableName=table.table_name,
        )

    def _part_one(
        self,
        settings: FeedbackLoopSettings,
        training_bucket: s3.IBucket | None,
        endpoint_parameter: str | None,
        endpoint_name: str | None,
    ) -> _PartOne:
        """Part 1's resources: from its stack in this app, or else from context."""
        if training_bucket is not None:
            # An export with a fixed name: the Firehose grant (and its cdk-nag acknowledgment)
            # names part 1's bucket the same way in every synthesis.
            export = f"{training_bucket.stack.stack_name}-TrainingBucketArn"
            training_bucket.stack.export_value(training_bucket.bucket_arn, name=export)
            training_bucket = s3.Bucket.from_bucket_arn(
                self, "TrainingBucket", Fn.import_value(export)
            )
            training_nag_arn = export
        else:
            name = _required(settings.training_bucket, "trainingBucket")
            training_bucket = s3.Bucket.from_bucket_name(self, "TrainingBucket", name)
            training_nag_arn = f"arn:<AWS::Partition>:s3:::{name}"
        return _PartOne(
            training_bucket=training_bucket,
            training_nag_arn=training_nag_arn,
            endpoint_parameter=endpoint_parameter
            or _required(settings.endpoint_parameter, "endpointParameter"),
            endpoint_name=endpoint_name or _required(settings.endpoint_name, "endpointName"),
        )

    def _delivery_stream(
        self,
        construct_id: str,
        bucket: s3.IBucket,
        nag_arn: str,
        prefix: str,
        settings: FeedbackLoopSettings,
    ) -> firehose.CfnDeliveryStream:
        """A stream that delivers records under `prefix` of `bucket` (`nag_arn` names the
        bucket as cdk-nag does)."""
        role = DeliveryRole(
            self,
            f"{construct_id}Role",
            description=f"Lets Firehose deliver {construct_id} under {prefix}",
            external_id=self.account,
        )
        # The S3 destination's documented permissions, narrowed to the prefix.
        role.grant_s3_destination(bucket, f"{prefix}*")
        acknowledge(
            role.node.find_child("DefaultPolicy"),
            f"AwsSolutions-IAM5[Resource::{nag_arn}/{prefix}*]",
            f"Objects under {prefix} only: Firehose names the objects it writes at delivery "
            "time (date prefix and a random suffix).",
        )
        delivery_logs = DeliveryLogs(
            self, f"{construct_id}Logs", stream_id=f"{construct_id}LogStream"
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:PutLogEvents"], resources=[delivery_logs.log_group_arn]
            )
        )
        stream = firehose.CfnDeliveryStream(
            self,
            construct_id,
            delivery_stream_type="DirectPut",
            delivery_stream_encryption_configuration_input=ENCRYPTION,
            extended_s3_destination_configuration=firehose.CfnDeliveryStream.ExtendedS3DestinationConfigurationProperty(
                bucket_arn=bucket.bucket_arn,
                role_arn=role.role_arn,
                prefix=prefix,
                error_output_prefix=f"firehose-errors/{construct_id}/!{{firehose:error-output-type}}/",
                buffering_hints=firehose.CfnDeliveryStream.BufferingHintsProperty(
                    interval_in_seconds=settings.buffer_seconds, size_in_m_bs=settings.buffer_mib
                ),
                compression_format="UNCOMPRESSED",
                cloud_watch_logging_options=delivery_logs.logging_options,
            ),
        )
        stream.node.add_dependency(role)
        return stream

    def _review_workflow(
        self,
        make: WorkflowFunctions,
        settings: FeedbackLoopSettings,
        name_prefix: str,
        workteam: CfnParameter,
        review_bucket: SecureBucket,
    ) -> str:
        """Human review: the task UI is a CloudFormation resource; the flow definition has no
        resource type, so a custom resource (its own function) creates it. Its ARN."""
        # A2I writes reviewers' answers with this role.
        review_role = ServiceRole(
            self,
            "ReviewRole",
            service="sagemaker",
            description="Lets Amazon A2I write human review output",
            source_account=self.account,
        )
        review_bucket.grant_prefix(review_role, ["s3:PutObject"], "reviews/*")
        title = f"Classify {settings.classifier_name} texts"
        template = task_template(settings.categories, title)
        task_ui = sagemaker_cfn.CfnHumanTaskUi(
            self,
            "ReviewTaskUi",
            # A new name for a new template: CloudFormation replaces the UI, then the flow.
            human_task_ui_name=f"{name_prefix}-ui-{hashlib.sha256(template.encode()).hexdigest()[:12]}",
            ui_template=sagemaker_cfn.CfnHumanTaskUi.UiTemplateProperty(content=template),
        )
        # Amazon A2I (and this resource type) exists in a subset of regions; cfn-lint checks
        # every region. Deploying elsewhere fails at this resource with CloudFormation's error.
        task_ui.add_metadata("cfn-lint", {"config": {"ignore_checks": ["E3006"]}})
        # Long enough to wait for the flow to become Active and still answer CloudFormation.
        workflow_fn = make.add(
            "ReviewWorkflow",
            "review_workflow",
            "Creates the A2I flow definition",
            timeout=Duration.minutes(2),
        )
        flow_definitions = f"{service_arn('sagemaker')}:flow-definition/{name_prefix}-*"
        workflow_fn.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "sagemaker:CreateFlowDefinition",
                    "sagemaker:DescribeFlowDefinition",
                    "sagemaker:DeleteFlowDefinition",
                ],
                resources=[flow_definitions],
            ),
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[review_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            ),
        )
        acknowledge_wildcards(
            workflow_fn.role,
            "This stack's A2I flow definitions; each name ends in a digest of its settings, so "
            "an update creates a new one before the old one is deleted.",
            flow_definitions,
        )
        review_workflow = CustomResource(
            self,
            "ReviewWorkflowResource",
            service_token=workflow_fn.function_arn,
            resource_type="Custom::A2iReviewWorkflow",
            properties={
                "NamePrefix": name_prefix,
                "HumanTaskUiArn": task_ui.attr_human_task_ui_arn,
                "WorkteamArn": workteam.value_as_string,
                "OutputPath": review_bucket.s3_url_for_object("reviews"),
                "RoleArn": review_role.role_arn,
                "TaskTitle": title,
            },
        )
        review_workflow.node.add_dependency(review_role)
        return review_workflow.get_att_string("FlowDefinitionArn")

    def _api(
        self,
        make: WorkflowFunctions,
        part_one: _PartOne,
        feedback_stream: firehose.CfnDeliveryStream,
        endpoint_keeper: EndpointKeeper | None,
        settings: FeedbackLoopSettings,
    ) -> apigateway.RestApi:
        """`POST /classify` and `POST /feedback`, answered by one function."""
        api_fn = make.add("ApiHandler", "api", "Classify and feedback API")
        api_fn.add_to_policy(
            iam.PolicyStatement(
                actions=["ssm:GetParameter"],
                resources=[f"{service_arn('ssm')}:parameter{part_one.endpoint_parameter}"],
            ),
            iam.PolicyStatement(
                actions=["comprehend:ClassifyDocument"],
                resources=[
                    f"{service_arn('comprehend')}:"
                    f"document-classifier-endpoint/{part_one.endpoint_name}"
                ],
            ),
            iam.PolicyStatement(
                actions=["firehose:PutRecord"], resources=[feedback_stream.attr_arn]
            ),
        )
        if endpoint_keeper is not None:
            # A deleted (idle) endpoint: the API asks part 1's keeper for it and answers 503.
            endpoint_keeper.grant_caller(api_fn)
        return self._rest_api(api_fn, settings)

    def _batch_feedback(
        self,
        make: WorkflowFunctions,
        batch_bucket: SecureBucket,
        feedback_stream: firehose.CfnDeliveryStream,
        alarms: NotificationTopic,
    ) -> None:
        """Batch feedback files: their sentences go to the feedback stream."""
        batch_fn = make.add("BatchFeedback", "batch_feedback", "Batch feedback files")
        self._feed_new_objects(batch_bucket, "BatchQueue", batch_fn, alarms)
        batch_bucket.grant_prefix(batch_fn.role, ["s3:GetObjectVersion"], "*")
        batch_bucket.grant_prefix(batch_fn.role, ["s3:PutObject"], "failed/*", "error-reports/*")
        batch_fn.add_to_policy(
            iam.PolicyStatement(
                actions=["firehose:PutRecordBatch"], resources=[feedback_stream.attr_arn]
            )
        )

    def _human_loops(
        self,
        make: WorkflowFunctions,
        feedback_bucket: SecureBucket,
        flow_arn: str,
        alarms: NotificationTopic,
    ) -> None:
        """Feedback objects -> human loops."""
        loops_fn = make.add(
            "StartLoops",
            "start_loops",
            "Starts human loops for feedback",
            environment={"FLOW_DEFINITION_ARN": flow_arn},
        )
        self._feed_new_objects(feedback_bucket, "FeedbackQueue", loops_fn, alarms, "feedback/")
        feedback_bucket.grant_prefix(loops_fn.role, ["s3:GetObjectVersion"], "feedback/*")
        loops_fn.add_to_policy(
            iam.PolicyStatement(actions=["sagemaker:StartHumanLoop"], resources=[flow_arn])
        )

    def _feed_new_objects(
        self,
        bucket: SecureBucket,
        queue_id: str,
        function: PythonFunction,
        alarms: NotificationTopic,
        prefix: str | None = None,
    ) -> None:
        """`function` consumes, through a queue, the objects created in `bucket`."""
        queue = QueueWithDlq(
            self,
            queue_id,
            visibility_timeout=Duration.seconds(180),
            max_receive_count=5,
            alarm_topic=alarms,
        )
        bucket.notify_new_objects(queue.queue, prefix=prefix)
        function.add_queue_trigger(queue.queue, batch_size=5)

    def _training_rows(
        self,
        make: WorkflowFunctions,
        review_bucket: SecureBucket,
        training_stream: firehose.CfnDeliveryStream,
        table: WorkflowTable,
        flow_arn: str,
        alarms: NotificationTopic,
    ) -> None:
        """Completed loops -> training rows: the transformer gets the event of every loop
        reviewers complete (one it fails on lands in a dead-letter queue) and writes the
        answers to the training stream."""
        transform_fn = make.add(
            "TransformAnswers",
            "transform_answers",
            "Turns reviewed answers into training rows",
            environment={"TRAINING_STREAM": training_stream.ref, "STATE_TABLE": table.table_name},
        )
        failures = QueueWithDlq(
            self, "TransformFailures", visibility_timeout=Duration.seconds(30), alarm_topic=alarms
        )
        transform_fn.function.configure_async_invoke(
            on_failure=destinations.SqsDestination(failures.queue), retry_attempts=2
        )
        review_bucket.grant_prefix(transform_fn.role, ["s3:GetObject"], "reviews/*")
        transform_fn.add_to_policy(
            iam.PolicyStatement(
                actions=["firehose:PutRecordBatch"], resources=[training_stream.attr_arn]
            ),
            # What Powertools idempotency calls: PutItem to start (a conditional put that
            # returns the existing record, so no GetItem), UpdateItem when done, DeleteItem
            # when an attempt fails.
            iam.PolicyStatement(
                actions=["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
                resources=[table.table_arn],
            ),
        )
        rule = events.Rule(
            self,
            "LoopCompletedRule",
            description="A2I human loops of this stack that reviewers completed",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=[STATUS_EVENT],
                detail={"flowDefinitionArn": [flow_arn], "humanLoopStatus": ["Completed"]},
            ),
        )
        rule.add_target(
            targets.LambdaFunction(
                transform_fn.function,
                dead_letter_queue=failures.queue,
                retry_attempts=8,
                max_event_age=Duration.hours(24),
            )
        )

    def _rest_api(
        self, api_fn: PythonFunction, settings: FeedbackLoopSettings
    ) -> apigateway.RestApi:
        access_logs = WorkflowLogGroup(self, "ApiAccessLogs")
        api = apigateway.RestApi(
            self,
            "ClassifyApi",
            description="Comprehend classify and feedback API",
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.DESTROY,
            api_key_source_type=apigateway.ApiKeySourceType.HEADER,
            deploy_options=apigateway.StageOptions(
                stage_name="v1",
                access_log_destination=apigateway.LogGroupLogDestination(access_logs),
                access_log_format=apigateway.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=False,
                ),
                logging_level=apigateway.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
                throttling_rate_limit=settings.throttle_rate,
                throttling_burst_limit=settings.throttle_burst,
            ),
        )
        validator = api.add_request_validator(
            "BodyValidator", validate_request_body=True, validate_request_parameters=True
        )

        def string(**constraints: object) -> apigateway.JsonSchema:
            return apigateway.JsonSchema(
                type=apigateway.JsonSchemaType.STRING,
                min_length=1,
                **constraints,  # type: ignore[arg-type]
            )

        def model(construct_id: str, **extra: apigateway.JsonSchema) -> apigateway.Model:
            # The text's byte limit is the handler's to check: the schema counts characters.
            return api.add_model(
                construct_id,
                content_type="application/json",
                schema=apigateway.JsonSchema(
                    schema=apigateway.JsonSchemaVersion.DRAFT4,
                    type=apigateway.JsonSchemaType.OBJECT,
                    # An unknown field (a typo, `"admin": true`) is refused, not ignored.
                    additional_properties=False,
                    required=["classifier"],
                    properties={
                        "classifier": string(),
                        "text": string(max_length=MAX_TEXT_BYTES),
                        "sentence": string(max_length=MAX_TEXT_BYTES),
                        **extra,
                    },
                ),
            )

        # A refused body says why: API Gateway puts its validator's findings in
        # $context.error.validationErrorString (developer guide, "$context variables for data
        # models, authorizers, mapping templates, and access logging").
        api.add_gateway_response(
            "BadRequestBody",
            type=apigateway.ResponseType.BAD_REQUEST_BODY,
            status_code="400",
            templates={
                "application/json": '{"message": "Invalid request body", '
                '"errors": "$context.error.validationErrorString"}'
            },
        )
        classify_model = model("ClassifyRequest")
        feedback_model = model("FeedbackRequest", label=string(enum=list(settings.categories)))
        integration = apigateway.LambdaIntegration(api_fn.function, proxy=True)
        for path, request_model in (("classify", classify_model), ("feedback", feedback_model)):
            api.root.add_resource(path).add_method(
                "POST",
                integration,
                api_key_required=True,
                request_validator=validator,
                request_models={"application/json": request_model},
            )
        plan = api.add_usage_plan(
            "UsagePlan",
            description="Throttling for API key holders",
            throttle=apigateway.ThrottleSettings(
                rate_limit=settings.throttle_rate, burst_limit=settings.throttle_burst
            ),
            api_stages=[apigateway.UsagePlanPerApiStage(api=api, stage=api.deployment_stage)],
        )
        key = api.add_api_key("ApiKey", description="Key for the classify and feedback API")
        plan.add_api_key(key)
        CfnOutput(self, "ApiKeyId", value=key.key_id)
        _acknowledge_api(api)
        return api


def _acknowledge_api(api: apigateway.RestApi) -> None:
    acknowledge(
        api,
        "AwsSolutions-APIG3",
        "A regional API behind an API key and usage-plan throttling; attach a WAF web ACL "
        "where the API is exposed beyond known clients.",
    )
    for rule in ("AwsSolutions-APIG4", "AwsSolutions-COG4"):
        acknowledge(
            api,
            rule,
            "Callers are services holding an API key (usage plan with throttling), as in "
            "the published architecture; there are no end-user identities to authorize.",
        )
    acknowledge(
        api.node.find_child("CloudWatchRole"),
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
        "AmazonAPIGatewayPushToCloudWatchLogs]",
        "API Gateway's account-level logging role; AWS documents this managed policy for it.",
    )


def _required(value: str | None, key: str) -> str:
    if not value:
        from lambdas.shared.errors import ConfigurationError

        raise ConfigurationError(
            f"comprehend_feedback_loop:{key} is required when ComprehendFeedbackLoop is deployed "
            "without ComprehendModelLifecycle in the same app"
        )
    return value
