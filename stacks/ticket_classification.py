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
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_redshift as redshift
from aws_cdk import aws_redshiftserverless as redshiftserverless
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from lambdas.ticket_classification.warehouse import COLUMNS, DDL, TABLE
from stacks import stack_digest
from stacks.config import TicketSettings
from stacks.constructs import (
    AccessLogsBucket,
    AslStateMachine,
    NotificationTopic,
    PythonFunction,
    QueueWithDlq,
    SecureBucket,
)
from stacks.constructs.acknowledge import acknowledge, acknowledge_wildcards
from stacks.constructs.arns import service_arn
from stacks.constructs.delivery_stream import ENCRYPTION, DeliveryLogs, DeliveryRole
from stacks.constructs.endpoint_keeper import EndpointKeeper
from stacks.constructs.outputs import add_outputs
from stacks.constructs.python_function import WorkflowFunctions
from stacks.constructs.runtime_cleanup import RuntimeCleanup
from stacks.constructs.service_role import DataAccessRole
from stacks.constructs.table import WorkflowTable
from stacks.constructs.topic import operator_alarm_topic

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
        warehouse_name = f"tickets-{stack_digest(construct_id)}"
        self._functions = WorkflowFunctions(self, WORKFLOW)
        endpoint_parameters = self._endpoint_parameters(construct_id, settings)
        secret = self._admin_secret(settings)
        if settings.warehouse == "provisioned":
            warehouse = self._cluster(warehouse_name, settings, secret)
        else:
            warehouse = self._serverless(warehouse_name, settings, secret)
        table = self._tickets_table(settings, secret, warehouse)
        access_logs = AccessLogsBucket(self, "AccessLogs")
        staging = SecureBucket(
            self,
            "StagingBucket",
            access_logs=access_logs,
            noncurrent_days=7,
            lifecycle_rules=[s3_expiry(30)],
        )
        stream = self._delivery_stream(settings, secret, warehouse, staging)
        stream.node.add_dependency(table)

        # The ticket table; the classifier hands each ticket to the handler asynchronously,
        # and what the handler fails on waits in a dead-letter queue.
        tickets = WorkflowTable(self, "TicketTable", partition_key="ticketId")
        handler = self._functions.add(
            "TicketHandler",
            "ticket_handler",
            "Records the recommended materials of a classified ticket",
            environment={"TICKET_TABLE": tickets.table_name},
        )
        handler.add_to_policy(
            iam.PolicyStatement(actions=["dynamodb:UpdateItem"], resources=[tickets.table_arn])
        )
        alarms = operator_alarm_topic(self)
        failures = QueueWithDlq(
            self,
            "HandlerFailures",
            visibility_timeout=Duration.minutes(5),
            retention=Duration.days(14),
            alarm_topic=alarms,
        )
        lambda_.EventInvokeConfig(
            self,
            "TicketHandlerAsync",
            function=handler.function,
            max_event_age=Duration.hours(6),
            retry_attempts=2,
            on_failure=destinations.SqsDestination(failures.queue),
        )
        classifier = self._classifier(tickets, stream, handler, endpoint_parameters)
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

        warehouse_output = (
            "ClusterIdentifier" if settings.warehouse == "provisioned" else "WorkgroupName"
        )
        add_outputs(
            self,
            ClassifierFunctionName=classifier.function.function_name,
            HandlerFunctionName=handler.function.function_name,
            TicketTableName=tickets.table_name,
            DeliveryStreamName=stream.ref,
            StagingBucketName=staging.bucket_name,
            **{warehouse_output: warehouse_name},
            DatabaseName=settings.database,
            AdminSecretArn=secret.secret_arn,
            HandlerFailureQueueUrl=failures.queue.queue_url,
            **{
                f"{role.capitalize()}EndpointParameterName": parameter.parameter_name
                for role, parameter in endpoint_parameters.items()
            },
        )

    def _endpoint_parameters(
        self, construct_id: str, settings: TicketSettings
    ) -> dict[str, ssm.StringParameter]:
        """The endpoints' ARNs in SSM, from context or set after deploying the endpoints."""
        return {
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

    def _admin_secret(self, settings: TicketSettings) -> secretsmanager.Secret:
        """The warehouse's admin credentials, with a generated password."""
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
        return secret

    def _tickets_table(
        self, settings: TicketSettings, secret: secretsmanager.Secret, warehouse: _Warehouse
    ) -> CustomResource:
        """The tickets table and view, created through the Redshift Data API."""
        table_setup = self._functions.add(
            "TableSetup",
            "table_setup",
            "Creates the tickets table and view through the Redshift Data API",
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
        return table

    def _delivery_stream(
        self,
        settings: TicketSettings,
        secret: secretsmanager.Secret,
        warehouse: _Warehouse,
        staging: SecureBucket,
    ) -> firehose.CfnDeliveryStream:
        """Firehose: records staged in S3, then COPYed into ticket_records."""
        delivery_logs = DeliveryLogs(
            self, "DeliveryLogs", stream_id="DeliveryLogStream", stream_name="RedshiftDelivery"
        )
        role = DeliveryRole(
            self,
            "DeliveryRole",
            description="Lets Firehose stage ticket records in S3 and COPY them into Redshift",
            source_account=Aws.ACCOUNT_ID,
        )
        # The documented permissions of a Firehose role for an S3 (staging) destination.
        role.grant_s3_destination(staging, "*")
        secret.grant_read(role)
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:PutLogEvents"],
                # The group's Arn attribute ends in ":*" and is a token at synth time, so the
                # stream's ARN is built from the group's name.
                resources=[
                    self.format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name=f"{delivery_logs.log_group_name}:log-stream:"
                        f"{delivery_logs.stream.log_stream_name}",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            )
        )
        acknowledge(
            role.node.find_child("DefaultPolicy"),
            f"AwsSolutions-IAM5[Resource::<{self.get_logical_id(staging.node.default_child)}"  # type: ignore[arg-type]
            ".Arn>/*]",
            "Firehose writes staging objects under time-based keys it chooses at delivery; "
            "the bucket holds nothing else.",
        )
        return firehose.CfnDeliveryStream(
            self,
            "DeliveryStream",
            delivery_stream_type="DirectPut",
            delivery_stream_encryption_configuration_input=ENCRYPTION,
            redshift_destination_configuration=firehose.CfnDeliveryStream.RedshiftDestinationConfigurationProperty(
                cluster_jdbcurl=warehouse.jdbc_url,
                role_arn=role.role_arn,
                copy_command=firehose.CfnDeliveryStream.CopyCommandProperty(
                    data_table_name=TABLE,
                    data_table_columns=",".join(COLUMNS),
                    copy_options=COPY_OPTIONS,
                ),
                secrets_manager_configuration=firehose.CfnDeliveryStream.SecretsManagerConfigurationProperty(
                    enabled=True, secret_arn=secret.secret_arn, role_arn=role.role_arn
                ),
                retry_options=firehose.CfnDeliveryStream.RedshiftRetryOptionsProperty(
                    duration_in_seconds=settings.retry_seconds
                ),
                s3_configuration=firehose.CfnDeliveryStream.S3DestinationConfigurationProperty(
                    bucket_arn=staging.bucket_arn,
                    role_arn=role.role_arn,
                    prefix="staging/",
                    error_output_prefix="errors/",
                    compression_format="UNCOMPRESSED",
                    buffering_hints=firehose.CfnDeliveryStream.BufferingHintsProperty(
                        interval_in_seconds=settings.buffer_seconds,
                        size_in_m_bs=settings.buffer_megabytes,
                    ),
                    cloud_watch_logging_options=delivery_logs.logging_options,
                ),
                cloud_watch_logging_options=delivery_logs.logging_options,
            ),
        )

    def _classifier(
        self,
        tickets: WorkflowTable,
        stream: firehose.CfnDeliveryStream,
        handler: PythonFunction,
        endpoint_parameters: dict[str, ssm.StringParameter],
    ) -> PythonFunction:
        classifier = self._functions.add(
            "TicketClassifier",
            "classifier",
            "Classifies a support ticket by operation and resource",
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
        return classifier

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
        comprehend = service_arn("comprehend")
        roles = ("operation", "resource")
        versions = [f"{comprehend}:document-classifier/{prefix}-{role}/version/*" for role in roles]
        endpoints = [f"{comprehend}:document-classifier-endpoint/{prefix}-{role}" for role in roles]
        parameters = [p.parameter_arn for p in endpoint_parameters.values()]
        bucket = SecureBucket(self, "TrainingBucket", access_logs=access_logs)
        data_access = DataAccessRole(
            self,
            "ComprehendDataAccessRole",
            service="comprehend",
            description="Lets Comprehend read the ticket training data",
            bucket=bucket,
            reads="training/*",
        )
        keeper = self._endpoint_keeper(classifier, alarms, settings, endpoints, versions)
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
        acknowledge_wildcards(
            workflow.role,
            "Each training run creates a classifier version named after its execution.",
            *versions,
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
        add_outputs(
            self,
            TrainingBucketName=bucket.bucket_name,
            TrainingStateMachineArn=workflow.state_machine_arn,
        )
        return endpoints

    def _endpoint_keeper(
        self,
        classifier: PythonFunction,
        alarms: NotificationTopic,
        settings: TicketSettings,
        endpoints: list[str],
        versions: list[str],
    ) -> EndpointKeeper:
        """The keeper of the trained endpoints, and the queue where tickets wait for them."""
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
        acknowledge_wildcards(
            keeper.function.role,
            "The keeper recreates an endpoint with whichever version the training promoted.",
            *versions,
        )
        CfnOutput(self, "TicketQueueUrl", value=tickets.queue.queue_url)
        return keeper


def s3_expiry(days: int) -> s3.LifecycleRule:
    """Staged records are in the warehouse once COPY succeeded; keep them a month for replay."""
    return s3.LifecycleRule(id="ExpireStagedRecords", expiration=Duration.days(days))
