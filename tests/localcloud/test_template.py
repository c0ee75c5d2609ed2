"""CloudFormation intrinsic functions, conditions and deployment order on the local cloud."""

from __future__ import annotations

from typing import Any

import pytest

from localcloud.core.template import (
    ResourceState,
    StackContext,
    TemplateError,
    deployment_order,
    references,
    resolve,
)

ACCOUNT = "123456789012"
REGION = "eu-west-1"
BUCKET_ARN = "arn:aws:s3:::my-bucket-abc123"


@pytest.fixture
def ctx() -> StackContext:
    return StackContext(
        stack_name="Captions-dev",
        account_id=ACCOUNT,
        region=REGION,
        parameters={"Stage": "dev", "Languages": "de,fr,ja"},
        resources={
            "Bucket": ResourceState(
                "Bucket",
                "AWS::S3::Bucket",
                ref="my-bucket-abc123",
                attributes={"Arn": BUCKET_ARN, "DomainName": "my-bucket-abc123.s3.amazonaws.com"},
            ),
            "Queue": ResourceState(
                "Queue",
                "AWS::SQS::Queue",
                ref=f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/jobs",
                attributes={"Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:jobs", "QueueName": "jobs"},
            ),
        },
        exports={"Shared-TopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:alerts"},
        conditions={"IsProd": False, "HasEmail": True},
    )


# --- Ref -----------------------------------------------------------------------------------------


def test_ref_to_a_parameter_is_its_value(ctx: StackContext) -> None:
    assert resolve({"Ref": "Stage"}, ctx) == "dev"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("AWS::AccountId", ACCOUNT),
        ("AWS::Region", REGION),
        ("AWS::Partition", "aws"),
        ("AWS::URLSuffix", "amazonaws.com"),
        ("AWS::StackName", "Captions-dev"),
        (
            "AWS::StackId",
            f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/Captions-dev/"
            "00000000-0000-0000-0000-000000000000",
        ),
        ("AWS::NotificationARNs", []),
    ],
)
def test_ref_to_a_pseudo_parameter(ctx: StackContext, name: str, expected: Any) -> None:
    assert resolve({"Ref": name}, ctx) == expected


def test_ref_to_a_created_resource_is_its_physical_id(ctx: StackContext) -> None:
    assert resolve({"Ref": "Bucket"}, ctx) == "my-bucket-abc123"


def test_ref_to_something_unknown_is_a_template_error(ctx: StackContext) -> None:
    with pytest.raises(TemplateError, match="Ref to Missing"):
        resolve({"Ref": "Missing"}, ctx)


def test_ref_to_an_unknown_pseudo_parameter_is_a_template_error(ctx: StackContext) -> None:
    with pytest.raises(TemplateError, match="AWS::Nonsense"):
        resolve({"Ref": "AWS::Nonsense"}, ctx)


# --- Fn::GetAtt ----------------------------------------------------------------------------------


def test_get_att_in_list_form(ctx: StackContext) -> None:
    assert resolve({"Fn::GetAtt": ["Bucket", "Arn"]}, ctx) == BUCKET_ARN


def test_get_att_in_dotted_string_form(ctx: StackContext) -> None:
    assert resolve({"Fn::GetAtt": "Queue.QueueName"}, ctx) == "jobs"


def test_get_att_resolves_an_attribute_name_given_as_an_intrinsic(ctx: StackContext) -> None:
    ctx.parameters["Attribute"] = "DomainName"
    value = resolve({"Fn::GetAtt": ["Bucket", {"Ref": "Attribute"}]}, ctx)
    assert value == "my-bucket-abc123.s3.amazonaws.com"


def test_get_att_of_an_uncreated_resource_or_unknown_attribute_fails(ctx: StackContext) -> None:
    with pytest.raises(TemplateError, match="Topic, which is not created"):
        resolve({"Fn::GetAtt": ["Topic", "Arn"]}, ctx)
    with pytest.raises(TemplateError, match="has no attribute WebsiteURL"):
        resolve({"Fn::GetAtt": ["Bucket", "WebsiteURL"]}, ctx)


# --- Fn::Join, Fn::Sub, Fn::Select, Fn::Split ----------------------------------------------------


def test_join_resolves_every_part(ctx: StackContext) -> None:
    node = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::", {"Ref": "Bucket"}]]}
    assert resolve(node, ctx) == "arn:aws:s3:::my-bucket-abc123"


def test_join_with_a_delimiter(ctx: StackContext) -> None:
    assert resolve({"Fn::Join": ["/", ["a", {"Ref": "Stage"}, "c"]]}, ctx) == "a/dev/c"


