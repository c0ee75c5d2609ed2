"""Reading what a workflow left in an account (the keys in a bucket, a state machine's
executions, an endpoint), and waiting for it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError


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


def endpoint_properties(comprehend: Any, arn: str) -> dict[str, Any] | None:
    """A Comprehend endpoint's properties; None once it is gone."""
    try:
        properties: dict[str, Any] = comprehend.describe_endpoint(EndpointArn=arn)[
            "EndpointProperties"
        ]
    except ClientError as error:
        assert error.response["Error"]["Code"] == "ResourceNotFoundException"
        return None
    return properties


def wait_for(condition: Callable[[], bool], seconds: float) -> None:
    """Check `condition` every 50 ms until it holds; fail after `seconds` of real time."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def create_table(dynamodb: Any, name: str, key: str, sort_key: str | None = None) -> None:
    """An on-demand table keyed by string attributes: `key`, and `sort_key` when given."""
    keys = [(key, "HASH")] + ([(sort_key, "RANGE")] if sort_key else [])
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": a, "KeyType": kind} for a, kind in keys],
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a, _ in keys],
        BillingMode="PAY_PER_REQUEST",
    )
