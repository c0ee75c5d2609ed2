"""What a caller of a kept endpoint tells its keeper: that it used the endpoint, and that it
needs a deleted one back.

    usage = EndpointUsage.from_settings(dynamodb, lambda_client, table, keeper, warm_up)
    usage.record_use(endpoint_arn)            # at most one write every 10 s per endpoint
    retry_after = usage.wake(endpoint_arn)    # asks once; every caller learns the wait left

The keeper's table has one item per endpoint (key `endpoint`, the endpoint's name): callers
set `lastUsed` (epoch seconds) and, when the endpoint is gone, `wakeRequested` and
`retryDue`, the latest time a caller was told to come back (the keeper keeps a recreated
endpoint for them until then). Only the first caller's conditional write of `wakeRequested`
succeeds and invokes the keeper (asynchronously); the keeper removes `wakeRequested` once the
endpoint serves. An empty table name turns all of this off (an endpoint the stack does not
manage).

What the use record costs: a busy caller writes `lastUsed` at most every
`USE_RECORD_SECONDS` per execution environment, 8,640 writes a day (one write request unit
each, the item is small), USD 0.0054 a day at USD 0.625 per million on-demand writes
(<https://aws.amazon.com/dynamodb/pricing/on-demand/>); a minute's throttle wrote 1,440.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from typing import Any, Final

from lambdas.shared.aws import conditional_write
from lambdas.shared.endpoint_policy import USE_RECORD_SECONDS

# Once the warm-up a caller was promised has passed and the endpoint does not serve yet, it is
# asked back this often; the keeper looks as often at an endpoint still being deleted
# (`endpoint_policy.DELETING_POLL_SECONDS`). A longer floor would keep a recreated endpoint, idle,
# for callers told to come back later than it serves.
MIN_RETRY_AFTER_SECONDS: Final = 10
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


def retry_after_seconds(warm_up_seconds: float, requested: float, now: float) -> int:
    """What a caller is told to wait: the warm-up left since the wake-up request, rounded up
    (told a second less, a caller comes back just before the endpoint serves and waits
    another `MIN_RETRY_AFTER_SECONDS`), at least `MIN_RETRY_AFTER_SECONDS`."""
    return max(MIN_RETRY_AFTER_SECONDS, math.ceil(warm_up_seconds - (now - requested)))


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
            if now - self._written.get(name, float("-inf")) < USE_RECORD_SECONDS:
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
        retry_after = retry_after_seconds(self.warm_up_seconds, now, now)
        if not conditional_write(
            self.dynamodb.update_item,
            TableName=self.table,
            Key={"endpoint": {"S": name}},
            UpdateExpression="SET wakeRequested = :now, lastUsed = :now, retryDue = :due",
            ConditionExpression="attribute_not_exists(wakeRequested)",
            ExpressionAttributeValues={
                ":now": {"N": f"{now:.3f}"},
                ":due": {"N": f"{now + retry_after:.3f}"},
            },
        ):
            item = self.dynamodb.get_item(
                TableName=self.table, Key={"endpoint": {"S": name}}, ConsistentRead=True
            ).get("Item", {})
            requested = float(item.get("wakeRequested", {}).get("N", now))
            retry_after = retry_after_seconds(self.warm_up_seconds, requested, now)
            self._promise(name, now + retry_after)
            return retry_after
        self.lambda_client.invoke(
            FunctionName=self.keeper_function,
            InvocationType="Event",
            Payload=json.dumps({"wake": name}).encode(),
        )
        return retry_after

    def _promise(self, name: str, due: float) -> None:
        """Tell the keeper a caller comes back at `due` (the latest such time stays)."""
        conditional_write(
            self.dynamodb.update_item,
            TableName=self.table,
            Key={"endpoint": {"S": name}},
            UpdateExpression="SET retryDue = :due",
            ConditionExpression="attribute_not_exists(retryDue) OR retryDue < :due",
            ExpressionAttributeValues={":due": {"N": f"{due:.3f}"}},
        )
