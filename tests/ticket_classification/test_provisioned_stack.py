"""The TicketClassification templates with `ticket_classification:warehouse=provisioned`: a
provisioned cluster instead of Redshift Serverless, synthesized with cdk-nag (see `helpers`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from cfnlint.api import lint_all

from lambdas.shared.errors import ConfigurationError
from stacks.config import TicketSettings
from tests.helpers.templates import resources, stack_template
from tests.ticket_classification.helpers import (
    PRIVATE_STACK,
    PROVISIONED_STACK,
    SECURITY_GROUP,
    SUBNETS,
    provisioned_assembly,
)

pytestmark = [pytest.mark.synth, pytest.mark.xdist_group("tickets-provisioned")]


@pytest.fixture(scope="module")
def assembly() -> Path:
    return provisioned_assembly()


def _one(template: dict[str, Any], resource_type: str) -> tuple[str, dict[str, Any]]:
    ((logical_id, resource),) = resources(template, resource_type).items()
    return logical_id, dict(resource["Properties"])


def _statements(template: dict[str, Any], role_prefix: str) -> list[dict[str, Any]]:
    return [
        statement
        for policy in resources(template, "AWS::IAM::Policy").values()
        if role_prefix in json.dumps(policy["Properties"]["Roles"])
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_cdk_nag_and_cfn_lint_accept_both_configurations(assembly: Path) -> None:
    report = json.loads((assembly / "validation-report.json").read_text())
    assert [v for p in report["pluginReports"] for v in p.get("violations", [])] == []
    for stack in (PROVISIONED_STACK, PRIVATE_STACK):
        text = (assembly / f"{stack}.template.json").read_text()
        errors = [m for m in lint_all(text) if m.rule.id.startswith("E")]
        assert errors == [], f"{stack}: " + "; ".join(str(m) for m in errors)


def test_a_cluster_replaces_the_serverless_warehouse(assembly: Path) -> None:
    template = stack_template(assembly, PROVISIONED_STACK)
    assert not any("RedshiftServerless" in r["Type"] for r in template["Resources"].values())
    cluster_id, cluster = _one(template, "AWS::Redshift::Cluster")
    assert cluster["NodeType"] == "ra3.xlplus"
    assert (cluster["ClusterType"], cluster["NumberOfNodes"]) == ("multi-node", 2)
    assert cluster["Encrypted"] is True and cluster["PubliclyAccessible"] is True
    assert cluster["AutomatedSnapshotRetentionPeriod"] >= 1
    assert cluster["LoggingProperties"] == {
        "LogDestinationType": "cloudwatch",
        "LogExports": ["connectionlog", "userlog", "useractivitylog"],
    }
    assert template["Resources"][cluster_id]["DeletionPolicy"] == "Snapshot"
    # The admin password: generated into Secrets Manager, only referenced by the template.
    assert "ManageMasterPassword" not in cluster
    password = json.dumps(cluster["MasterUserPassword"])
    assert "{{resolve:secretsmanager:" in password and ":SecretString:password::}}" in password
    _, secret = _one(template, "AWS::SecretsManager::Secret")
    assert secret["GenerateSecretString"]["GenerateStringKey"] == "password"
    # TLS required and user activity logged, through the cluster's own parameter group.
    group_id, group = _one(template, "AWS::Redshift::ClusterParameterGroup")
    assert cluster["ClusterParameterGroupName"] == {"Ref": group_id}
    parameters = {p["ParameterName"]: p["ParameterValue"] for p in group["Parameters"]}
    assert parameters == {"require_ssl": "true", "enable_user_activity_logging": "true"}
    # Without subnets: the default VPC, as the serverless workgroup; no subnet group.
    assert resources(template, "AWS::Redshift::ClusterSubnetGroup") == {}


def test_firehose_the_table_and_the_grants_name_the_cluster(assembly: Path) -> None:
    template = stack_template(assembly, PROVISIONED_STACK)
    cluster_id, cluster = _one(template, "AWS::Redshift::Cluster")
    identifier = cluster["ClusterIdentifier"]
    _, stream = _one(template, "AWS::KinesisFirehose::DeliveryStream")
    url = stream["RedshiftDestinationConfiguration"]["ClusterJDBCURL"]
    assert url == {
        "Fn::Join": [
            "",
            [
                "jdbc:redshift://",
                {"Fn::GetAtt": [cluster_id, "Endpoint.Address"]},
                ":",
                {"Fn::GetAtt": [cluster_id, "Endpoint.Port"]},
                "/tickets",
            ],
        ]
    }
    functions = resources(template, "AWS::Lambda::Function")
    (setup,) = [f for k, f in functions.items() if k.startswith("TableSetup")]
    variables = setup["Properties"]["Environment"]["Variables"]
    assert variables["CLUSTER_IDENTIFIER"] == identifier and "WORKGROUP_NAME" not in variables
    (table,) = resources(template, "Custom::TicketsTable").values()
    assert cluster_id in table["DependsOn"]
    (execute,) = [
        s
        for s in _statements(template, "TableSetupRole")
        if s["Action"] == "redshift-data:ExecuteStatement"
    ]
    arn = json.dumps(execute["Resource"])
    assert ":redshift:" in arn and f":cluster:{identifier}" in arn and "*" not in arn
    outputs = template["Outputs"]
    assert outputs["ClusterIdentifier"]["Value"] == identifier and "WorkgroupName" not in outputs


def test_a_private_cluster_in_given_subnets(assembly: Path) -> None:
    template = stack_template(assembly, PRIVATE_STACK)
    _, cluster = _one(template, "AWS::Redshift::Cluster")
    assert cluster["ClusterType"] == "single-node" and "NumberOfNodes" not in cluster
    assert cluster["NodeType"] == "ra3.large" and cluster["PubliclyAccessible"] is False
    assert cluster["VpcSecurityGroupIds"] == [SECURITY_GROUP]
    subnet_group_id, subnet_group = _one(template, "AWS::Redshift::ClusterSubnetGroup")
    assert cluster["ClusterSubnetGroupName"] == {"Ref": subnet_group_id}
    assert subnet_group["SubnetIds"] == list(SUBNETS)
    # Only the acknowledgment this configuration needs: not RS2 (in a subnet group) nor RS8.
    assert _acknowledged(assembly, PRIVATE_STACK) == {"AwsSolutions-RS4"}


def test_the_public_cluster_acknowledges_only_what_firehose_requires(assembly: Path) -> None:
    assert _acknowledged(assembly, PROVISIONED_STACK) == {
        "AwsSolutions-RS2",  # the default VPC, without ticket_classification:subnetIds
        "AwsSolutions-RS4",  # the default port
        "AwsSolutions-RS8",  # Firehose reaches a cluster only on a public endpoint
    }


def _acknowledged(assembly: Path, stack: str) -> set[str]:
    """The cdk-nag rules acknowledged on the cluster, each with its reason."""
    metadata = json.loads((assembly / f"{stack}.metadata.json").read_text())
    rules = set()
    for entry in metadata[f"/{stack}/Cluster"]:
        if entry["type"] == "aws:cdk:acknowledged-rules":
            for rule, reason in entry["data"].items():
                assert len(reason) > 40
                rules.add(rule.removeprefix("Annotation::"))
    return rules


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"ticket_classification:warehouse": "cluster"}, "'serverless' or 'provisioned'"),
        ({"ticket_classification:nodeType": "ds2.xlarge"}, "nodeType must be one of"),
        ({"ticket_classification:nodeType": "ra3.4xlarge"}, "needs 2 or more nodes"),
        ({"ticket_classification:numberOfNodes": 129}, "between 1 and 128"),
    ],
)
def test_bad_warehouse_settings_fail_synth_with_the_reason(
    context: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        TicketSettings.from_context(App(context=context).node)


def test_the_warehouse_defaults_to_serverless() -> None:
    settings = TicketSettings.from_context(App().node)
    assert (settings.warehouse, settings.node_type, settings.number_of_nodes) == (
        "serverless",
        "ra3.xlplus",
        1,
    )
