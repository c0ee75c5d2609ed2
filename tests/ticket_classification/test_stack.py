"""The synthesized TicketClassification template: the properties that matter, checked directly,
and the settings that must fail `cdk synth`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from app import cdk_json_context
from lambdas.shared.errors import ConfigurationError
from lambdas.ticket_classification.warehouse import COLUMNS, DDL
from stacks.config import TicketSettings
from stacks.ticket_classification import TicketClassificationStack
from tests.helpers.cleanup import arn_text, cleanup
from tests.helpers.templates import only_properties, resources, stack_template

pytestmark = pytest.mark.synth

STACK = "TicketClassification-test"
OPERATION_ARN = "arn:aws:comprehend:us-east-1:123456789012:document-classifier-endpoint/ops"
RESOURCE_ARN = "arn:aws:comprehend:us-east-1:123456789012:document-classifier-endpoint/res"


@pytest.fixture(scope="module")
def template(assembly_dir: Path) -> dict[str, Any]:
    return stack_template(assembly_dir, STACK)


def _policy_of(template: dict[str, Any], role_prefix: str) -> list[dict[str, Any]]:
    statements = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        roles = json.dumps(policy["Properties"]["Roles"])
        if role_prefix in roles:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def test_the_warehouse_password_is_generated_and_never_in_the_template(
    template: dict[str, Any],
) -> None:
    secret = only_properties(template, "AWS::SecretsManager::Secret")
    generated = secret["GenerateSecretString"]
    assert generated["GenerateStringKey"] == "password"
    assert json.loads(generated["SecretStringTemplate"]) == {"username": "ticketadmin"}
    namespace = only_properties(template, "AWS::RedshiftServerless::Namespace")
    password = json.dumps(namespace["AdminUserPassword"])
    assert "{{resolve:secretsmanager:" in password and ":SecretString:password::}}" in password
    stream = only_properties(template, "AWS::KinesisFirehose::DeliveryStream")
    redshift = stream["RedshiftDestinationConfiguration"]
    assert "Password" not in redshift and "Username" not in redshift
    assert redshift["SecretsManagerConfiguration"]["Enabled"] is True
    assert "Parameters" not in template or not any(
        "assword" in name for name in template["Parameters"]
    )


def test_firehose_copies_the_published_columns_into_serverless_redshift(
    template: dict[str, Any],
) -> None:
    redshift = only_properties(template, "AWS::KinesisFirehose::DeliveryStream")[
        "RedshiftDestinationConfiguration"
    ]
    assert redshift["CopyCommand"] == {
        "DataTableName": "ticket_records",
        "DataTableColumns": "id,title,description,creation_time,operation,resource",
        # JSON records whose keys name the columns; the classifier writes UTC times as
        # "2026-01-05 08:00:00" (the local engine's COPY tests parse these same options).
        "CopyOptions": "FORMAT AS JSON 'auto' TIMEFORMAT 'YYYY-MM-DD HH:MI:SS' TRUNCATECOLUMNS",
    }
    assert COLUMNS == ("id", "title", "description", "creation_time", "operation", "resource")
    url = json.dumps(redshift["ClusterJDBCURL"])
    assert "jdbc:redshift://" in url and "Workgroup.Endpoint.Address" in url
    assert redshift["S3Configuration"]["CompressionFormat"] == "UNCOMPRESSED"
    workgroup = only_properties(template, "AWS::RedshiftServerless::Workgroup")
    assert workgroup["BaseCapacity"] == 8
    # The table is created by the stack, through the Data API, before Firehose exists.
    (table_id, table) = next(iter(resources(template, "Custom::TicketsTable").items()))
    assert table["Properties"]["Ddl"] == DDL
    (stream_resource,) = resources(template, "AWS::KinesisFirehose::DeliveryStream").values()
    assert table_id in stream_resource["DependsOn"]


def test_ticket_handler_is_asynchronous_with_a_failure_queue(template: dict[str, Any]) -> None:
    config = only_properties(template, "AWS::Lambda::EventInvokeConfig")
    assert config["MaximumRetryAttempts"] == 2
    destination = json.dumps(config["DestinationConfig"]["OnFailure"]["Destination"])
    assert "HandlerFailures" in destination
    classifier = [
        s
        for s in _policy_of(template, "TicketClassifierRole")
        if "lambda:InvokeFunction" in s["Action"]
    ]
    assert len(classifier) == 1 and "TicketHandler" in json.dumps(classifier[0]["Resource"])


def test_without_endpoint_arns_the_stack_trains_them_and_the_grants_name_them(
    template: dict[str, Any],
) -> None:
    parameters = resources(template, "AWS::SSM::Parameter")
    assert sorted(p["Properties"]["Value"] for p in parameters.values()) == ["unset", "unset"]
    assert sorted(p["Properties"]["Name"] for p in parameters.values()) == [
        f"/{STACK}/OperationEndpointArn",
        f"/{STACK}/ResourceEndpointArn",
    ]
    statements = _policy_of(template, "TicketClassifierRole")
    (classify,) = [s for s in statements if s["Action"] == "comprehend:ClassifyDocument"]
    endpoints = sorted(json.dumps(r) for r in classify["Resource"])
    assert len(endpoints) == 2 and "-operation" in endpoints[0] and "-resource" in endpoints[1]
    assert "*" not in "".join(endpoints)
    for statement in statements:
        assert statement["Resource"] != "*" or sorted(statement["Action"]) == [
            "xray:PutTelemetryRecords",
            "xray:PutTraceSegments",
        ]
    machines = resources(template, "AWS::StepFunctions::StateMachine")
    (training,) = machines.values()
    assert training["Properties"]["Definition"]["TimeoutSeconds"] == 8 * 3600
    workflow = _policy_of(template, "TrainingWorkflowRole")
    actions = {
        a
        for s in workflow
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert {"comprehend:CreateDocumentClassifier", "comprehend:UpdateEndpoint",
            "ssm:PutParameter", "iam:PassRole"} <= actions  # fmt: skip


def test_endpoint_arns_in_context_narrow_the_classify_grant() -> None:
    app = App(
        context={
            **cdk_json_context(),
            "ticket_classification:operationEndpointArn": OPERATION_ARN,
            "ticket_classification:resourceEndpointArn": RESOURCE_ARN,
        }
    )
    stack = TicketClassificationStack(
        app, "TicketClassification-arns", settings=TicketSettings.from_context(app.node)
    )
    template = Template.from_stack(stack).to_json()
    values = sorted(
        p["Properties"]["Value"] for p in resources(template, "AWS::SSM::Parameter").values()
    )
    assert values == [OPERATION_ARN, RESOURCE_ARN]
    statements = _policy_of(template, "TicketClassifierRole")
    (classify,) = [s for s in statements if s["Action"] == "comprehend:ClassifyDocument"]
    assert sorted(classify["Resource"]) == [OPERATION_ARN, RESOURCE_ARN]
    # Endpoints given: nothing to train.
    assert resources(template, "AWS::StepFunctions::StateMachine") == {}


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "ticket_classification:operationEndpointArn",
            "arn:aws:s3:::bucket",
            "not a Comprehend endpoint",
        ),
        ("ticket_classification:baseCapacity", 12, "multiple of 8"),
        ("ticket_classification:adminUsername", "admin", "other than 'admin'"),
        ("ticket_classification:database", "Tickets-DB", "lowercase Redshift name"),
        ("ticket_classification:bufferSeconds", 1000, "between 0 and 900"),
        ("ticket_classification:resourceEndpointArn", RESOURCE_ARN, "give both"),
    ],
)
def test_bad_settings_fail_synth_with_the_reason(key: str, value: Any, message: str) -> None:
    app = App(context={key: value})
    with pytest.raises(ConfigurationError, match=message):
        TicketSettings.from_context(app.node)


def test_stack_deletion_removes_both_endpoints_and_the_classifier_versions_runs_trained(
    template: dict[str, Any],
) -> None:
    found = cleanup(template)
    endpoints = [arn_text(arn) for arn in found.properties["ComprehendEndpointArns"]]
    classifiers = found.properties["ComprehendClassifierNames"]
    assert [arn.rsplit("/", 1)[1] for arn in endpoints] == classifiers  # endpoint = classifier
    assert [name.rsplit("-", 1)[1] for name in classifiers] == ["operation", "resource"]
    (machine_id,) = [
        k for k, v in template["Resources"].items()
        if v["Type"] == "AWS::StepFunctions::StateMachine"
    ]  # fmt: skip
    assert found.protects(template, machine_id)
    definition = json.dumps(template["Resources"][machine_id]["Properties"]["Definition"])
    assert (
        definition.count('"Tags": [{"Key": "StackName", "Value": {"Ref": "AWS::StackName"}}]') == 2
    )
    assert found.grants["comprehend:DeleteEndpoint"] == set(endpoints)
    assert found.grants["comprehend:DescribeEndpoint"] == set(endpoints)
    versions = found.grants["comprehend:DeleteDocumentClassifier"]
    assert {v.rsplit(":", 1)[1] for v in versions} == {
        f"document-classifier/{name}/version/*" for name in classifiers
    }
    assert found.grants["comprehend:StopTrainingDocumentClassifier"] == versions
    assert found.grants["comprehend:ListDocumentClassifiers"] == {"*"}
    assert {a for a in found.grants if a.startswith("comprehend:")} == {
        "comprehend:DeleteEndpoint", "comprehend:DescribeEndpoint",
        "comprehend:DeleteDocumentClassifier", "comprehend:StopTrainingDocumentClassifier",
        "comprehend:ListDocumentClassifiers",
    }  # fmt: skip
