"""One helper for cdk-nag acknowledgments, so every one of them carries a reason."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding (`AwsSolutions-IAM5[Resource::...]`) on one construct."""
    if len(reason) < 20:
        raise ValueError(f"an acknowledgment of {rule} needs a reason a reviewer can check")
    Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))
