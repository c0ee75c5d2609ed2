"""The synthesized ComprehendFeedbackLoop template (as app.py builds it, wired to part 1):
the properties that matter, checked directly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lambdas.comprehend_feedback_loop.feedback import MAX_TEXT_BYTES
from tests.helpers.templates import only_properties, resources, stack_template

pytestmark = pytest.mark.synth

STACK = "ComprehendFeedbackLoop-test"
LIFECYCLE = "ComprehendModelLifecycle-test"


@pytest.fixture(scope="module")
def template(assembly_dir: Path) -> dict[str, Any]:
    return stack_template(assembly_dir, STACK)


def test_every_method_needs_an_api_key_and_a_validated_body(template: dict[str, Any]) -> None:
    methods = resources(template, "AWS::ApiGateway::Method")
    assert len(methods) == 2
    (validator_id,) = resources(template, "AWS::ApiGateway::RequestValidator")
    for method in methods.values():
        props = method["Properties"]
        assert props["HttpMethod"] == "POST" and props["ApiKeyRequired"] is True
        assert props["RequestValidatorId"] == {"Ref": validator_id}
        assert props["Integration"]["Type"] == "AWS_PROXY"
        assert "application/json" in props["RequestModels"]
    models = {m["Properties"]["Schema"]["properties"].get("label", {}).get("enum", None) is None
              for m in resources(template, "AWS::ApiGateway::Model").values()}  # fmt: skip
    assert models == {True, False}  # only feedback names a label
    for model in resources(template, "AWS::ApiGateway::Model").values():
        schema = model["Properties"]["Schema"]
        assert schema["required"] == ["classifier"]
        assert schema["properties"]["text"]["maxLength"] == MAX_TEXT_BYTES
        assert schema["additionalProperties"] is False
    (response,) = resources(template, "AWS::ApiGateway::GatewayResponse").values()
    assert response["Properties"]["ResponseType"] == "BAD_REQUEST_BODY"
    template_text = response["Properties"]["ResponseTemplates"]["application/json"]
    assert "$context.error.validationErrorString" in template_text


def test_the_usage_plan_throttles_and_the_stage_logs_access(template: dict[str, Any]) -> None:
    plan = only_properties(template, "AWS::ApiGateway::UsagePlan")
    assert plan["Throttle"] == {"BurstLimit": 100, "RateLimit": 50}
    assert len(resources(template, "AWS::ApiGateway::UsagePlanKey")) == 1
    stage = only_properties(template, "AWS::ApiGateway::Stage")
    assert (
        "AccessLogSetting" in stage and "$context.requestId" in stage["AccessLogSetting"]["Format"]
    )


def test_streams_buffer_as_configured_and_training_rows_land_in_part_one(
    template: dict[str, Any], assembly_dir: Path
) -> None:
    streams = {
        name.rstrip("0123456789ABCDEF"): s["Properties"]["ExtendedS3DestinationConfiguration"]
        for name, s in resources(template, "AWS::KinesisFirehose::DeliveryStream").items()
    }
    assert set(streams) == {"FeedbackStream", "TrainingStream"}
    for destination in streams.values():
        assert destination["BufferingHints"] == {"IntervalInSeconds": 60, "SizeInMBs": 1}
    assert streams["FeedbackStream"]["Prefix"] == "feedback/"
    training = streams["TrainingStream"]
    assert training["Prefix"] == "train/reviewed/"
    export = f"{LIFECYCLE}-TrainingBucketArn"
    assert training["BucketARN"] == {"Fn::ImportValue": export}
    lifecycle = json.loads((assembly_dir / f"{LIFECYCLE}.template.json").read_text())
    exported = [
        o for o in lifecycle["Outputs"].values() if o.get("Export", {}).get("Name") == export
    ]
    assert len(exported) == 1


def test_the_review_task_ui_lists_the_configured_categories(template: dict[str, Any]) -> None:
    (ui_id,) = resources(template, "AWS::SageMaker::HumanTaskUi")
    content = template["Resources"][ui_id]["Properties"]["UiTemplate"]["Content"]
    options = [f'<option value="{c}">' for c in ("World", "Sports", "Business", "SciTech")]
    assert all(option in content for option in options)
    (resource,) = resources(template, "Custom::A2iReviewWorkflow").values()
    props = resource["Properties"]
    assert props["HumanTaskUiArn"] == {"Fn::GetAtt": [ui_id, "HumanTaskUiArn"]}
    assert props["WorkteamArn"] == {"Ref": "WorkteamArn"}
    assert "AllowedPattern" in template["Parameters"]["WorkteamArn"]


def test_only_completed_loops_of_this_flow_reach_the_transformer(template: dict[str, Any]) -> None:
    rule = only_properties(template, "AWS::Events::Rule")
    pattern = rule["EventPattern"]
    assert pattern["source"] == ["aws.sagemaker"]
    assert pattern["detail-type"] == ["SageMaker A2I HumanLoop Status Change"]
    assert pattern["detail"]["humanLoopStatus"] == ["Completed"]
    assert pattern["detail"]["flowDefinitionArn"] == [
        {"Fn::GetAtt": [next(iter(resources(template, "Custom::A2iReviewWorkflow"))),
                        "FlowDefinitionArn"]}
    ]  # fmt: skip
    (target,) = rule["Targets"]
    assert "DeadLetterConfig" in target and target["RetryPolicy"]["MaximumRetryAttempts"] == 8


def test_the_classify_function_reads_one_parameter_and_one_endpoint(
    template: dict[str, Any],
) -> None:
    policies = resources(template, "AWS::IAM::Policy")
    (api_policy,) = [p for k, p in policies.items() if k.startswith("ApiHandlerRole")]
    statements = api_policy["Properties"]["PolicyDocument"]["Statement"]
    actions = {
        action: statement["Resource"]
        for statement in statements
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    }
    assert set(actions) >= {"ssm:GetParameter", "comprehend:ClassifyDocument", "firehose:PutRecord"}
    assert "CURRENT_ENDPOINT_ARN" in json.dumps(actions["ssm:GetParameter"])
    assert "document-classifier-endpoint/cml-" in json.dumps(actions["comprehend:ClassifyDocument"])
