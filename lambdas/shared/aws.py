"""boto3 clients for a handler module, created on first use and reused across invocations.

Each handler module owns its cache (`clients = ClientCache()` at module level): a client is
created inside the first invocation that needs it, with that function's credentials, and kept
warm for the next invocations of the same execution environment.

Also what several handlers ask of a client the same way: a queue's depth, a conditional
DynamoDB write.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from lambdas.shared.s3 import error_code

# Standard retry mode backs off on throttling (TooManyRequestsException, SlowDown, ...);
# what still fails after that reaches the caller's retry policy (SQS redrive, Step Functions).
STANDARD_RETRIES = Config(retries={"mode": "standard", "max_attempts": 8})


class ClientCache:
    def __init__(self, config: Config = STANDARD_RETRIES) -> None:
        self._config = config
        self._clients: dict[str, Any] = {}

    def __call__(self, service: str) -> Any:
        client = self._clients.get(service)
        if client is None:
            client = boto3.client(service, config=self._config)
            self._clients[service] = client
        return client

    def clear(self) -> None:
        self._clients.clear()


# Waiting, in flight and delayed: every message a queue still holds.
QUEUE_DEPTH_ATTRIBUTES = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)


def queue_depth(sqs: Any, queue_url: str) -> int:
    """The messages a queue holds, whatever their state (`sqs` is a boto3 SQS client)."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=list(QUEUE_DEPTH_ATTRIBUTES)
    )["Attributes"]
    return sum(int(attributes.get(name, 0)) for name in QUEUE_DEPTH_ATTRIBUTES)


def conditional_write(write: Callable[..., Any], **request: Any) -> bool:
    """Make a conditional DynamoDB write (`write` is a client's `put_item`, `update_item` or
    `delete_item`); False, with nothing written, when its condition does not hold."""
    try:
        write(**request)
    except ClientError as error:
        if error_code(error) != "ConditionalCheckFailedException":
            raise
        return False
    return True
