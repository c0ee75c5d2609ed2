"""Lambda-backed custom resources, run as CloudFormation runs them.

The provisioner invokes the function the `ServiceToken` names with CloudFormation's `Create`
request (request id, `ResponseURL`, stack id, logical id, resource type and properties, all
values as strings as CloudFormation sends them) and waits for the function to PUT its response
to the `ResponseURL`, here a one-shot HTTP server on 127.0.0.1. `SUCCESS` gives the resource its
`PhysicalResourceId` and `Data` attributes (`Fn::GetAtt`); `FAILED`, or no response, fails the
deployment with the function's reason.

`LocalCloud.destroy` sends each custom resource (`AWS::CloudFormation::CustomResource` or any
`Custom::<name>` type) CloudFormation's `Delete` request (with the
`PhysicalResourceId` its `Create` answered and the same properties), in the reverse of the
deployment order, as CloudFormation deletes a stack; `FAILED` fails the destruction with the
function's reason, as a stack goes `DELETE_FAILED`.

Not emulated: `Update` requests (the local cloud never updates a stack), SNS-backed custom
resources, and CloudFormation's one-hour response timeout (the wait here is 15 minutes, the
longest a Lambda function runs).
"""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import TYPE_CHECKING, Any

from localcloud.core.provision import CUSTOM_RESOURCE, ProvisionRequest, _state, provisioner
from localcloud.core.template import ResourceState, StackContext

if TYPE_CHECKING:
    from localcloud.core.cloud import LocalCloud

RESPONSE_TIMEOUT = 900.0


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


def _send(
    cloud: LocalCloud,
    ctx: StackContext,
    request_type: str,
    logical_id: str,
    resource_type: str,
    properties: dict[str, Any],
    physical_id: str | None = None,
) -> dict[str, Any]:
    """Invoke the function of `properties["ServiceToken"]` with one CloudFormation request and
    return the response it PUT to the ResponseURL (status checked)."""
    props = dict(properties)
    token = props.pop("ServiceToken")
    server, received, done = _serve_once()
    try:
        request_id = str(uuid.uuid4())
        event = {
            "RequestType": request_type,
            "ServiceToken": token,
            "ResponseURL": f"http://127.0.0.1:{server.server_address[1]}/{request_id}",
            "StackId": ctx.stack_id,
            "RequestId": request_id,
            "LogicalResourceId": logical_id,
            "ResourceType": resource_type,
            "ResourceProperties": {"ServiceToken": token, **_stringify(props)},
        }
        if physical_id is not None:
            event["PhysicalResourceId"] = physical_id
        result = cloud.runtime.invoke(token, event)
        if result.failed:
            raise CustomResourceError(f"{logical_id}: the function failed: {result.error}")
        if not done.wait(RESPONSE_TIMEOUT):
            raise CustomResourceError(f"{logical_id}: no response at the ResponseURL")
    finally:
        server.shutdown()
        server.server_close()
    response = received[0]
    if response.get("Status") != "SUCCESS":
        raise CustomResourceError(f"{logical_id} ({request_type}): {response.get('Reason')}")
    return response


@provisioner(CUSTOM_RESOURCE)
def _custom_resource(request: ProvisionRequest) -> ResourceState:
    response = _send(
        request.cloud,
        request.ctx,
        "Create",
        request.logical_id,
        request.resource_type,
        request.properties,
    )
    return _state(request, str(response["PhysicalResourceId"]), **response.get("Data", {}))


def delete_custom_resource(cloud: LocalCloud, ctx: StackContext, state: ResourceState) -> None:
    """CloudFormation's Delete request for one custom resource of a stack being destroyed."""
    _send(
        cloud,
        ctx,
        "Delete",
        state.logical_id,
        state.resource_type,
        state.properties,
        physical_id=state.ref,
    )
