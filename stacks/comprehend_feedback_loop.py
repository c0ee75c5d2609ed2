"""ComprehendFeedbackLoop: classify API, implicit and explicit feedback, human review, and
reviewed answers as training data for part 1 (active learning, part 2).

`POST /classify` answers with part 1's live endpoint; an answer below the confidence threshold
and every `POST /feedback` go to the feedback stream, as do the sentences of batch feedback
files. Feedback objects start A2I human loops; a completed loop's answers become training rows
that the training stream delivers under part 1's `train/` prefix, which starts a part 1 round.
"""

from __future__ import annotations

import hashlib

from aws_cdk import (
    Aws,
    CfnOutput,
    CustomResource,
    Duration,
    Fn,
    RemovalPolicy,
    Stack,
)
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sagemaker as sagemaker_cfn
from constructs import Construct

from lambdas.comprehend_feedback_loop.feedback import MAX_TEXT_BYTES
from lambdas.comprehend_feedback_loop.loops import task_template
from stacks.config import FeedbackLoopSettings
from stacks.constructs import (
    AccessLogsBucket,
    NotificationTopic,
    PythonFunction,
    QueueWithDlq,
    SecureBucket,
)
from stacks.constructs.acknowledge import acknowledge, acknowledge_bucket_notifications_handler
from stacks.constructs.deploy_input import deploy_input
from stacks.constructs.endpoint_keeper import EndpointKeeper

