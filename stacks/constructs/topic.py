"""SNS topic for a workflow's notifications, optionally with an email subscription."""

from __future__ import annotations

from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from stacks.constructs.acknowledge import acknowledge


class NotificationTopic(sns.Topic):
    def __init__(self, scope: Construct, construct_id: str, *, email: str | None = None) -> None:
        super().__init__(scope, construct_id, enforce_ssl=True)
        if email:
            self.add_subscription(subscriptions.EmailSubscription(email))
        acknowledge(
            self,
            "AwsSolutions-SNS2",
            "Notifications carry only run summaries (object names and counts). CloudWatch "
            "alarms publish here, and they cannot use the AWS managed SNS key; a customer "
            "managed key would add a monthly cost for no protected data. TLS is enforced.",
        )
