"""TicketClassification: support tickets classified by operation and resource, stored in a
Redshift warehouse, with recommended materials for whoever handles them.

A user invokes TicketClassifier with the published ticket contract. The classifier asks the
operation and the resource endpoint at once, answers with both labels and the recommendations,
writes the row to Firehose (which COPYs it into `ticket_records` on Redshift; the published
`tickets` view shows one row per TicketId, since Firehose delivers at least once) and hands
the ticket to TicketHandler asynchronously. A ticket table makes all of this happen once per
TicketId. The warehouse is Redshift Serverless, or with
`ticket_classification:warehouse=provisioned` a provisioned cluster; either way the admin
password is generated into Secrets Manager and the table and view are created by a custom
resource through the Redshift Data API.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from aws_cdk import (
    ArnFormat,
    Aws,
    CfnOutput,
    CfnResource,
    CustomResource,
    Duration,
    RemovalPolicy,
    Stack,
)
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_redshift as redshift
from aws_cdk import aws_redshiftserverless as redshiftserverless
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from lambdas.ticket_classification.warehouse import COLUMNS, DDL, TABLE
from stacks.config import TicketSettings
from stacks.constructs import (
    AccessLogsBucket,
    AslStateMachine,
    NotificationTopic,
    PythonFunction,
    QueueWithDlq,
    SecureBucket,
)
from stacks.constructs.acknowledge import acknowledge
from stacks.constructs.endpoint_keeper import EndpointKeeper
from stacks.constructs.runtime_cleanup import RuntimeCleanup

WORKFLOW = "ticket_classification"
UNSET_ENDPOINT = "unset"
REDSHIFT_PORT = 5439
# COPY maps the JSON keys of each record to the listed columns; the classifier writes UTC
# times in this format.
COPY_OPTIONS = "FORMAT AS JSON 'auto' TIMEFORMAT 'YYYY-MM-DD HH:MI:SS' TRUNCATECOLUMNS"
DESCRIBE_STATEMENT_REASON = (
    "redshift-data:DescribeStatement and GetStatementResult support no resource-level "
    "permissions; the Data API only lets a caller read the statements it ran itself."
)


@dataclass(frozen=True)
class _Warehouse:
    """What the rest of the stack needs of the warehouse, serverless or provisioned."""

    resource: CfnResource
    arn: str  # what redshift-data:ExecuteStatement is granted on
    jdbc_url: str
    target: dict[str, str]  # the table setup function's environment naming the warehouse


class TicketClassificationStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: TicketSettings,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        digest = hashlib.sha256(construct_id.encode()).hexdigest()[:8]
        warehouse_name = f"tickets-{digest}"

        # --- Endpoints: ARNs in SSM, from context or set after deploying the endpoints -------
        endpoint_parameters = {
            role: ssm.StringParameter(
                self,
                f"{role.capitalize()}EndpointParameter",
                description=f"ARN of the Comprehend endpoint classifying tickets by {role}",
                parameter_name=f"/{construct_id}/{role.capitalize()}EndpointArn",
                string_value=arn or UNSET_ENDPOINT,
            )
            for role, arn in (
                ("operation", settings.operation_endpoint_arn),
                ("resource", settings.resource_endpoint_arn),
            )
        }

        # --- Warehouse: serverless or a cluster, with a generated admin password --------------
        secret = secretsmanager.Secret(
            self,
            "AdminSecret",
            description="Admin credentials of the ticket warehouse (used by Firehose's COPY)",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=f'{{"username": "{settings.admin_username}"}}',
                generate_string_key="password",
                password_length=32,
                exclude_characters="\"'\\/@ `",
                require_each_included_type=True,
            ),
        )
        acknowledge(
            secret,
            "AwsSolutions-SMG4",
            "Rotating the Redshift admin password needs a rotation function in the warehouse's "
            "network; rotate it on the namespace or cluster (or by redeploying) per the account's "
            "policy.",
        )
        if settings.warehouse == "provisioned":
            warehouse = self._cluster(warehouse_name, settings, secret)
        else:
            warehouse = self._serverless(warehouse_name, settings, secret)

        # --- The tickets table, created through the Data API -----------------------------------
        table_setup = PythonFunction(
            self,
            "TableSetup",
            workflow=WORKFLOW,
            handler="table_setup.handler",
            description="Creates the tickets table and view through the Redshift Data API",
            environment={
                "DATABASE_NAME": settings.database,
                "SECRET_ARN": secret.secret_arn,
                **warehouse.target,
                "POLL_MILLISECONDS": "1000",
                "MAX_POLLS": "240",
            },
            timeout=Duration.minutes(5),
        )
        table_setup.add_to_policy(
            iam.PolicyStatement(
                actions=["redshift-data:ExecuteStatement"], resources=[warehouse.arn]
            )
        )
        secret.grant_read(table_setup.role)
        table_setup.grant_unscoped(
            "DescribeStatementPolicy",
            ["redshift-data:DescribeStatement", "redshift-data:GetStatementResult"],
            DESCRIBE_STATEMENT_REASON,
        )
        table = CustomResource(
            self,
            "TicketsTable",
            service_token=table_setup.function_arn,
            resource_type="Custom::TicketsTable",
            properties={"Database": settings.database, "Ddl": DDL},
        )
        table.node.add_dependency(warehouse.resource)

        # --- Firehose: S3 staging, then COPY into ticket_records ----------------------------------
        access_logs = AccessLogsBucket(self, "AccessLogs")
        staging = SecureBucket(
            self,
            "StagingBucket",
            access_logs=access_logs,
            noncurrent_days=7,
            lifecycle_rules=[s3_expiry(30)],
        )
        delivery_logs = logs.LogGroup(
            self,
            "DeliveryLogs",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )
        delivery_log_stream = logs.LogStream(
            self, "DeliveryLogStream", log_group=delivery_logs, log_stream_name="RedshiftDelivery"
        )
        delivery_role = iam.Role(
            self,
            "DeliveryRole",
            description="Lets Firehose stage ticket records in S3 and COPY them into Redshift",
            assumed_by=iam.ServicePrincipal(
                "firehose.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            ),
        )
        # The documented permissions of a Firehose role for an S3 (staging) destination.
        delivery_role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
                resources=[staging.arn_for_objects("*")],
            ),
        )
        delivery_role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "s3:GetBucketLocation",
                    "s3:ListBucket",
                    "s3:ListBucketMultipartUploads",
                ],
                resources=[staging.bucket_arn],
            )
        )
        secret.grant_read(delivery_role)
        delivery_role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:PutLogEvents"],
                # The group's Arn attribute ends in ":*" and is a token at synth time, so the
                # stream's ARN is built from the group's name.
                resources=[
                    self.format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name=f"{delivery_logs.log_group_name}:log-stream:"
                        f"{delivery_log_stream.log_stream_name}",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            )
        )
        acknowledge(
            delivery_role.node.find_child("DefaultPolicy"),
            f"AwsSolutions-IAM5[Resource::<{self.get_logical_id(staging.node.default_child)}"  # type: ignore[arg-type]
            ".Arn>/*]",
            "Firehose writes staging objects under time-based keys it chooses at delivery; "
            "the bucket holds nothing else.",
        )
        logging_options = firehose.CfnDeliveryStream.CloudWatchLoggingOptionsProperty(
            enabled=True,
            log_group_name=delivery_logs.log_group_name,
            log_stream_name=delivery_log_stream.log_stream_name,
        )
        stream = firehose.CfnDeliveryStream(
            self,
            "DeliveryStream",
            delivery_stream_type="DirectPut",
            delivery_stream_encryption_configuration_input=firehose.CfnDeliveryStream.DeliveryStreamEncryptionConfigurationInputProperty(
                key_type="AWS_OWNED_CMK"
            ),
            redshift_destination_configuration=firehose.CfnDeliveryStream.RedshiftDestinationConfigurationProperty(
                cluster_jdbcurl=warehouse.jdbc_url,
                role_arn=delivery_role.role_arn,
                copy_command=firehose.CfnDeliveryStream.CopyCommandProperty(
                    data_table_name=TABLE,
                    data_table_columns=",".join(COLUMNS),
                    copy_options=COPY_OPTIONS,
                ),
                secrets_manager_configuration=firehose.CfnDeliveryStream.SecretsManagerConfigurationProperty(
                    enabled=True, secret_arn=secret.secret_arn, role_arn=delivery_role.role_arn
                ),
                retry_options=firehose.CfnDeliveryStream.RedshiftRetryOptionsProperty(
                    duration_in_seconds=settings.retry_seconds
                ),
                s3_configuration=firehose.CfnDeliveryStream.S3DestinationConfigurationProperty(
                    bucket_arn=staging.bucket_arn,
                    role_arn=delivery_role.role_arn,
                    prefix="staging/",
                    error_output_prefix="errors/",
                    compression_format="UNCOMPRESSED",
                    buffering_hints=firehose.CfnDeliveryStream.BufferingHintsProperty(
                        interval_in_seconds=settings.buffer_seconds,
                        size_in_m_bs=settings.buffer_megabytes,
                    ),
                    cloud_watch_logging_options=logging_options,
                ),
                cloud_watch_logging_options=logging_options,
            ),
        )
        stream.node.add_dependency(table)

        # --- The ticket table and the two functions ------------------------------------------
        tickets = dynamodb.Table(
            self,
            "TicketTable",
            partition_key=dynamodb.Attribute(name="ticketId", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=RemovalPolicy.RETAIN,
        )
        handler = PythonFunction(
            self,
            "TicketHandler",
            workflow=WORKFLOW,
            handler="ticket_handler.handler",
            description="Records the recommended materials of a classified ticket",
            environment={"TICKET_TABLE": tickets.table_name},
        )
        handler.add_to_policy(
            iam.PolicyStatement(actions=["dynamodb:UpdateItem"], resources=[tickets.table_arn])
        )
        # Where the dead-letter alarm notifies (subscribe an operator to AlarmTopicArn).
        alarms = NotificationTopic(self, "AlarmNotifications")
        failures = QueueWithDlq(
            self,
            "HandlerFailures",
            visibility_timeout=Duration.minutes(5),
            retention=Duration.days(14),
            alarm_topic=alarms,
        )
        CfnOutput(self, "AlarmTopicArn", value=alarms.topic_arn)
        lambda_.EventInvokeConfig(
            self,
            "TicketHandlerAsync",
            function=handler.function,
            max_event_age=Duration.hours(6),
            retry_attempts=2,
            on_failure=destinations.SqsDestination(failures.queue),
        )

        classifier = PythonFunction(
            self,
            "TicketClassifier",
            workflow=WORKFLOW,
            handler="classifier.handler",
            description="Classifies a support ticket by operation and resource",
            environment={
                "TICKET_TABLE": tickets.table_name,
                "DELIVERY_STREAM": stream.ref,
                "TICKET_HANDLER_FUNCTION": handler.function.function_name,
                "OPERATION_ENDPOINT_PARAMETER": endpoint_parameters["operation"].parameter_name,
                "RESOURCE_ENDPOINT_PARAMETER": endpoint_parameters["resource"].parameter_name,
            },
            timeout=Duration.seconds(30),
            memory_size=512,
        )
        classifier.add_to_policy(
            iam.PolicyStatement(
                actions=["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
                resources=[tickets.table_arn],
            ),
            iam.PolicyStatement(
                actions=["ssm:GetParameters"],
                resources=[p.parameter_arn for p in endpoint_parameters.values()],
            ),
            iam.PolicyStatement(actions=["firehose:PutRecord"], resources=[stream.attr_arn]),
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"], resources=[handler.function.function_arn]
            ),
        )
        if settings.operation_endpoint_arn and settings.resource_endpoint_arn:
            endpoint_arns = [settings.operation_endpoint_arn, settings.resource_endpoint_arn]
        else:
            endpoint_arns = self._training_workflow(
                warehouse_name, construct_id, access_logs, endpoint_parameters, classifier,
                alarms, settings,
            )  # fmt: skip
        classifier.add_to_policy(
            iam.PolicyStatement(actions=["comprehend:ClassifyDocument"], resources=endpoint_arns)
        )

        CfnOutput(self, "ClassifierFunctionName", value=classifier.function.function_name)
        CfnOutput(self, "HandlerFunctionName", value=handler.function.function_name)
        CfnOutput(self, "TicketTableName", value=tickets.table_name)
        CfnOutput(self, "DeliveryStreamName", value=stream.ref)
        CfnOutput(self, "StagingBucketName", value=staging.bucket_name)
        if settings.warehouse == "provisioned":
            CfnOutput(self, "ClusterIdentifier", value=warehouse_name)
        else:
            CfnOutput(self, "WorkgroupName", value=warehouse_name)
        CfnOutput(self, "DatabaseName", value=settings.database)
        CfnOutput(self, "AdminSecretArn", value=secret.secret_arn)
        CfnOutput(self, "HandlerFailureQueueUrl", value=failures.queue.queue_url)
        for role, parameter in endpoint_parameters.items():
            CfnOutput(
                self, f"{role.capitalize()}EndpointParameterName", value=parameter.parameter_name
            )

    def _serverless(
        self, name: str, settings: TicketSettings, secret: secretsmanager.Secret
    ) -> _Warehouse:
        """A Redshift Serverless namespace and workgroup, both called `name`."""
        namespace = redshiftserverless.CfnNamespace(
            self,
            "Namespace",
            namespace_name=name,
            db_name=settings.database,
            admin_username=settings.admin_username,
            # A CloudFormation dynamic reference: the template holds no password.
            admin_user_password=secret.secret_value_from_json("password").unsafe_unwrap(),
            log_exports=["useractivitylog", "userlog", "connectionlog"],
        )
        namespace.apply_removal_policy(RemovalPolicy.RETAIN)
        workgroup = redshiftserverless.CfnWorkgroup(
            self,
            "Workgroup",
            workgroup_name=name,
            namespace_name=name,
            base_capacity=settings.base_capacity,
            # Firehose reaches Redshift through the workgroup's public endpoint; restrict the
            # security group to Firehose's CIDR block for the region.
            publicly_accessible=settings.publicly_accessible,
            subnet_ids=list(settings.subnet_ids) or None,
            security_group_ids=list(settings.security_group_ids) or None,
            enhanced_vpc_routing=False,
        )
        workgroup.add_resource_dependency(namespace)
        return _Warehouse(
            resource=workgroup,
            arn=workgroup.attr_workgroup_workgroup_arn,
            jdbc_url=(
                f"jdbc:redshift://{workgroup.attr_workgroup_endpoint_address}:"
                f"{REDSHIFT_PORT}/{settings.database}"
            ),
            target={"WORKGROUP_NAME": name},
        )

    def _cluster(
        self, name: str, settings: TicketSettings, secret: secretsmanager.Secret
    ) -> _Warehouse:
        """A provisioned cluster called `name`: encrypted, TLS only, audit and user-activity
        logs in CloudWatch Logs, in the workgroup's network settings."""
        parameters = redshift.CfnClusterParameterGroup(
            self,
            "ClusterParameters",
            description="Ticket warehouse: TLS only, user activity logged",
            parameter_group_family="redshift-1.0",
            parameters=[
                redshift.CfnClusterParameterGroup.ParameterProperty(
                    parameter_name="require_ssl", parameter_value="true"
                ),
                redshift.CfnClusterParameterGroup.ParameterProperty(
                    parameter_name="enable_user_activity_logging", parameter_value="true"
                ),
            ],
        )
        subnet_group = None
        if settings.subnet_ids:
            subnet_group = redshift.CfnClusterSubnetGroup(
                self,
                "ClusterSubnets",
                description="Subnets of the ticket warehouse",
                subnet_ids=list(settings.subnet_ids),
            )
        cluster = redshift.CfnCluster(
            self,
            "Cluster",
            cluster_identifier=name,
            cluster_type="single-node" if settings.number_of_nodes == 1 else "multi-node",
            number_of_nodes=settings.number_of_nodes if settings.number_of_nodes > 1 else None,
            node_type=settings.node_type,
            db_name=settings.database,
            master_username=settings.admin_username,
            # A CloudFormation dynamic reference: the template holds no password.
            master_user_password=secret.secret_value_from_json("password").unsafe_unwrap(),
            cluster_parameter_group_name=parameters.ref,
            cluster_subnet_group_name=subnet_group.ref if subnet_group else None,
            vpc_security_group_ids=list(settings.security_group_ids) or None,
            # Firehose reaches a cluster only through a public endpoint; restrict the security
            # group to Firehose's CIDR block for the region.
            publicly_accessible=settings.publicly_accessible,
            encrypted=True,
            enhanced_vpc_routing=False,
            port=REDSHIFT_PORT,
            automated_snapshot_retention_period=7,
            allow_version_upgrade=True,
            logging_properties=redshift.CfnCluster.LoggingPropertiesProperty(
                log_destination_type="cloudwatch",
                log_exports=["connectionlog", "userlog", "useractivitylog"],
            ),
        )
        cluster.apply_removal_policy(RemovalPolicy.SNAPSHOT)
        acknowledge(
            cluster,
            "AwsSolutions-RS4",
            "A non-default port hides nothing from a port scan; the security group, required "
            "TLS and the generated password guard the endpoint.",
        )
        if subnet_group is None:
            acknowledge(
                cluster,
                "AwsSolutions-RS2",
                "Without ticket_classification:subnetIds the cluster is placed in the default "
                "VPC's subnets, as the serverless workgroup is; set "
                "ticket_classification:subnetIds for a subnet group.",
            )
        if settings.publicly_accessible:
            acknowledge(
                cluster,
                "AwsSolutions-RS8",
                "Firehose delivers to a Redshift cluster only through its public endpoint; the "
                "security group admits Firehose's CIDR block for the region.",
            )
        arn = f"arn:{Aws.PARTITION}:redshift:{Aws.REGION}:{Aws.ACCOUNT_ID}:cluster:{name}"
        return _Warehouse(
            resource=cluster,
            arn=arn,
            jdbc_url=(
                f"jdbc:redshift://{cluster.attr_endpoint_address}:"
                f"{cluster.attr_endpoint_port}/{settings.database}"
            ),
            target={"CLUSTER_IDENTIFIER": name},
        )

    def _training_workflow(
        self,
        prefix: str,
        construct_id: str,
        access_logs: s3.IBucket,
        endpoint_parameters: dict[str, ssm.StringParameter],
        classifier: PythonFunction,
        alarms: NotificationTopic,
        settings: TicketSettings,
    ) -> list[str]:
        """The state machine that trains both classifiers from `training/<role>.csv` and
        deploys (or updates) their endpoints, and the keeper that deletes them while idle;
        the endpoint ARNs it creates."""
        comprehend = f"arn:{Aws.PARTITION}:comprehend:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        roles = ("operation", "resource")
        versions = [f"{comprehend}:document-classifier/{prefix}-{role}/version/*" for role in roles]
        endpoints = [f"{comprehend}:document-classifier-endpoint/{prefix}-{role}" for role in roles]
        parameters = [p.parameter_arn for p in endpoint_parameters.values()]
        bucket = SecureBucket(self, "TrainingBucket", access_logs=access_logs)
        data_access = iam.Role(
            self,
            "ComprehendDataAccessRole",
            description="Lets Comprehend read the ticket training data",
            assumed_by=iam.ServicePrincipal(
                "comprehend.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnLike": {"aws:SourceArn": f"{comprehend}:*"},
                },
            ),
        )
        bucket.grant_prefix(data_access, ["s3:GetObject"], "training/*")
        bucket.grant_list(data_access, ["s3:ListBucket"], "training/*")
        # Tickets that arrive while the endpoints are deleted (idle) wait in this queue. Under
        # a scaling policy the keeper feeds it to the classifier only while both endpoints
        # serve, so a ticket is never received, retried or dead-lettered because of a
        # scaled-down endpoint; always-on, the feed stays on (an endpoint is missing only if
        # deleted by hand) and a ticket is retried for 20 x 3 minutes before it is
        # dead-lettered (nothing is lost: the dead-letter queue alarms and can be redriven).
        managed = settings.endpoint_policy.scales_down
        tickets = QueueWithDlq(
            self,
            "TicketQueue",
            visibility_timeout=Duration.seconds(6 * 30),
            max_receive_count=20,
            retention=Duration.days(14),
            alarm_topic=alarms,
        )
        feed = classifier.add_queue_trigger(tickets.queue, batch_size=10, enabled=not managed)
        classifier.function.add_environment("TICKET_QUEUE_URL", tickets.queue.queue_url)
        classifier.add_to_policy(
            iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[tickets.queue.queue_arn])
        )
        keeper = EndpointKeeper(
            self,
            "EndpointKeeper",
            policy=settings.endpoint_policy,
            endpoint_arns=endpoints,
            model_arns=versions,
            queue=tickets.queue if managed else None,
            queue_feed=feed if managed else None,
            alarm_topic=alarms,
        )
        keeper.grant_caller(classifier)
        for version in versions:
            acknowledge(
                keeper.function.role.node.find_child("DefaultPolicy"),
                f"AwsSolutions-IAM5[Resource::{_nag_arn(version)}]",
                "The keeper recreates an endpoint with whichever version the training promoted.",
            )
        CfnOutput(self, "TicketQueueUrl", value=tickets.queue.queue_url)
        poll_seconds = 60
        workflow = AslStateMachine(
            self,
            "TrainingWorkflow",
            definition_file="ticket_classification_training.asl.json",
            substitutions={
                "ClassifierPrefix": prefix,
                "TrainingBucket": bucket.bucket_name,
                "DataAccessRoleArn": data_access.role_arn,
                "ParameterPrefix": f"/{construct_id}",
                "PollSeconds": poll_seconds,
                "MaxTrainingPolls": 6 * 3600 // poll_seconds,
                "MaxEndpointPolls": 3600 // poll_seconds,
                "InferenceUnits": 1,
                "StackName": Aws.STACK_NAME,
                "KeeperFunctionArn": keeper.function_arn,
            },
            sdk_resources={
                "comprehend:CreateDocumentClassifier": versions,
                "comprehend:DescribeDocumentClassifier": versions,
                "comprehend:CreateEndpoint": [*endpoints, *versions],
                # The reference authorizes UpdateEndpoint on the endpoint alone.
                "comprehend:UpdateEndpoint": endpoints,
                "comprehend:DescribeEndpoint": endpoints,
                "ssm:GetParameter": parameters,
                "ssm:PutParameter": parameters,
            },
            pass_roles=[data_access],
            timeout=Duration.hours(8),
        )
        for version in versions:
            acknowledge(
                workflow.role.node.find_child("DefaultPolicy"),
                f"AwsSolutions-IAM5[Resource::{_nag_arn(version)}]",
                "Each training run creates a classifier version named after its execution.",
            )
        # Tags given on create are authorized as comprehend:TagResource.
        workflow.role.add_to_policy(
            iam.PolicyStatement(
                actions=["comprehend:TagResource"], resources=[*endpoints, *versions]
            )
        )
        # On stack deletion: both endpoints and every classifier version the runs trained.
        RuntimeCleanup(
            self,
            "RuntimeCleanup",
            comprehend_endpoint_arns=endpoints,
            comprehend_classifier_names=[f"{prefix}-{role}" for role in roles],
            protects=[workflow, keeper],
        )
        CfnOutput(self, "TrainingBucketName", value=bucket.bucket_name)
        CfnOutput(self, "TrainingStateMachineArn", value=workflow.state_machine_arn)
        return endpoints


def _nag_arn(arn: str) -> str:
    """An ARN as cdk-nag names it in a finding (pseudo parameters in angle brackets)."""
    return (
        arn.replace(Aws.PARTITION, "<AWS::Partition>")
        .replace(Aws.REGION, "<AWS::Region>")
        .replace(Aws.ACCOUNT_ID, "<AWS::AccountId>")
    )


def s3_expiry(days: int) -> s3.LifecycleRule:
    """Staged records are in the warehouse once COPY succeeded; keep them a month for replay."""
    return s3.LifecycleRule(id="ExpireStagedRecords", expiration=Duration.days(days))
