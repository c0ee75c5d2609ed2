"""The endpoint keeper of a stack's run-time Comprehend endpoints (see
`lambdas/endpoint_keeper/keeper.py` and `lambdas/shared/endpoint_policy.py`).

    keeper = EndpointKeeper(self, "EndpointKeeper", policy=settings.endpoint_policy,
                            endpoint_arns=[endpoint_arn], model_arns=classifier_arns,
                            alarm_topic=topic)
    keeper.grant_caller(api)   # record use, ask for a wake-up

A table holds the callers' last use, wake-up requests and the keeper's memory; the keeper runs
every minute for `scale-to-zero` (only while an endpoint exists or work waits) and `schedule`
(`always-on` needs no schedule), on each wake-up request, and at an idle endpoint's deadline:
a message it sends itself on its deadline queue, delayed until then (with a dead-letter queue
whose alarm goes to `alarm_topic`). Its role gets exactly the calls the keeper makes.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from lambdas.shared.endpoint_policy import SCALE_TO_ZERO, EndpointPolicy
from stacks.constructs.python_function import PythonFunction
from stacks.constructs.queue_with_dlq import QueueWithDlq
from stacks.constructs.topic import NotificationTopic

# Comprehend publishes no creation time for a custom endpoint; callers are told to come back
# after this long, and the keeper weighs a recreation against keeping an endpoint by it.
WARM_UP_SECONDS = 600


class EndpointKeeper(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        policy: EndpointPolicy,
        endpoint_arns: Sequence[str],
        model_arns: Sequence[str],
        queue: sqs.IQueue | None = None,
        queue_feed: lambda_.EventSourceMapping | None = None,
        alarm_topic: NotificationTopic | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.policy = policy
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name="endpoint", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            # Last uses and the keeper's memory only: nothing to keep after the stack.
            removal_policy=RemovalPolicy.DESTROY,
        )
        environment = {
            "KEEPER_TABLE": self.table.table_name,
            "ENDPOINT_ARNS": ",".join(endpoint_arns),
            "ENDPOINT_POLICY": policy.as_json(),
            "WARM_UP_SECONDS": str(WARM_UP_SECONDS),
            "STACK_NAME": Aws.STACK_NAME,
        }
        if queue is not None and queue_feed is not None:
            environment["QUEUE_URL"] = queue.queue_url
            environment["EVENT_SOURCE_MAPPING"] = queue_feed.event_source_mapping_id
        scheduled = policy.scales_down
        # The function and its rule are named after the stack (so stages stay apart): the
        # keeper switches its own rule and its callers invoke it by name, and generated names
        # would make them depend on each other (the ticket classifier invokes the keeper,
        # which switches the classifier's queue feed).
        self.name = f"{Stack.of(self).stack_name}-{construct_id}"[:64]
        rule_arn = f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{Aws.ACCOUNT_ID}:rule/{self.name}"
        self.arn = f"arn:{Aws.PARTITION}:lambda:{Aws.REGION}:{Aws.ACCOUNT_ID}:function:{self.name}"
        if scheduled and policy.mode == SCALE_TO_ZERO:
            environment["RULE_NAME"] = self.name
        self.deadlines: QueueWithDlq | None = None
        if scheduled:
            if alarm_topic is None:
                raise ValueError("a keeper that deletes endpoints needs an alarm_topic")
            # Runs at idle deadlines (SQS DelaySeconds, up to 15 minutes). Nothing to keep
            # beyond a few retries: the schedule's next run decides as well.
            self.deadlines = QueueWithDlq(
                self,
                "Deadlines",
                visibility_timeout=Duration.seconds(6 * 60),
                alarm_topic=alarm_topic,
            )
            environment["DEADLINE_QUEUE_URL"] = self.deadlines.queue.queue_url
        self.function = PythonFunction(
            self,
            "Keeper",
            workflow="endpoint_keeper",
            handler="keeper.handler",
            description="Deletes idle Comprehend endpoints and recreates them on demand",
            environment=environment,
            timeout=Duration.seconds(60),
            # No reserved concurrency (a new account's quota leaves none to reserve): two runs
            # at once are harmless, as a create carries a token and a busy endpoint is left
            # to the next run.
            function_name=self.name,
        )
        self.function.add_to_policy(
            iam.PolicyStatement(
                actions=["dynamodb:GetItem", "dynamodb:UpdateItem"],
                resources=[self.table.table_arn],
            ),
            iam.PolicyStatement(
                actions=["comprehend:DescribeEndpoint", "comprehend:DeleteEndpoint"],
                resources=list(endpoint_arns),
            ),
            # CreateEndpoint is authorized on the endpoint and the model; tags given on
            # create are authorized as TagResource.
            iam.PolicyStatement(
                actions=["comprehend:CreateEndpoint"],
                resources=[*endpoint_arns, *model_arns],
            ),
            iam.PolicyStatement(actions=["comprehend:TagResource"], resources=list(endpoint_arns)),
        )
        if queue is not None and queue_feed is not None:
            self.function.add_to_policy(
                iam.PolicyStatement(
                    actions=["sqs:GetQueueAttributes"], resources=[queue.queue_arn]
                ),
                iam.PolicyStatement(
                    actions=["lambda:GetEventSourceMapping", "lambda:UpdateEventSourceMapping"],
                    resources=[queue_feed.event_source_mapping_arn],
                ),
            )
        if self.deadlines is not None:
            self.function.add_queue_trigger(self.deadlines.queue, batch_size=10)
            self.function.add_to_policy(
                iam.PolicyStatement(
                    actions=["sqs:SendMessage"], resources=[self.deadlines.queue.queue_arn]
                )
            )
        self.rule: events.Rule | None = None
        if scheduled:
            self.rule = events.Rule(
                self,
                "Schedule",
                rule_name=self.name,
                description="Runs the endpoint keeper every minute",
                schedule=events.Schedule.rate(Duration.minutes(1)),
            )
            if "RULE_NAME" in environment:
                self.function.add_to_policy(
                    iam.PolicyStatement(
                        actions=["events:DescribeRule", "events:EnableRule", "events:DisableRule"],
                        resources=[rule_arn],
                    )
                )
            self.rule.add_target(targets.LambdaFunction(self.function.function, retry_attempts=0))

    @property
    def function_arn(self) -> str:
        return self.function.function_arn  # a reference: the resources in the keeper's stack

    def grant_caller(self, caller: PythonFunction) -> None:
        """Let a function record its use of the endpoints and ask for a deleted one."""
        caller.function.add_environment("KEEPER_TABLE", self.table.table_name)
        caller.function.add_environment("KEEPER_FUNCTION", self.name)
        caller.function.add_environment("WARM_UP_SECONDS", str(WARM_UP_SECONDS))
        caller.add_to_policy(
            iam.PolicyStatement(
                actions=["dynamodb:UpdateItem", "dynamodb:GetItem"],
                resources=[self.table.table_arn],
            ),
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[self.arn]),
        )
