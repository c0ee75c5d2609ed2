"""What a caller of a kept endpoint tells its keeper: that it used the endpoint, and that it
needs a deleted one back.

    usage = EndpointUsage.from_settings(dynamodb, lambda_client, table, keeper, warm_up)
    usage.record_use(endpoint_arn)            # at most one write a minute per endpoint
    retry_after = usage.wake(endpoint_arn)    # asks once; every caller learns the wait left

The keeper's table has one item per endpoint (key `endpoint`, the endpoint's name): callers
set `lastUsed` (epoch seconds) and, when the endpoint is gone, `wakeRequested`. Only the
first caller's conditional write succeeds and invokes the keeper (asynchronously); the keeper
removes `wakeRequested` once the endpoint serves. An empty table name turns all of this off
(an endpoint the stack does not manage).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any, Final

from botocore.exceptions import ClientError

from lambdas.shared.s3 import error_code

USE_WRITE_SECONDS: Final = 60.0
MIN_RETRY_AFTER_SECONDS: Final = 30
# Errors of a call to an endpoint that does not exist (deleted while idle) or does not serve
# yet (CREATING): ClassifyDocument's modelled errors.
ENDPOINT_DOWN_ERRORS: Final = frozenset(
    {"ResourceNotFoundException", "ResourceUnavailableException"}
)


def _now() -> float:
    # The module's `time` at call time (the local cloud hands it its clock).
    return time.time()


def endpoint_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


class EndpointAsleepError(Exception):
    """The endpoint is being (re)created; the caller should come back in `retry_after` s."""

    def __init__(self, endpoint: str, retry_after: int) -> None:
        super().__init__(
            f"the endpoint {endpoint} is starting (it is deleted while idle and recreated on "
            f"demand); retry in {retry_after} seconds"
        )
        self.endpoint = endpoint
        self.retry_after = retry_after


class EndpointUsage:
    # Per execution environment: when each endpoint's use was last written.
    _written: dict[str, float] = {}
    _lock = threading.Lock()

    def __init__(
        self,
        dynamodb: Any,
        lambda_client: Any,
        table: str,
        keeper_function: str,
        warm_up_seconds: int,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.dynamodb = dynamodb
        self.lambda_client = lambda_client
        self.table = table
        self.keeper_function = keeper_function
        self.warm_up_seconds = warm_up_seconds
        self.clock = clock or _now

    @property
    def enabled(self) -> bool:
        return bool(self.table)

    def record_use(self, arn: str) -> None:
        if not self.enabled:
            return
        name, now = endpoint_name(arn), self.clock()
        with self._lock:
            if now - self._written.get(name, float("-inf")) < USE_WRITE_SECONDS:
                return
            self._written[name] = now
        self.dynamodb.update_item(
            TableName=self.table,
            Key={"endpoint": {"S": name}},
            UpdateExpression="SET lastUsed = :now",
            ExpressionAttributeValues={":now": {"N": f"{now:.3f}"}},
        )

    def wake(self, arn: str) -> int:
        """Ask the keeper for the endpoint (once for all callers); the seconds to wait."""
        name, now = endpoint_name(arn), self.clock()
        try:
            self.dynamodb.update_item(
                TableName=self.table,
                Key={"endpoint": {"S": name}},
                UpdateExpression="SET wakeRequested = :now, lastUsed = :now",
                ConditionExpression="attribute_not_exists(wakeRequested)",
                ExpressionAttributeValues={":now": {"N": f"{now:.3f}"}},
            )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise
            item = self.dynamodb.get_item(
                TableName=self.table, Key={"endpoint": {"S": name}}, ConsistentRead=True
            ).get("Item", {})
            requested = float(item.get("wakeRequested", {}).get("N", now))
            return max(MIN_RETRY_AFTER_SECONDS, round(self.warm_up_seconds - (now - requested)))
        self.lambda_client.invoke(
            FunctionName=self.keeper_function,
            InvocationType="Event",
            Payload=json.dumps({"wake": name}).encode(),
        )
        return max(MIN_RETRY_AFTER_SECONDS, self.warm_up_seconds)