def test_sub_replaces_pseudo_parameters_parameters_and_resources(ctx: StackContext) -> None:
    node = {"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:${Stage}"}
    assert resolve(node, ctx) == f"arn:aws:logs:{REGION}:{ACCOUNT}:dev"
    assert resolve({"Fn::Sub": "s3://${Bucket}/input/"}, ctx) == "s3://my-bucket-abc123/input/"


def test_sub_with_a_variables_map(ctx: StackContext) -> None:
    node = {
        "Fn::Sub": [
            "${Name}-${Stage}-${Target}",
            {"Name": "captions", "Target": {"Fn::GetAtt": ["Queue", "Arn"]}},
        ]
    }
    assert resolve(node, ctx) == f"captions-dev-arn:aws:sqs:{REGION}:{ACCOUNT}:jobs"


def test_sub_variables_map_takes_precedence_over_parameters(ctx: StackContext) -> None:
    assert resolve({"Fn::Sub": ["${Stage}", {"Stage": "override"}]}, ctx) == "override"


def test_sub_with_a_logical_id_and_attribute(ctx: StackContext) -> None:
    assert resolve({"Fn::Sub": "${Bucket.Arn}/*"}, ctx) == f"{BUCKET_ARN}/*"


def test_sub_escape_writes_the_literal_placeholder(ctx: StackContext) -> None:
    node = {"Fn::Sub": "${!Literal} and ${Stage} and ${!Bucket.Arn}"}
    assert resolve(node, ctx) == "${Literal} and dev and ${Bucket.Arn}"


def test_select_picks_by_index_after_resolving(ctx: StackContext) -> None:
    assert resolve({"Fn::Select": [1, ["a", {"Ref": "Stage"}, "c"]]}, ctx) == "dev"
    assert resolve({"Fn::Select": ["0", ["first", "second"]]}, ctx) == "first"


def test_split_then_select(ctx: StackContext) -> None:
    assert resolve({"Fn::Split": [",", {"Ref": "Languages"}]}, ctx) == ["de", "fr", "ja"]
    node = {"Fn::Select": [2, {"Fn::Split": [",", {"Ref": "Languages"}]}]}
    assert resolve(node, ctx) == "ja"


def test_split_of_a_queue_url_selects_its_name(ctx: StackContext) -> None:
    node = {"Fn::Select": [4, {"Fn::Split": ["/", {"Ref": "Queue"}]}]}
    assert resolve(node, ctx) == "jobs"


# --- conditions ----------------------------------------------------------------------------------


def test_if_chooses_the_branch_of_its_condition(ctx: StackContext) -> None:
    assert resolve({"Fn::If": ["IsProd", "big", "small"]}, ctx) == "small"
    assert resolve({"Fn::If": ["HasEmail", {"Ref": "Stage"}, "none"]}, ctx) == "dev"


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        ({"Fn::Equals": [{"Ref": "Stage"}, "dev"]}, True),
        ({"Fn::Equals": [{"Ref": "Stage"}, "prod"]}, False),
        ({"Fn::Not": [{"Fn::Equals": [{"Ref": "Stage"}, "prod"]}]}, True),
        ({"Fn::Not": [{"Condition": "HasEmail"}]}, False),
        ({"Fn::And": [{"Condition": "HasEmail"}, {"Fn::Equals": ["a", "a"]}]}, True),
        ({"Fn::And": [{"Condition": "HasEmail"}, {"Condition": "IsProd"}]}, False),
        ({"Fn::Or": [{"Condition": "IsProd"}, {"Fn::Equals": [{"Ref": "Stage"}, "dev"]}]}, True),
        ({"Fn::Or": [{"Condition": "IsProd"}, {"Fn::Equals": ["a", "b"]}]}, False),
    ],
)
def test_condition_functions(ctx: StackContext, node: dict[str, Any], expected: bool) -> None:
    assert resolve(node, ctx) is expected


# --- Fn::ImportValue -----------------------------------------------------------------------------


def test_import_value_reads_another_stacks_export(ctx: StackContext) -> None:
    node = {"Fn::ImportValue": {"Fn::Sub": "Shared-TopicArn"}}
    assert resolve(node, ctx) == f"arn:aws:sns:{REGION}:{ACCOUNT}:alerts"


def test_import_value_of_a_missing_export_is_a_template_error(ctx: StackContext) -> None:
    with pytest.raises(TemplateError, match="Shared-QueueUrl: no deployed stack exports it"):
        resolve({"Fn::ImportValue": "Shared-QueueUrl"}, ctx)


# --- AWS::NoValue --------------------------------------------------------------------------------


