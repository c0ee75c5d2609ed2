"""ARNs of resources the workflows create at run time, which no construct can reference."""

from __future__ import annotations

from aws_cdk import Aws


def service_arn(service: str) -> str:
    """`arn:<partition>:<service>:<region>:<account>`, the prefix of the stack's resources of
    `service`; append `:<resource type>/<name>`."""
    return f"arn:{Aws.PARTITION}:{service}:{Aws.REGION}:{Aws.ACCOUNT_ID}"
