"""The A2I flow-definition custom resource answers CloudFormation within its own timeout."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from lambdas.comprehend_feedback_loop import review_workflow
from lambdas.shared import custom_resource

TIMEOUT_SECONDS = 120  # the function's timeout in the stack


@dataclass
class FakeTime:
    """The function's clock: sleeping uses up the invocation's remaining time."""

    elapsed: float = 0.0

    def sleep(self, seconds: float) -> None:
        self.elapsed += seconds


@dataclass
class Context:
    clock: FakeTime
    timeout: float = TIMEOUT_SECONDS
    function_name: str = "ReviewWorkflow"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:ReviewWorkflow"
    aws_request_id: str = "request-1"

    def get_remaining_time_in_millis(self) -> int:
        return int((self.timeout - self.clock.elapsed) * 1000)


@dataclass
class FakeSageMaker:
    statuses: list[str]
    created: list[str] = field(default_factory=list)

    def describe_flow_definition(self, FlowDefinitionName: str) -> dict[str, Any]:  # noqa: N803
        if not self.created:
            from botocore.exceptions import ClientError

            raise ClientError(
                {"Error": {"Code": "ResourceNotFound", "Message": "no"}}, "DescribeFlowDefinition"
            )
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return {"FlowDefinitionStatus": status, "FlowDefinitionArn": self.created[0]}

    def create_flow_definition(self, FlowDefinitionName: str, **_: Any) -> dict[str, str]:  # noqa: N803
        arn = f"arn:aws:sagemaker:us-east-1:123456789012:flow-definition/{FlowDefinitionName}"
        self.created.append(arn)
        return {"FlowDefinitionArn": arn}


def _event() -> dict[str, Any]:
    return {
        "RequestType": "Create",
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:ReviewWorkflow",
        "ResponseURL": "https://cloudformation-custom-resource-response.example/response",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/Feedback/1",
        "RequestId": "r1",
        "ResourceType": "Custom::A2iReviewWorkflow",
        "LogicalResourceId": "ReviewWorkflowResource",
        "ResourceProperties": {
            "NamePrefix": "fb",
            "HumanTaskUiArn": "arn:aws:sagemaker:us-east-1:123456789012:human-task-ui/fb-ui",
            "WorkteamArn": "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/r",
            "OutputPath": "s3://reviews/reviews",
            "RoleArn": "arn:aws:iam::123456789012:role/review",
            "TaskTitle": "Classify",
        },
    }


def _run(monkeypatch: pytest.MonkeyPatch, statuses: list[str]) -> tuple[dict[str, Any], FakeTime]:
    clock = FakeTime()
    sagemaker = FakeSageMaker(statuses)
    responses: list[dict[str, Any]] = []

    class Answer:
        def __enter__(self) -> Answer:
            return self

        def __exit__(self, *_: object) -> None:
            return None

        def read(self) -> bytes:
            return b""

    def urlopen(request: Any, timeout: float) -> Answer:
        # The response must leave in time for its own timeout to fit in the invocation.
        assert clock.elapsed + timeout <= TIMEOUT_SECONDS
        responses.append(json.loads(request.data))
        return Answer()

    monkeypatch.setattr(review_workflow.kit, "clients", lambda service: sagemaker)
    # The namespace the stack gives the function in POWERTOOLS_METRICS_NAMESPACE, read when
    # the module was first imported, perhaps without it.
    monkeypatch.setattr(review_workflow.kit.metrics, "namespace", "ServerlessMlWorkflows")
    monkeypatch.setattr(review_workflow.time, "sleep", clock.sleep)
    monkeypatch.setattr(custom_resource.urllib.request, "urlopen", urlopen)
    review_workflow.handler(_event(), Context(clock))
    (response,) = responses
    return response, clock


def test_a_flow_that_becomes_active_is_reported_created(monkeypatch: pytest.MonkeyPatch) -> None:
    response, _ = _run(monkeypatch, ["Initializing", "Initializing", "Active"])
    assert response["Status"] == "SUCCESS"
    assert response["PhysicalResourceId"].startswith("arn:aws:sagemaker:")


def test_a_flow_never_active_fails_the_resource_before_the_function_times_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    response, clock = _run(monkeypatch, ["Initializing"])
    assert response["Status"] == "FAILED"
    assert "not Active in time" in response["Reason"]
    assert clock.elapsed <= TIMEOUT_SECONDS - review_workflow.RESPONSE_TIMEOUT_SECONDS


def test_a_failed_flow_fails_the_resource_with_its_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    response, _ = _run(monkeypatch, ["Initializing", "Failed"])
    assert response["Status"] == "FAILED"
    assert "failed" in response["Reason"]


def test_the_function_has_time_to_wait_and_respond(assembly_dir: Any) -> None:
    """The stack's timeout for the custom resource leaves room beyond the response's."""
    from localcloud.core.assembly import CloudAssembly

    template = CloudAssembly(assembly_dir).stack("ComprehendFeedbackLoop-test").template
    (timeout,) = [
        resource["Properties"]["Timeout"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function"
        and resource["Properties"].get("Handler", "").endswith("review_workflow.handler")
    ]
    assert timeout == TIMEOUT_SECONDS
    assert timeout > review_workflow.RESERVED_SECONDS + 10 * review_workflow.POLL_SECONDS


PROPERTIES = _event()["ResourceProperties"]
WHEN = datetime(2026, 1, 5, tzinfo=UTC)


def _stubbed_sagemaker(monkeypatch: pytest.MonkeyPatch) -> Stubber:
    """A real SageMaker client whose every call and answer botocore checks against the API."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    client = boto3.client("sagemaker", region_name="us-east-1")
    stub = Stubber(client)
    stub.activate()
    monkeypatch.setattr(review_workflow.kit, "clients", lambda service: client)
    return stub


