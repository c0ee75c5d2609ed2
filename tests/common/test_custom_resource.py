"""Answering a CloudFormation custom resource request, over HTTP as CloudFormation receives it:
a PUT to the pre-signed response URL with an empty content type (the URL is signed without
one) and every field CloudFormation matches the answer by."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes import CloudFormationCustomResourceEvent

from lambdas.shared.custom_resource import respond


class ResponseUrl(BaseHTTPRequestHandler):
    """The pre-signed response URL: keeps what each PUT carried; other methods are refused."""

    received: list[dict[str, Any]] = []

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append(
            {"path": self.path, "contentType": self.headers.get("Content-Type"), "body": body}
        )
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def response_url() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    server = HTTPServer(("127.0.0.1", 0), ResponseUrl)
    ResponseUrl.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield (
            f"http://127.0.0.1:{server.server_port}/response?X-Amz-Signature=s",
            ResponseUrl.received,
        )
    finally:
        server.shutdown()
        server.server_close()


def _event(url: str) -> CloudFormationCustomResourceEvent:
    return CloudFormationCustomResourceEvent(
        {
            "RequestType": "Create",
            "ResponseURL": url,
            "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/Feedback/1",
            "RequestId": "r1",
            "ResourceType": "Custom::A2iReviewWorkflow",
            "LogicalResourceId": "ReviewWorkflowResource",
            "ResourceProperties": {},
        }
    )


def test_the_answer_is_a_put_with_every_field_cloudformation_matches_it_by(
    response_url: tuple[str, list[dict[str, Any]]],
) -> None:
    url, received = response_url
    respond(_event(url), "SUCCESS", "created", "flow-1", {"FlowDefinitionArn": "arn:flow"})
    (request,) = received
    assert request["path"] == "/response?X-Amz-Signature=s"
    assert request["contentType"] == ""
    assert json.loads(request["body"]) == {
        "Status": "SUCCESS",
        "Reason": "created",
        "PhysicalResourceId": "flow-1",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/Feedback/1",
        "RequestId": "r1",
        "LogicalResourceId": "ReviewWorkflowResource",
        "Data": {"FlowDefinitionArn": "arn:flow"},
    }


def test_a_long_reason_is_cut_so_the_answer_stays_within_4096_bytes(
    response_url: tuple[str, list[dict[str, Any]]],
) -> None:
    url, received = response_url
    respond(_event(url), "FAILED", "x" * 5000, "flow-1")
    (request,) = received
    answer = json.loads(request["body"])
    assert answer["Reason"] == "x" * 3000 and answer["Data"] == {}
    assert len(request["body"]) <= 4096
