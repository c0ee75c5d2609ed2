"""Custom resource: the A2I flow definition (CloudFormation has no resource type for it; the
task UI it names is an `AWS::SageMaker::HumanTaskUi`).

Create makes it, named after a digest of its properties, so an update (a new task UI, a new
workteam) creates a new one and CloudFormation deletes the old one afterwards. The
response goes to CloudFormation's pre-signed `ResponseURL`, as for any Lambda-backed custom
resource; every failure is reported as FAILED with its reason, never left to time out: the
wait for the flow to become Active ends while the function still has the time to respond.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from aws_lambda_powertools.utilities.data_classes import CloudFormationCustomResourceEvent
from botocore.exceptions import ClientError

from lambdas.shared.custom_resource import respond
from lambdas.shared.kit import HandlerKit

kit: HandlerKit[Any] = HandlerKit()  # no settings: the resource's properties say it all
POLL_SECONDS = 2.0
# Kept back from the function's remaining time for the response to CloudFormation (its PUT
# may take up to RESPONSE_TIMEOUT_SECONDS) and the error report before it.
RESPONSE_TIMEOUT_SECONDS = 20
RESERVED_SECONDS = RESPONSE_TIMEOUT_SECONDS + 5


class FlowNotActiveError(RuntimeError):
    """The flow definition failed, or did not become Active in the time the function has."""


def flow_name(properties: dict[str, Any]) -> str:
    keys = ("HumanTaskUiArn", "WorkteamArn", "OutputPath", "RoleArn", "TaskTitle")
    digest = hashlib.sha256(
        json.dumps({k: properties.get(k) for k in keys}, sort_keys=True).encode()
    ).hexdigest()[:12]
    return f"{properties['NamePrefix']}-flow-{digest}"


def create(properties: dict[str, Any], seconds_left: Any) -> dict[str, str]:
    """Create (or find) the flow definition and wait until it is Active; `seconds_left()`
    is the time the function may still spend waiting."""
    sagemaker = kit.clients("sagemaker")
    name = flow_name(properties)
    try:  # an update that changes nothing A2I sees keeps the existing flow
        existing = sagemaker.describe_flow_definition(FlowDefinitionName=name)
        return {
            "FlowDefinitionArn": existing["FlowDefinitionArn"],
            "FlowDefinitionName": name,
        }
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceNotFound":
            raise
    title = str(properties["TaskTitle"])
    flow_arn = sagemaker.create_flow_definition(
        FlowDefinitionName=name,
        HumanLoopConfig={
            "WorkteamArn": properties["WorkteamArn"],
            "HumanTaskUiArn": properties["HumanTaskUiArn"],
            "TaskTitle": title,
            "TaskDescription": "Choose the category of each text.",
            "TaskCount": 1,
            "TaskAvailabilityLifetimeInSeconds": 864000,
            "TaskTimeLimitInSeconds": 3600,
        },
        OutputConfig={"S3OutputPath": properties["OutputPath"]},
        RoleArn=properties["RoleArn"],
    )["FlowDefinitionArn"]
    while True:
        described = sagemaker.describe_flow_definition(FlowDefinitionName=name)
        status = described["FlowDefinitionStatus"]
        if status == "Active":
            return {"FlowDefinitionArn": flow_arn, "FlowDefinitionName": name}
        if status == "Failed":
            reason = described.get("FailureReason", "no reason given")
            raise FlowNotActiveError(f"flow definition {name} failed: {reason}")
        if seconds_left() < POLL_SECONDS:
            raise FlowNotActiveError(
                f"flow definition {name} is still {status}; it was not Active in time"
            )
        time.sleep(POLL_SECONDS)


def delete(properties: dict[str, Any]) -> None:
    try:
        kit.clients("sagemaker").delete_flow_definition(FlowDefinitionName=flow_name(properties))
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceNotFound":
            raise


@kit.handler(CloudFormationCustomResourceEvent)
def handler(event: CloudFormationCustomResourceEvent, context: Any) -> None:
    properties = dict(event.resource_properties)
    physical_id = event.physical_resource_id or "not-created"
    data: dict[str, str] = {}
    try:
        if event.request_type in ("Create", "Update"):

            def seconds_left() -> float:
                return context.get_remaining_time_in_millis() / 1000 - RESERVED_SECONDS

            data = create(properties, seconds_left)
            physical_id = data["FlowDefinitionArn"]
        elif event.request_type == "Delete" and physical_id.startswith("arn:"):
            delete(properties)
        status, reason = "SUCCESS", "OK"
    except Exception as error:  # reported to CloudFormation, which rolls back
        kit.logger.exception("custom resource failed")
        status, reason = "FAILED", f"{type(error).__name__}: {error}"
    respond(event, status, reason, physical_id, data, timeout=RESPONSE_TIMEOUT_SECONDS)
