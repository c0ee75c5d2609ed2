"""Reading what a workflow left in an account: the keys in a bucket, a state machine's
executions."""

from __future__ import annotations

from typing import Any


def object_keys(s3: Any, bucket: str, prefix: str = "") -> list[str]:
    """Every key under `prefix`, in the order S3 lists them."""
    paginator = s3.get_paginator("list_objects_v2")
    return [
        entry["Key"]
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
        for entry in page.get("Contents", [])
    ]


def described_executions(sfn: Any, state_machine_arn: str) -> list[dict[str, Any]]:
    """Every execution of a state machine, as DescribeExecution answers for it."""
    paginator = sfn.get_paginator("list_executions")
    return [
        sfn.describe_execution(executionArn=execution["executionArn"])
        for page in paginator.paginate(stateMachineArn=state_machine_arn)
        for execution in page["executions"]
    ]
