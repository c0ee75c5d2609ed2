"""The synthesized CaptionTranslation template: the properties that matter, checked directly."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DEFAULT_STACK
from tests.helpers.templates import assert_function_defaults, resources, stack_template

pytestmark = pytest.mark.synth


@pytest.fixture(scope="module")
def template(assembly_dir: Path) -> dict[str, Any]:
    return stack_template(assembly_dir, DEFAULT_STACK)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_buckets_are_private_encrypted_tls_only_and_versioned(template: dict[str, Any]) -> None:
    buckets = resources(template, "AWS::S3::Bucket")
    assert len(buckets) == 2
    for bucket in buckets.values():
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    captions = next(b for k, b in buckets.items() if k.startswith("CaptionsBucket"))
    assert captions["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}
    assert "LoggingConfiguration" in captions["Properties"]
    policies = [
        p["Properties"]["PolicyDocument"]
        for p in resources(template, "AWS::S3::BucketPolicy").values()
    ]
    for document in policies:
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for s in document["Statement"]
        )


def test_trigger_reaches_a_queue_with_a_dead_letter_queue(template: dict[str, Any]) -> None:
    notifications = resources(template, "Custom::S3BucketNotifications")
    (config,) = [n["Properties"]["NotificationConfiguration"] for n in notifications.values()]
    (queue_config,) = config["QueueConfigurations"]
    assert queue_config["Events"] == ["s3:ObjectCreated:*"]
    rules = {r["Name"]: r["Value"] for r in queue_config["Filter"]["Key"]["FilterRules"]}
    assert rules == {"prefix": "input/", "suffix": "triggerfile"}

    queues = resources(template, "AWS::SQS::Queue")
    redriven = [q for q in queues.values() if "RedrivePolicy" in q["Properties"]]
    assert len(redriven) == 1 and len(queues) == 2
    assert redriven[0]["Properties"]["RedrivePolicy"]["maxReceiveCount"] == 5
    for queue in queues.values():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True


def test_queue_visibility_covers_six_function_timeouts(template: dict[str, Any]) -> None:
    (mapping,) = resources(template, "AWS::Lambda::EventSourceMapping").values()
    function_id = mapping["Properties"]["FunctionName"]["Ref"]
    timeout = template["Resources"][function_id]["Properties"]["Timeout"]
    queue_id = mapping["Properties"]["EventSourceArn"]["Fn::GetAtt"][0]
    visibility = template["Resources"][queue_id]["Properties"]["VisibilityTimeout"]
    assert visibility >= 6 * timeout
    assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_functions_use_the_project_defaults(template: dict[str, Any]) -> None:
    functions = {
        k: f for k, f in resources(template, "AWS::Lambda::Function").items()
        if not k.startswith("BucketNotificationsHandler")
    }  # fmt: skip
    assert len(functions) == 4
    for function in functions.values():
        props = function["Properties"]
        assert_function_defaults(props)
        assert props["Handler"].startswith("lambdas.caption_translation.")
        assert len(props["Layers"]) == 1
    for log_group in resources(template, "AWS::Logs::LogGroup").values():
        assert log_group["Properties"]["RetentionInDays"] == 30


def test_no_policy_grants_every_action_or_a_whole_service(template: dict[str, Any]) -> None:
    for name, policy in resources(template, "AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = (
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            )
            for action in actions:
                assert action != "*" and not action.endswith(":*"), f"{name} grants {action}"


def test_unscoped_resources_are_only_for_actions_aws_cannot_scope(template: dict[str, Any]) -> None:
    allowed_unscoped = re.compile(r"^(translate|xray|logs):")
    for name, policy in resources(template, "AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Resource"] == "*":
                actions = (
                    statement["Action"]
                    if isinstance(statement["Action"], list)
                    else [statement["Action"]]
                )
                assert all(allowed_unscoped.match(a) for a in actions), f"{name}: {actions} on *"


def test_state_machine_definition_is_inlined_and_fully_substituted(
    template: dict[str, Any],
) -> None:
    (machine,) = resources(template, "AWS::StepFunctions::StateMachine").values()
    props = machine["Properties"]
    assert "DefinitionString" not in props and "DefinitionSubstitutions" not in props
    assert "${" not in json.dumps(props["Definition"])
    assert props["LoggingConfiguration"]["Level"] == "ALL"
    assert props["TracingConfiguration"] == {"Enabled": True}
    assert props["Definition"]["TimeoutSeconds"] == 86400


def test_translate_data_access_role_is_guarded_against_confused_deputies(
    template: dict[str, Any],
) -> None:
    roles = resources(template, "AWS::IAM::Role")
    (role,) = [r for k, r in roles.items() if k.startswith("TranslateDataAccessRole")]
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "translate.amazonaws.com"}
    assert set(statement["Condition"]) == {"StringEquals", "ArnLike"}


def test_workflow_alarms_notify_the_batch_topic(template: dict[str, Any]) -> None:
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    metrics = set()
    for alarm in alarms.values():
        props = alarm["Properties"]
        if "MetricName" in props:
            metrics.add(props["MetricName"])
        for query in props.get("Metrics", []):
            if "MetricStat" in query:
                metrics.add(query["MetricStat"]["Metric"]["MetricName"])
    assert metrics == {
        "ApproximateNumberOfMessagesVisible",
        "ExecutionsFailed",
        "ExecutionsTimedOut",
        "ExecutionsAborted",
    }
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [
            {"Ref": next(iter(resources(template, "AWS::SNS::Topic")))}
        ]