WORKFLOW = "comprehend_feedback_loop"
STATUS_EVENT = "SageMaker A2I HumanLoop Status Change"
TRAINING_PREFIX = "train/reviewed/"


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
        endpoint_parameter = endpoint_parameter or _required(
            settings.endpoint_parameter, "endpointParameter"
        )
        endpoint_name = endpoint_name or _required(settings.endpoint_name, "endpointName")
        digest = hashlib.sha256(construct_id.encode()).hexdigest()[:8]
        name_prefix = f"cfl-{digest}"
        sagemaker = f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}"
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
        table = dynamodb.Table(
            self,
            "StateTable",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            time_to_live_attribute="expiration",
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=RemovalPolicy.RETAIN,
        )

        feedback_logical_id = self.get_logical_id(feedback_bucket.node.default_child)  # type: ignore[arg-type]
        feedback_stream = self._delivery_stream(
            "FeedbackStream", feedback_bucket, f"<{feedback_logical_id}.Arn>", "feedback/", settings
        )
        training_stream = self._delivery_stream(
            "TrainingStream", training_bucket, training_nag_arn, TRAINING_PREFIX, settings
        )

        # A2I writes reviewers' answers with this role.
        review_role = iam.Role(
            self,
            "ReviewRole",
            description="Lets Amazon A2I write human review output",
            assumed_by=iam.ServicePrincipal(
                "sagemaker.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": self.account}},
            ),
        )
        review_bucket.grant_prefix(review_role, ["s3:PutObject"], "reviews/*")

        environment = {
            "CLASSIFIER_NAME": settings.classifier_name,
            "CATEGORIES": ",".join(settings.categories),
            "CONFIDENCE_THRESHOLD_PER_MILLE": str(settings.confidence_threshold_per_mille),
            "ENDPOINT_PARAMETER": endpoint_parameter,
            "PARAMETER_MAX_AGE_SECONDS": str(settings.parameter_max_age_seconds),
            "FEEDBACK_STREAM": feedback_stream.ref,
            "MAX_ITEMS_PER_LOOP": str(settings.max_items_per_loop),
        }

        def make_function(construct_id: str, module: str, description: str,
                          extra: dict[str, str] | None = None,
                          timeout: Duration = Duration.seconds(30)) -> PythonFunction:  # fmt: skip
            return PythonFunction(
                self,
                construct_id,
                workflow=WORKFLOW,
                handler=f"{module}.handler",
                description=description,
                environment={**environment, **(extra or {})},
                timeout=timeout,
                memory_size=256,
            )

        # Human review: the task UI is a CloudFormation resource; the flow definition has no
        # resource type, so a custom resource (its own function) creates it.
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
        workflow_fn = make_function(
            "ReviewWorkflow",
            "review_workflow",
            "Creates the A2I flow definition",
            timeout=Duration.minutes(2),
        )
        workflow_fn.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "sagemaker:CreateFlowDefinition",
                    "sagemaker:DescribeFlowDefinition",
                    "sagemaker:DeleteFlowDefinition",
                ],
                resources=[f"{sagemaker}:flow-definition/{name_prefix}-*"],
            ),
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[review_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            ),
        )
        acknowledge(
            workflow_fn.role.node.find_child("DefaultPolicy"),
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:"
            f"<AWS::AccountId>:flow-definition/{name_prefix}-*]",
            "This stack's A2I flow definitions; each name ends in a digest of its settings, so "
            "an update creates a new one before the old one is deleted.",
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
        flow_arn = review_workflow.get_att_string("FlowDefinitionArn")

        # The API.
        api_fn = make_function("ApiHandler", "api", "Classify and feedback API")
        api_fn.add_to_policy(
            iam.PolicyStatement(
                actions=["ssm:GetParameter"],
                resources=[
                    f"arn:{Aws.PARTITION}:ssm:{Aws.REGION}:{Aws.ACCOUNT_ID}:parameter"
                    f"{endpoint_parameter}"
                ],
            ),
            iam.PolicyStatement(
                actions=["comprehend:ClassifyDocument"],
                resources=[
                    f"arn:{Aws.PARTITION}:comprehend:{Aws.REGION}:{Aws.ACCOUNT_ID}:"
                    f"document-classifier-endpoint/{endpoint_name}"
                ],
            ),
            iam.PolicyStatement(
                actions=["firehose:PutRecord"], resources=[feedback_stream.attr_arn]
            ),
        )
        if endpoint_keeper is not None:
            # A deleted (idle) endpoint: the API asks part 1's keeper for it and answers 503.
            endpoint_keeper.grant_caller(api_fn)
        self.api = self._rest_api(api_fn, settings)

        # Where the dead-letter alarms notify (subscribe an operator to AlarmTopicArn).
        alarms = NotificationTopic(self, "AlarmNotifications")

        # Batch feedback files.
        batch_fn = make_function("BatchFeedback", "batch_feedback", "Batch feedback files")
        batch_queue = QueueWithDlq(
            self,
            "BatchQueue",
            visibility_timeout=Duration.seconds(180),
            max_receive_count=5,
            alarm_topic=alarms,
        )
        batch_bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED, s3n.SqsDestination(batch_queue.queue)
        )
        batch_fn.add_queue_trigger(batch_queue.queue, batch_size=5)
        batch_bucket.grant_prefix(batch_fn.role, ["s3:GetObjectVersion"], "*")
        batch_bucket.grant_prefix(batch_fn.role, ["s3:PutObject"], "failed/*", "error-reports/*")
        batch_fn.add_to_policy(
            iam.PolicyStatement(
                actions=["firehose:PutRecordBatch"], resources=[feedback_stream.attr_arn]
            )
        )

        # Feedback objects -> human loops.
        loops_fn = make_function(
            "StartLoops", "start_loops", "Starts human loops for feedback",
            {"FLOW_DEFINITION_ARN": flow_arn},
        )  # fmt: skip
        loops_queue = QueueWithDlq(
            self,
            "FeedbackQueue",
            visibility_timeout=Duration.seconds(180),
            max_receive_count=5,
            alarm_topic=alarms,
        )
        feedback_bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED,
            s3n.SqsDestination(loops_queue.queue),
            s3.NotificationKeyFilter(prefix="feedback/"),
        )
        loops_fn.add_queue_trigger(loops_queue.queue, batch_size=5)
        feedback_bucket.grant_prefix(loops_fn.role, ["s3:GetObjectVersion"], "feedback/*")
        loops_fn.add_to_policy(
            iam.PolicyStatement(actions=["sagemaker:StartHumanLoop"], resources=[flow_arn])
        )

        # Completed loops -> training rows.
        transform_fn = make_function(
            "TransformAnswers", "transform_answers", "Turns reviewed answers into training rows",
            {"TRAINING_STREAM": training_stream.ref, "STATE_TABLE": table.table_name},
        )  # fmt: skip
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

        acknowledge_bucket_notifications_handler(self)
        CfnOutput(self, "ApiUrl", value=self.api.url)
        CfnOutput(self, "AlarmTopicArn", value=alarms.topic_arn)
        CfnOutput(self, "ClassifierName", value=settings.classifier_name)
        CfnOutput(self, "FeedbackBucketName", value=feedback_bucket.bucket_name)
        CfnOutput(self, "BatchUploadBucketName", value=batch_bucket.bucket_name)
        CfnOutput(self, "ReviewOutputBucketName", value=review_bucket.bucket_name)
        CfnOutput(self, "FlowDefinitionArn", value=flow_arn)
        CfnOutput(self, "FeedbackStreamName", value=feedback_stream.ref)
        CfnOutput(self, "TrainingStreamName", value=training_stream.ref)
        CfnOutput(self, "StateTableName", value=table.table_name)

    def _delivery_stream(
        self,
        construct_id: str,
        bucket: s3.IBucket,
        nag_arn: str,
        prefix: str,
        settings: FeedbackLoopSettings,
    ) -> firehose.CfnDeliveryStream:
        role = iam.Role(
            self,
            f"{construct_id}Role",
            description=f"Lets Firehose deliver {construct_id} under {prefix}",
            assumed_by=iam.ServicePrincipal(
                "firehose.amazonaws.com",
                conditions={"StringEquals": {"sts:ExternalId": self.account}},
            ),
        )
        # The S3 destination's documented permissions, narrowed to the prefix.
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
                resources=[bucket.arn_for_objects(f"{prefix}*")],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
                resources=[bucket.bucket_arn],
            )
        )
        acknowledge(
            role.node.find_child("DefaultPolicy"),
            f"AwsSolutions-IAM5[Resource::{nag_arn}/{prefix}*]",
            f"Objects under {prefix} only: Firehose names the objects it writes at delivery "
            "time (date prefix and a random suffix).",
        )
        log_group = logs.LogGroup(
            self,
            f"{construct_id}Logs",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )
        log_stream = logs.LogStream(self, f"{construct_id}LogStream", log_group=log_group)
        role.add_to_policy(
            iam.PolicyStatement(actions=["logs:PutLogEvents"], resources=[log_group.log_group_arn])
        )
        stream = firehose.CfnDeliveryStream(
            self,
            construct_id,
            delivery_stream_type="DirectPut",
            delivery_stream_encryption_configuration_input=firehose.CfnDeliveryStream.DeliveryStreamEncryptionConfigurationInputProperty(
                key_type="AWS_OWNED_CMK"
            ),
            extended_s3_destination_configuration=firehose.CfnDeliveryStream.ExtendedS3DestinationConfigurationProperty(
                bucket_arn=bucket.bucket_arn,
                role_arn=role.role_arn,
                prefix=prefix,
                error_output_prefix=f"firehose-errors/{construct_id}/!{{firehose:error-output-type}}/",
                buffering_hints=firehose.CfnDeliveryStream.BufferingHintsProperty(
                    interval_in_seconds=settings.buffer_seconds, size_in_m_bs=settings.buffer_mib
                ),
                compression_format="UNCOMPRESSED",
                cloud_watch_logging_options=firehose.CfnDeliveryStream.CloudWatchLoggingOptionsProperty(
                    enabled=True,
                    log_group_name=log_group.log_group_name,
                    log_stream_name=log_stream.log_stream_name,
                ),
            ),
        )
        stream.node.add_dependency(role)
        return stream

    def _rest_api(
        self, api_fn: PythonFunction, settings: FeedbackLoopSettings
    ) -> apigateway.RestApi:
        access_logs = logs.LogGroup(
            self, "ApiAccessLogs", retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )  # fmt: skip
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
        return api


def _required(value: str | None, key: str) -> str:
    if not value:
        from lambdas.shared.errors import ConfigurationError

        raise ConfigurationError(
            f"comprehend_feedback_loop:{key} is required when ComprehendFeedbackLoop is deployed "
            "without ComprehendModelLifecycle in the same app"
        )
    return value