def _described(name: str, status: str) -> dict[str, Any]:
    return {
        "FlowDefinitionArn": f"arn:aws:sagemaker:us-east-1:123456789012:flow-definition/{name}",
        "FlowDefinitionName": name,
        "FlowDefinitionStatus": status,
        "CreationTime": WHEN,
        "OutputConfig": {"S3OutputPath": "s3://reviews/reviews"},
        "RoleArn": "arn:aws:iam::123456789012:role/review",
    }


def test_the_flow_is_created_with_the_resources_task_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stub = _stubbed_sagemaker(monkeypatch)
    name = review_workflow.flow_name(PROPERTIES)
    arn = _described(name, "Active")["FlowDefinitionArn"]
    by_name = {"FlowDefinitionName": name}
    stub.add_client_error("describe_flow_definition", "ResourceNotFound", expected_params=by_name)
    stub.add_response(
        "create_flow_definition",
        {"FlowDefinitionArn": arn},
        {
            "FlowDefinitionName": name,
            "HumanLoopConfig": {
                "WorkteamArn": PROPERTIES["WorkteamArn"],
                "HumanTaskUiArn": PROPERTIES["HumanTaskUiArn"],
                "TaskTitle": "Classify",
                "TaskDescription": "Choose the category of each text.",
                "TaskCount": 1,
                "TaskAvailabilityLifetimeInSeconds": 864000,
                "TaskTimeLimitInSeconds": 3600,
            },
            "OutputConfig": {"S3OutputPath": "s3://reviews/reviews"},
            "RoleArn": "arn:aws:iam::123456789012:role/review",
        },
    )
    stub.add_response("describe_flow_definition", _described(name, "Initializing"), by_name)
    stub.add_response("describe_flow_definition", _described(name, "Active"), by_name)
    monkeypatch.setattr(review_workflow.time, "sleep", lambda seconds: None)
    created = review_workflow.create(PROPERTIES, lambda: 60.0)
    assert created == {"FlowDefinitionArn": arn, "FlowDefinitionName": name}
    stub.assert_no_pending_responses()
    # Created again with the same properties (a retried request): the existing flow.
    stub.add_response("describe_flow_definition", _described(name, "Active"), by_name)
    assert review_workflow.create(PROPERTIES, lambda: 60.0) == created
    stub.assert_no_pending_responses()


def test_the_flow_name_changes_with_what_a2i_sees_and_only_with_that() -> None:
    name = review_workflow.flow_name(PROPERTIES)
    assert name.startswith("fb-flow-") and len(name) == len("fb-flow-") + 12
    assert review_workflow.flow_name({**PROPERTIES, "Unrelated": "x"}) == name
    for key in ("HumanTaskUiArn", "WorkteamArn", "OutputPath", "RoleArn", "TaskTitle"):
        assert review_workflow.flow_name({**PROPERTIES, key: "changed"}) != name
