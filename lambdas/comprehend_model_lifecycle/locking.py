"""One training round at a time: a lock item names the execution that holds it.

The intake function records each upload as pending, then tries to take the lock and start an
execution. If another execution holds it, the upload waits (the running execution collects
pending uploads before it releases the lock, and the upload's message is retried by SQS). A
lock whose holder is no longer running (aborted, timed out) is taken over.

Both are conditional writes of their own rather than Powertools idempotency: a pending record
is data the rounds read and mark consumed (not a record of a finished call), and the lock is
held for a whole Step Functions execution, beyond any one invocation, and released by the
state machine.
"""

from __future__ import annotations

import json
from typing import Any

from lambdas.shared.aws import conditional_write

LOCK_KEY = {"pk": {"S": "lock"}, "sk": {"S": "lock"}}


def record_pending(dynamodb: Any, table: str, sort_key: str, key: str, version: str | None) -> bool:
    """Record an upload once; False if it was recorded before (a redelivered event).

    A round marks the uploads it takes as consumed instead of deleting them, so a
    redelivery after that round cannot make the same upload pending again."""
    item = {"pk": {"S": "pending"}, "sk": {"S": sort_key}, "key": {"S": key}}
    if version:
        item["versionId"] = {"S": version}
    return conditional_write(
        dynamodb.put_item,
        TableName=table,
        Item=item,
        ConditionExpression="attribute_not_exists(sk)",
    )


def start_round_if_idle(
    dynamodb: Any, sfn: Any, table: str, state_machine_arn: str, name: str
) -> bool:
    """Take the lock for execution `name` and start it; False if another round is running."""
    if not conditional_write(
        dynamodb.put_item,
        TableName=table,
        Item={**LOCK_KEY, "holder": {"S": name}},
        ConditionExpression="attribute_not_exists(pk)",
    ) and not _take_over_stale_lock(dynamodb, sfn, table, state_machine_arn, name):
        return False
    try:
        sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=json.dumps({}))
    except sfn.exceptions.ExecutionAlreadyExists:
        return True
    except Exception:
        release(dynamodb, table, name)
        raise
    return True


def _take_over_stale_lock(
    dynamodb: Any, sfn: Any, table: str, state_machine_arn: str, name: str
) -> bool:
    item = dynamodb.get_item(TableName=table, Key=LOCK_KEY, ConsistentRead=True).get("Item")
    if item is None:
        return False  # released just now; the retried message will take it
    holder = item["holder"]["S"]
    if holder == name:
        return True  # this execution's own lock, from an earlier delivery
    execution_arn = state_machine_arn.replace(":stateMachine:", ":execution:") + f":{holder}"
    try:
        status = sfn.describe_execution(executionArn=execution_arn)["status"]
    except sfn.exceptions.ExecutionDoesNotExist:
        status = "GONE"
    if status == "RUNNING":
        return False
    return conditional_write(
        dynamodb.put_item,
        TableName=table,
        Item={**LOCK_KEY, "holder": {"S": name}},
        ConditionExpression="holder = :stale",
        ExpressionAttributeValues={":stale": {"S": holder}},
    )


def release(dynamodb: Any, table: str, name: str) -> None:
    conditional_write(
        dynamodb.delete_item,
        TableName=table,
        Key=LOCK_KEY,
        ConditionExpression="holder = :me",
        ExpressionAttributeValues={":me": {"S": name}},
    )
