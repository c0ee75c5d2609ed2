"""The defaults the shared constructs give every stack: trust conditions of the roles services
assume, table billing and recovery, data access grants, poll budgets and checked numbers."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, RemovalPolicy, Stack
from aws_cdk.assertions import Template

from app import cdk_json_context
from lambdas.shared.errors import ConfigurationError
from stacks.config import in_range, max_polls
from stacks.constructs import AccessLogsBucket, SecureBucket, WorkflowTable
from stacks.constructs.service_role import DataAccessRole, ServiceRole

pytestmark = pytest.mark.synth


def _resources(stack: Stack, resource_type: str) -> list[dict[str, Any]]:
    found = Template.from_stack(stack).find_resources(resource_type)
    return [resource["Properties"] for resource in found.values()]


def _trust_conditions(stack: Stack) -> list[dict[str, Any] | None]:
    return [
        role["AssumeRolePolicyDocument"]["Statement"][0].get("Condition")
        for role in _resources(stack, "AWS::IAM::Role")
    ]


def test_a_service_role_names_the_account_and_the_callers_it_trusts() -> None:
    stack = Stack(App(), "Roles")
    ServiceRole(
        stack,
        "DataAccess",
        service="comprehend",
        description="data access",
        source_account="123456789012",
        source_arn="arn:aws:comprehend:us-east-1:123456789012:*",
    )
    ServiceRole(stack, "Delivery", service="firehose", description="delivery", external_id="1")
    ServiceRole(
        stack, "Both", service="firehose", description="both", source_account="2", external_id="2"
    )
    ServiceRole(stack, "Job", service="glue", description="a job")
    assert _trust_conditions(stack) == [
        {
            "StringEquals": {"aws:SourceAccount": "123456789012"},
            "ArnLike": {"aws:SourceArn": "arn:aws:comprehend:us-east-1:123456789012:*"},
        },
        {"StringEquals": {"sts:ExternalId": "1"}},
        {"StringEquals": {"aws:SourceAccount": "2", "sts:ExternalId": "2"}},
        None,
    ]


def test_a_data_access_role_reads_and_lists_one_prefix_and_writes_another() -> None:
    stack = Stack(App(context=cdk_json_context()), "DataAccess")
    bucket = SecureBucket(stack, "Bucket", access_logs=AccessLogsBucket(stack, "Logs"))
    DataAccessRole(
        stack,
        "Role",
        service="translate",
        description="data access",
        source_account="123456789012",
        source_arn="arn:aws:translate:us-east-1:123456789012:*",
        bucket=bucket,
        reads="in/*",
        writes="out/*",
    )
    (policy,) = _resources(stack, "AWS::IAM::Policy")
    statements = policy["PolicyDocument"]["Statement"]
    assert [(s["Action"], s.get("Condition")) for s in statements] == [
        ("s3:GetObject", None),
        ("s3:PutObject", None),
        ("s3:ListBucket", {"StringLike": {"s3:prefix": ["in/*"]}}),
    ]
    assert [s["Resource"]["Fn::Join"][1][1] for s in statements[:2]] == ["/in/*", "/out/*"]


def test_a_workflow_table_is_billed_per_request_recoverable_and_kept_unless_told() -> None:
    stack = Stack(App(), "Tables")
    WorkflowTable(stack, "Kept", partition_key="pk", sort_key="sk")
    WorkflowTable(stack, "Lock", partition_key="pk", removal_policy=RemovalPolicy.DESTROY)
    found = Template.from_stack(stack).find_resources("AWS::DynamoDB::Table")
    assert sorted(resource["DeletionPolicy"] for resource in found.values()) == [
        "Delete",
        "Retain",
    ]
    for resource in found.values():
        table = resource["Properties"]
        assert table["BillingMode"] == "PAY_PER_REQUEST"
        assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_a_poll_budget_allows_at_least_one_poll() -> None:
    assert max_polls(60, 60) == 60
    assert max_polls(1, 120) == 1


def test_a_number_outside_its_range_or_of_the_wrong_kind_is_refused_by_name() -> None:
    assert in_range("k:ratio", "0.25", float, 0.0, 0.5) == 0.25
    with pytest.raises(ConfigurationError, match="k:count must be an integer, got 'x'"):
        in_range("k:count", "x", int, 1, 9)
    out_of_range = r"k:ratio must be between 0\.0 and 0\.5, got 0\.75"
    with pytest.raises(ConfigurationError, match=out_of_range):
        in_range("k:ratio", 0.75, float, 0.0, 0.5)
