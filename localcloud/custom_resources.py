"""Lambda-backed custom resources, run as CloudFormation runs them.

The provisioner invokes the function the `ServiceToken` names with CloudFormation's `Create`
request (request id, `ResponseURL`, stack id, logical id, resource type and properties, all
values as strings as CloudFormation sends them) and waits for the function to PUT its response
to the `ResponseURL`, here a one-shot HTTP server on 127.0.0.1. `SUCCESS` gives the resource its
`PhysicalResourceId` and `Data` attributes (`Fn::GetAtt`); `FAILED`, or no response, fails the
deployment with the function's reason.

Not emulated: `Update` and `Delete` requests (the local cloud only creates stacks), SNS-backed
custom resources, and CloudFormation's one-hour response timeout (the wait here is 60 s).
"""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from localcloud.provision import ProvisionRequest, _state, provisioner
from localcloud.template import ResourceState

RESPONSE_TIMEOUT = 60.0


class CustomResourceError(RuntimeError):
    """The custom resource's function reported FAILED or never answered."""


def _stringify(value: Any) -> Any:
    """CloudFormation passes every scalar property to the function as a string."""
    if isinstance(value, dict):
        return {k: _stringify(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stringify(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _serve_once() -> tuple[HTTPServer, list[dict[str, Any]], threading.Event]:
    received: list[dict[str, Any]] = []
    done = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(200)
            self.end_headers()
            done.set()

        def log_message(self, *args: Any) -> None:
            return

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, received, done


@provisioner("AWS::CloudFormation::CustomResource", "Custom::A2iReviewWorkflow")
def _custom_resource(request: ProvisionRequest) -> ResourceState:
    props = dict(request.properties)
    token = props.pop("ServiceToken")
    server, received, done = _serve_once()
    try:
        request_id = str(uuid.uuid4())
        event = {
            "RequestType": "Create",
            "ServiceToken": token,
            "ResponseURL": f"http://127.0.0.1:{server.server_address[1]}/{request_id}",
            "StackId": f"arn:aws:cloudformation:{request.ctx.region}:{request.ctx.account_id}:"
            f"stack/{request.ctx.stack_name}/{uuid.uuid4()}",
            "RequestId": request_id,
            "LogicalResourceId": request.logical_id,
            "ResourceType": request.resource_type,
            "ResourceProperties": {"ServiceToken": token, **_stringify(props)},
        }
        result = request.cloud.runtime.invoke(token, event)
        if result.failed:
            raise CustomResourceError(f"{request.logical_id}: the function failed: {result.error}")
        if not done.wait(RESPONSE_TIMEOUT):
            raise CustomResourceError(f"{request.logical_id}: no response at the ResponseURL")
    finally:
        server.shutdown()
        server.server_close()
    response = received[0]
    if response.get("Status") != "SUCCESS":
        raise CustomResourceError(f"{request.logical_id}: {response.get('Reason')}")
    return _state(request, str(response["PhysicalResourceId"]), **response.get("Data", {}))
