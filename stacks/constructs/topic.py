"""SNS topic for a workflow's notifications and alarms, optionally with an email subscription."""

from __future__ import annotations

from aws_cdk import Aws, CfnOutput
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from stacks.constructs.acknowledge import acknowledge

CLOUDWATCH = iam.ServicePrincipal("cloudwatch.amazonaws.com")


class NotificationTopic(sns.Topic):
    """A TLS-only topic. `enforce_ssl` gives it a topic policy, and a topic policy replaces
    SNS's default one, so whoever publishes without an IAM identity policy of its own must be
    allowed here: `notify_on_alarm` adds CloudWatch, for exactly the alarms that use the topic.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        email: str | None = None,
        master_key: kms.IKey | None = None,
    ) -> None:
        super().__init__(scope, construct_id, enforce_ssl=True, master_key=master_key)
        if email:
            self.add_subscription(subscriptions.EmailSubscription(email))
        self._key = master_key
        self._alarm_arns: list[str] = []
        self._alarm_statements: list[iam.PolicyStatement] = []
        if master_key is None:
            acknowledge(
                self,
                "AwsSolutions-SNS2",
                "Notifications carry only run summaries (object names and counts). CloudWatch "
                "alarms publish here, and they cannot use the AWS managed SNS key; a customer "
                "managed key would add a monthly cost for no protected data. TLS is enforced.",
            )

    def notify_on_alarm(self, alarm: cloudwatch.Alarm) -> None:
        """Send the alarm's ALARM notifications here. CloudWatch publishes as its service
        principal; the grant names this alarm's ARN (`aws:SourceArn`) and the account
        (`aws:SourceAccount`), as AWS recommends against the confused deputy
        (https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-use-cases.html). With a
        KMS key, CloudWatch also needs `kms:GenerateDataKey*` and `kms:Decrypt` on it
        (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html)."""
        alarm.add_alarm_action(actions.SnsAction(self))
        self._alarm_arns.append(alarm.alarm_arn)
        if not self._alarm_statements:
            self._alarm_statements.append(
                iam.PolicyStatement(
                    sid="AllowAlarmNotifications",
                    principals=[CLOUDWATCH],
                    actions=["sns:Publish"],
                    resources=[self.topic_arn],
                )
            )
            self.add_to_resource_policy(self._alarm_statements[0])
            if self._key is not None:
                self._alarm_statements.append(
                    iam.PolicyStatement(
                        sid="AllowAlarmNotificationsToEncryptedTopic",
                        principals=[CLOUDWATCH],
                        actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                        resources=["*"],  # in a key policy, "*" is the key itself
                    )
                )
                self._key.add_to_resource_policy(self._alarm_statements[1])
        for statement in self._alarm_statements:
            # The last condition added on a key wins, so each call names every alarm so far.
            statement.add_condition("ArnEquals", {"aws:SourceArn": list(self._alarm_arns)})
            statement.add_condition("StringEquals", {"aws:SourceAccount": Aws.ACCOUNT_ID})


def operator_alarm_topic(scope: Construct) -> NotificationTopic:
    """The topic the stack's dead-letter alarms notify; an operator subscribes to it by the
    `AlarmTopicArn` output."""
    topic = NotificationTopic(scope, "AlarmNotifications")
    CfnOutput(scope, "AlarmTopicArn", value=topic.topic_arn)
    return topic
