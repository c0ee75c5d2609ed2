"""The local Step Functions names a Task's service errors as AWS does, so a Retry or Catch naming
an error AWS never raises does not fire locally either."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.common.test_error_names import why_not_raised
from tests.helpers.aws import create_table
from tests.helpers.statemachines import (
    REGION,
    Responder,
    executor,
    in_turn,
    json_error,
    response,
)

ACCOUNT = "123456789012"
TABLE = "locks"
MISSING_QUEUE = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/missing"


def _task(resource: str, parameters: dict[str, Any], retry_on: str | None = None) -> dict[str, Any]:
    state: dict[str, Any] = {
        "Type": "Task",
        "Resource": resource,
        "Parameters": parameters,
        "End": True,
    }
    if retry_on:
        state["Retry"] = [{"ErrorEquals": [retry_on], "IntervalSeconds": 1, "MaxAttempts": 2}]
    return {"StartAt": "Call", "States": {"Call": state}}


def _lock_table() -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    create_table(dynamodb, TABLE, "pk")
    dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "lock"}})


PUT_LOCK = {"TableName": TABLE, "Item": {"pk": {"S": "lock"}}}


def test_a_retry_fires_only_on_the_name_aws_gives_a_throttled_write() -> None:
    """DynamoDB's `RequestLimitExceeded` is `DynamoDB.RequestLimitExceededException` in a state
    machine: a Retry on the code itself never fires."""
    throttled_once = in_turn(json_error("RequestLimitExceeded"))
    with executor() as sfn:
        _lock_table()
        sfn.answer("dynamodb", "PutItem", throttled_once)
        retried = sfn.run(
            _task(
                "arn:aws:states:::dynamodb:putItem",
                PUT_LOCK,
                "DynamoDB.RequestLimitExceededException",
            )
        )
        sfn.answer("dynamodb", "PutItem", in_turn(json_error("RequestLimitExceeded")))
        not_retried = sfn.run(
            _task("arn:aws:states:::dynamodb:putItem", PUT_LOCK, "DynamoDB.RequestLimitExceeded")
        )
    assert retried.status == "SUCCEEDED"
    assert retried.task_errors() == ["DynamoDB.RequestLimitExceededException"]
    assert not_retried.status == "FAILED"
    assert not_retried.error == "DynamoDB.RequestLimitExceededException"


# (Resource, Parameters, an injected answer or None for moto's own, the error AWS names).
SCENARIOS: list[tuple[str, dict[str, Any], tuple[str, str, Responder] | None, str]] = [
    (
        "arn:aws:states:::dynamodb:putItem",
        {**PUT_LOCK, "ConditionExpression": "attribute_not_exists(pk)"},
        None,
        "DynamoDB.ConditionalCheckFailedException",
    ),
    (
        "arn:aws:states:::aws-sdk:dynamodb:putItem",
        {**PUT_LOCK, "ConditionExpression": "attribute_not_exists(pk)"},
        None,
        "DynamoDb.ConditionalCheckFailedException",
    ),
    (
        "arn:aws:states:::dynamodb:getItem",
        {"TableName": TABLE, "Key": {"pk": {"S": "lock"}}},
        ("dynamodb", "GetItem", json_error("InternalServerError", status=500)),
        "DynamoDB.InternalServerErrorException",
    ),
    (
        "arn:aws:states:::sns:publish",
        {"TopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:missing", "Message": "m"},
        None,
        "SNS.NotFoundException",
    ),
    (
        "arn:aws:states:::aws-sdk:sqs:getQueueAttributes",
        {"QueueUrl": MISSING_QUEUE, "AttributeNames": ["All"]},
        None,
        "Sqs.QueueDoesNotExistException",
    ),
    (  # a code SQS's model does not declare: the SDK's base exception of the service
        "arn:aws:states:::aws-sdk:sqs:receiveMessage",
        {"QueueUrl": MISSING_QUEUE},
        ("sqs", "ReceiveMessage", json_error("InternalFailure", status=500)),
        "Sqs.SqsException",
    ),
    (
        "arn:aws:states:::aws-sdk:ssm:getParameter",
        {"Name": "/missing"},
        ("ssm", "GetParameter", json_error("ServiceUnavailable", status=503)),
        "Ssm.SsmException",
    ),
    (
        "arn:aws:states:::dynamodb:getItem",
        {"TableName": TABLE, "Key": {"pk": {"S": "lock"}}},
        ("dynamodb", "GetItem", json_error("ServiceUnavailable", status=503)),
        "DynamoDB.AmazonDynamoDBException",
    ),
    (
        "arn:aws:states:::sqs:sendMessage",
        {"QueueUrl": MISSING_QUEUE, "MessageBody": "m"},
        None,
        "SQS.QueueDoesNotExistException",
    ),
    (
        "arn:aws:states:::lambda:invoke",
        {"FunctionName": "f", "Payload": {}},
        ("lambda", "Invoke", json_error("TooManyRequestsException", status=429)),
        "Lambda.TooManyRequestsException",
    ),
    (
        "arn:aws:states:::aws-sdk:lambda:updateEventSourceMapping",
        {"UUID": "mapping", "Enabled": True},
        ("lambda", "UpdateEventSourceMapping", json_error("ResourceInUseException")),
        "Lambda.ResourceInUseException",
    ),
]


@pytest.mark.parametrize(
    ("resource", "parameters", "injected", "expected"),
    SCENARIOS,
    ids=[f"{s[0].split(':::')[1]}-{s[3]}" for s in SCENARIOS],
)
def test_a_service_error_is_named_with_the_exception_suffix(
    resource: str,
    parameters: dict[str, Any],
    injected: tuple[str, str, Responder] | None,
    expected: str,
) -> None:
    with executor() as sfn:
        _lock_table()
        if injected:
            service, operation, responder = injected
            sfn.answer(service, operation, in_turn(responder))
        run = sfn.run(_task(resource, parameters))
    assert run.status == "FAILED"
    assert run.error == expected
    # The name the local executor gives is one the static check accepts for the same state:
    # both agree on the service part of the name (`DynamoDB.` and `DynamoDb.`, `SQS.` and `Sqs.`).
    assert why_not_raised(expected, _task(resource, parameters)["States"]["Call"]) is None


def test_a_function_error_keeps_the_name_the_function_gave_it() -> None:
    crash = b'{"errorType": "InputError", "errorMessage": "bad file"}'

    def unhandled(request: Any, operation: str) -> Any:
        headers = {"Content-Type": "application/json", "X-Amz-Function-Error": "Unhandled"}
        return response(request, 200, headers, crash)

    with executor() as sfn:
        sfn.answer("lambda", "Invoke", unhandled)
        run = sfn.run(_task("arn:aws:states:::lambda:invoke", {"FunctionName": "f", "Payload": {}}))
    assert (run.status, run.error) == ("FAILED", "InputError")
