"""ComprehendModelLifecycle: read only. The live endpoint that the SSM parameter names is in
service. (Training a model to check the rest would take an hour and bill the training; the
feedback loop's classify call exercises the endpoint end to end.)"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from smoke.core import Environment, Result, Settings, StackOutputs, Status

WORKFLOW = "comprehend_model_lifecycle"
STACK = "ComprehendModelLifecycle"
SERVING = ("IN_SERVICE", "UPDATING")  # an endpoint being updated keeps serving its old model


def check(env: Environment, outputs: StackOutputs, settings: Settings) -> Result:
    parameter = outputs["EndpointParameterName"]

    def result(status: Status, detail: str, *look_at: str) -> Result:
        return Result(WORKFLOW, outputs.stack, status, detail, tuple(look_at))

    try:
        arn = env.client("ssm").get_parameter(Name=parameter)["Parameter"]["Value"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "ParameterNotFound":
            raise
        return result(
            Status.SKIPPED,
            "no model yet: upload a training CSV under "
            f"s3://{outputs['TrainingBucketName']}/train/ to train the first one",
            f"SSM parameter {parameter}",
        )
    try:
        endpoint = env.client("comprehend").describe_endpoint(EndpointArn=arn)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        return result(
            Status.FAILED,
            f"SSM parameter {parameter} names {arn}, which does not exist",
            f"SSM parameter {parameter}",
            *_last_round(env, outputs),
        )
    properties: dict[str, Any] = endpoint["EndpointProperties"]
    status = properties["Status"]
    if status in SERVING:
        return result(
            Status.PASSED,
            f"endpoint {arn} {status} with model {properties.get('ModelArn')}, "
            f"{properties.get('CurrentInferenceUnits', properties.get('DesiredInferenceUnits'))} "
            "inference unit(s)",
        )
    if status == "CREATING":
        return result(Status.SKIPPED, f"no model yet: the first endpoint {arn} is being created")
    return result(
        Status.FAILED,
        f"endpoint {arn} is {status}: {properties.get('Message', '')}",
        f"endpoint {arn}",
        *_last_round(env, outputs),
    )


def _last_round(env: Environment, outputs: StackOutputs) -> tuple[str, ...]:
    listed = env.client("stepfunctions").list_executions(
        stateMachineArn=outputs["StateMachineArn"], maxResults=20
    )["executions"]
    if not listed:
        return (outputs.where("StateMachineArn"),)
    last = max(listed, key=lambda e: e["startDate"])
    return (f"the last round, execution {last['executionArn']} ({last['status']})",)