def test_no_value_removes_a_property(ctx: StackContext) -> None:
    properties = {
        "BucketName": {"Ref": "Bucket"},
        "Tracing": {"Fn::If": ["IsProd", "Active", {"Ref": "AWS::NoValue"}]},
    }
    assert resolve(properties, ctx) == {"BucketName": "my-bucket-abc123"}


def test_no_value_removes_a_list_item(ctx: StackContext) -> None:
    node = {
        "Resources": [
            {"Fn::GetAtt": ["Bucket", "Arn"]},
            {"Fn::If": ["IsProd", "arn:aws:s3:::prod-only", {"Ref": "AWS::NoValue"}]},
            {"Fn::Sub": "${Bucket.Arn}/*"},
        ]
    }
    assert resolve(node, ctx) == {"Resources": [BUCKET_ARN, f"{BUCKET_ARN}/*"]}


def test_an_intrinsic_name_beside_other_keys_is_an_ordinary_key(ctx: StackContext) -> None:
    node = {"Ref": "Stage", "Other": {"Ref": "Bucket"}}
    assert resolve(node, ctx) == {"Ref": "Stage", "Other": "my-bucket-abc123"}


# --- references and deployment order -------------------------------------------------------------


def test_references_finds_refs_get_atts_and_sub_variables() -> None:
    fragment = {
        "Role": {"Fn::GetAtt": ["Role", "Arn"]},
        "Code": {"Fn::GetAtt": "Layer.Arn"},
        "Env": {"Variables": {"BUCKET": {"Ref": "Bucket"}, "REGION": {"Ref": "AWS::Region"}}},
        "Policy": {"Fn::Sub": "${Topic.TopicName}-${AWS::AccountId}-${!Escaped}"},
        "List": [{"Fn::Sub": ["jobs-${AWS::Region}", {"Unused": {"Ref": "Queue"}}]}],
    }
    assert references(fragment) == {"Role", "Layer", "Bucket", "Topic", "Queue"}


def test_a_variable_bound_in_the_sub_map_is_not_a_reference() -> None:
    assert references({"Fn::Sub": ["${Suffix}-captions", {"Suffix": "dev"}]}) == set()


def test_a_sub_map_variable_named_like_its_resource_is_no_cycle() -> None:
    resources = {
        "Queue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {"QueueName": {"Fn::Sub": ["${Queue}-dlq", {"Queue": "jobs"}]}},
        }
    }
    assert deployment_order(resources) == ["Queue"]


def _resource(properties: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"Type": "AWS::Test::Thing", "Properties": properties or {}, **extra}


def test_deployment_order_creates_dependencies_before_dependents() -> None:
    resources = {
        "Function": _resource(
            {
                "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                "Environment": {"Variables": {"BUCKET": {"Ref": "Bucket"}}},
            }
        ),
        "Mapping": _resource({"FunctionName": {"Ref": "Function"}, "Queue": {"Ref": "Queue"}}),
        "Role": _resource({"Policy": {"Fn::Sub": "${Bucket.Arn}/*"}}),
        "Bucket": _resource(),
        "Queue": _resource(),
    }
    order = deployment_order(resources)
    assert sorted(order) == sorted(resources)
    assert order.index("Bucket") < order.index("Role") < order.index("Function")
    assert order.index("Function") < order.index("Mapping")
    assert order.index("Queue") < order.index("Mapping")


def test_deployment_order_honours_depends_on_as_string_or_list() -> None:
    resources = {
        "Service": _resource(DependsOn=["Policy", "Alarm"]),
        "Policy": _resource(DependsOn="Role"),
        "Role": _resource(),
        "Alarm": _resource(),
    }
    order = deployment_order(resources)
    assert order.index("Role") < order.index("Policy") < order.index("Service")
    assert order.index("Alarm") < order.index("Service")


def test_deployment_order_ignores_references_outside_the_template() -> None:
    resources = {"Function": _resource({"Role": {"Ref": "ExistingRoleParameter"}})}
    assert deployment_order(resources) == ["Function"]


def test_deployment_order_keeps_template_order_for_independent_resources() -> None:
    resources = {"C": _resource(), "A": _resource(), "B": _resource()}
    assert deployment_order(resources) == ["C", "A", "B"]


def test_a_dependency_cycle_is_a_template_error() -> None:
    resources = {
        "A": _resource({"Target": {"Ref": "B"}}),
        "B": _resource({"Target": {"Fn::GetAtt": ["C", "Arn"]}}),
        "C": _resource(DependsOn="A"),
    }
    with pytest.raises(TemplateError, match="circular dependency"):
        deployment_order(resources)
