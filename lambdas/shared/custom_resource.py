"""Answering a CloudFormation custom resource request.

The function answers by PUT on the request's pre-signed `ResponseURL` with an empty content
type (the custom resource response protocol); the whole response may be at most 4,096 bytes,
so the reason is cut short.
"""

from __future__ import annotations

import json
import urllib.request

from aws_lambda_powertools.utilities.data_classes import CloudFormationCustomResourceEvent

MAX_REASON_CHARACTERS = 3000
RESPONSE_TIMEOUT_SECONDS = 30


def respond(
    event: CloudFormationCustomResourceEvent,
    status: str,
    reason: str,
    physical_id: str,
    data: dict[str, str] | None = None,
    timeout: float = RESPONSE_TIMEOUT_SECONDS,
) -> None:
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason[:MAX_REASON_CHARACTERS],
            "PhysicalResourceId": physical_id,
            "StackId": event.stack_id,
            "RequestId": event.request_id,
            "LogicalResourceId": event.logical_resource_id,
            "Data": data or {},
        }
    ).encode("utf-8")
    request = urllib.request.Request(
        event.response_url,
        data=body,
        method="PUT",
        headers={"Content-Type": "", "Content-Length": str(len(body))},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        response.read()
