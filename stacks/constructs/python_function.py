"""A Python Lambda function with the project's defaults, and the stack's dependency layer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypedDict, Unpack

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.constructs.acknowledge import acknowledge, unscoped_policy
from stacks.constructs.lambda_assets import code_asset_dir, dependency_layer_dir
from stacks.constructs.log_group import WorkflowLogGroup

RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64  # Graviton: about 20% cheaper per GB-second
METRICS_NAMESPACE = "ServerlessMlWorkflows"


def dependency_layer(scope: Construct) -> lambda_.ILayerVersion:
    """The stack's single layer of third-party handler dependencies."""
    stack = Stack.of(scope)
    existing = stack.node.try_find_child("HandlerDependencies")
    if existing is not None:
        return existing  # type: ignore[return-value]
    return lambda_.LayerVersion(
        stack,
        "HandlerDependencies",
        code=lambda_.Code.from_asset(str(dependency_layer_dir())),
        compatible_runtimes=[RUNTIME],
        compatible_architectures=[ARCHITECTURE],
        description="Powertools for AWS Lambda, webvtt-py and their dependencies",
    )


class PythonFunction(Construct):
    """One handler of a workflow package: `PythonFunction(self, "StartBatch",
    workflow="caption_translation", handler="start_batch.handler", ...)`.

    The function gets its own role (no managed policies) with write access to its own log
    group only; callers grant it exactly what its code calls.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        workflow: str,
        handler: str,
        description: str,
        environment: Mapping[str, str] | None = None,
        timeout: Duration = Duration.seconds(30),
        memory_size: int = 256,
        reserved_concurrent_executions: int | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        function_name: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = WorkflowLogGroup(self, "Logs", retention=log_retention)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Execution role of the {construct_id} function",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            function_name=function_name,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=f"lambdas.{workflow}.{handler}",
            code=lambda_.Code.from_asset(str(code_asset_dir(workflow))),
            layers=[dependency_layer(self)],
            role=self.role,
            timeout=timeout,
            memory_size=memory_size,
            reserved_concurrent_executions=reserved_concurrent_executions,
            tracing=lambda_.Tracing.ACTIVE,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
            log_group=self.log_group,
            environment={
                "POWERTOOLS_SERVICE_NAME": workflow,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                **(environment or {}),
            },
        )
        acknowledge(
            self.role.node.find_child("DefaultPolicy"),
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray PutTraceSegments and PutTelemetryRecords support no resource-level "
            "permissions; CDK grants them for active tracing.",
        )

    def add_queue_trigger(
        self,
        queue: sqs.IQueue,
        batch_size: int = 10,
        enabled: bool = True,
        max_concurrency: int | None = None,
    ) -> lambda_.EventSourceMapping:
        """Consume a queue with partial batch responses. The grant is exactly what Lambda's
        poller uses (ReceiveMessage, DeleteMessage, GetQueueAttributes); the L2 event source
        would also grant ChangeMessageVisibility and GetQueueUrl, which nothing here calls."""
        mapping = lambda_.EventSourceMapping(
            self,
            "QueueTrigger",
            target=self.function,
            event_source_arn=queue.queue_arn,
            batch_size=batch_size,
            report_batch_item_failures=True,
            enabled=enabled,
            max_concurrency=max_concurrency,
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
                resources=[queue.queue_arn],
            )
        )
        return mapping

    @property
    def function_arn(self) -> str:
        return self.function.function_arn

    def add_to_policy(self, *statements: iam.PolicyStatement) -> None:
        for statement in statements:
            self.role.add_to_policy(statement)

    def grant_unscoped(self, construct_id: str, actions: list[str], reason: str) -> iam.Policy:
        """Grant actions that AWS authorizes only on `Resource: "*"` (see `unscoped_policy`)."""
        return unscoped_policy(self, construct_id, self.role, actions, reason)


class FunctionOptions(TypedDict, total=False):
    """What `WorkflowFunctions.add` passes on to `PythonFunction`, which holds the defaults."""

    timeout: Duration
    memory_size: int


class WorkflowFunctions:
    """Makes the functions of one handler package that share an environment:

    functions = WorkflowFunctions(self, "caption_translation", environment)
    prepare = functions.add("PrepareBatch", "prepare_batch", "Validates ...", memory_size=1024)
    """

    def __init__(
        self, scope: Construct, workflow: str, environment: Mapping[str, str] | None = None
    ) -> None:
        self.scope = scope
        self.workflow = workflow
        self.environment = dict(environment or {})

    def add(
        self,
        construct_id: str,
        module: str,
        description: str,
        *,
        environment: Mapping[str, str] | None = None,
        **options: Unpack[FunctionOptions],
    ) -> PythonFunction:
        """The function whose handler is `handler` in `lambdas/<workflow>/<module>.py`, with
        `environment` added to the shared one."""
        return PythonFunction(
            self.scope,
            construct_id,
            workflow=self.workflow,
            handler=f"{module}.handler",
            description=description,
            environment={**self.environment, **(environment or {})},
            **options,
        )
