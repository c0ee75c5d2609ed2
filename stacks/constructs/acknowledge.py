"""One helper for cdk-nag acknowledgments, so every one of them carries a reason."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Aws, Validations
from aws_cdk import aws_iam as iam
from constructs import Construct, IConstruct


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding (`AwsSolutions-IAM5[Resource::...]`) on one construct."""
    if len(reason) < 20:
        raise ValueError(f"an acknowledgment of {rule} needs a reason a reviewer can check")
    Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))


def nag_arn(arn: str) -> str:
    """An ARN as cdk-nag names it in a finding (pseudo parameters in angle brackets)."""
    return (
        arn.replace(Aws.PARTITION, "<AWS::Partition>")
        .replace(Aws.REGION, "<AWS::Region>")
        .replace(Aws.ACCOUNT_ID, "<AWS::AccountId>")
    )


def acknowledge_wildcards(role: IConstruct, reason: str, *arns: str) -> None:
    """Acknowledge the wildcard resources `arns` in `role`'s default policy (AwsSolutions-IAM5),
    for names that exist only at run time."""
    for arn in arns:
        acknowledge(
            role.node.find_child("DefaultPolicy"),
            f"AwsSolutions-IAM5[Resource::{nag_arn(arn)}]",
            reason,
        )


def unscoped_policy(
    scope: Construct, construct_id: str, role: iam.IRole, actions: list[str], reason: str
) -> iam.Policy:
    """Grant `role` actions that AWS authorizes only on `Resource: "*"`, in a policy of their
    own so the cdk-nag acknowledgment names exactly these actions and why."""
    policy = iam.Policy(
        scope, construct_id, statements=[iam.PolicyStatement(actions=actions, resources=["*"])]
    )
    policy.attach_to_role(role)
    acknowledge(policy, "AwsSolutions-IAM5[Resource::*]", reason)
    return policy


def acknowledge_bucket_notifications_handler(stack: IConstruct) -> None:
    """aws-cdk-lib configures bucket notifications through its own singleton custom resource
    function, whose role it defines with the basic execution managed policy."""
    for child in stack.node.children:
        if child.node.id.startswith("BucketNotificationsHandler"):
            acknowledge(
                child.node.find_child("Role"),
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
                "service-role/AWSLambdaBasicExecutionRole]",
                "aws-cdk-lib's bucket-notification custom resource handler; the library "
                "defines its role, which only writes that handler's own logs.",
            )
