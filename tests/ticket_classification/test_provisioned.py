"""End to end on the local cloud with the provisioned-cluster configuration: the cluster is in
Redshift's control plane, the table is created through the Data API by cluster identifier,
Firehose COPYs through the cluster's JDBC URL, and every call is inside the deployed policies."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

import pytest

from localcloud.cloud import LocalCloud
from localcloud.core.iam_check import check
from localcloud.demos.ticket_classification import (
    TicketsStack,
    deploy,
    sample_tickets,
    train_endpoints,
)
from tests.ticket_classification.helpers import PROVISIONED_STACK, provisioned_assembly

pytestmark = [pytest.mark.workflow, pytest.mark.xdist_group("tickets-provisioned")]


@pytest.fixture(scope="module")
def provisioned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TicketsStack]:
    assembly = provisioned_assembly()
    work_dir = tmp_path_factory.mktemp("tickets-provisioned") / "localcloud"
    with LocalCloud(assembly, work_dir=work_dir) as cloud:
        stack = deploy(cloud, PROVISIONED_STACK)
        train_endpoints(cloud, stack)
        yield stack


def test_tickets_land_in_the_cluster_and_no_call_is_denied(provisioned: TicketsStack) -> None:
    cloud = provisioned.cloud
    identifier = provisioned.output("ClusterIdentifier")
    assert "WorkgroupName" not in provisioned.stack.outputs
    (cluster,) = cloud.client("redshift").describe_clusters(ClusterIdentifier=identifier)[
        "Clusters"
    ]
    assert cluster["NodeType"] == "ra3.xlplus" and cluster["NumberOfNodes"] == 2
    assert cluster["Encrypted"] is True and cluster["DBName"] == "tickets"
    assert cluster["MasterUsername"] == "ticketadmin"

    batch = sample_tickets(8, seed=61)
    answers = {t.ticket_id: provisioned.classify(t.event()) for t in batch}
    assert all("Error" not in a for a in answers.values())
    assert provisioned.classify(batch[0].event())["Duplicate"] is True
    cloud.settle(timeout=60)
    provisioned.wait_delivered()
    assert provisioned.delivery.errors == []
    rows = provisioned.sql("SELECT id, operation, resource FROM tickets ORDER BY id")
    assert sorted(r["id"] for r in rows) == sorted(answers)  # each ticket once
    for row in rows:
        answer = answers[row["id"]]
        assert (row["operation"], row["resource"]) == (
            answer["Operation"]["Name"],
            answer["Resource"]["Name"],
        )

    # The Data API names the cluster, not a workgroup; an unknown cluster is a clear error.
    data = cloud.client("redshift-data")
    with pytest.raises(data.exceptions.ValidationException, match="Cluster nope not found"):
        data.execute_statement(
            ClusterIdentifier="nope",
            Database="tickets",
            SecretArn=provisioned.output("AdminSecretArn"),
            Sql="SELECT 1",
        )

    # A secret naming another cluster is refused, as the Data API refuses it.
    secrets = cloud.client("secretsmanager")
    admin = json.loads(
        secrets.get_secret_value(SecretId=provisioned.output("AdminSecretArn"))["SecretString"]
    )
    other = secrets.create_secret(
        Name="tickets-other-cluster",
        SecretString=json.dumps({**admin, "dbClusterIdentifier": "another-cluster"}),
    )["ARN"]
    refused = data.execute_statement(
        ClusterIdentifier=identifier, Database="tickets", SecretArn=other, Sql="SELECT 1"
    )
    failed = cloud.engines["redshift-data"].wait(refused["Id"])
    assert failed.status == "FAILED" and "for cluster another-cluster" in str(failed.error)

    report = check(cloud)
    assert report.denied == [], report.format()
    assert report.unverifiable == [], report.format()
    # The grant on the cluster's ARN is the one that authorized the table's creation.
    assert not [u for u in report.unused if u.action == "redshift-data:ExecuteStatement"]
    executed = [
        call
        for call in cloud.recorder.calls()
        if call.service == "redshift-data"
        and call.operation == "ExecuteStatement"
        and "TableSetup" in (call.principal or "")
    ]
    assert executed and all(call.params.get("ClusterIdentifier") == identifier for call in executed)
    # And the check denies the same call on another cluster.
    params = {**executed[0].params, "ClusterIdentifier": "another-cluster"}
    denied = check(cloud, [replace(executed[0], params=params)]).denied
    assert [d.action for d in denied] == ["redshift-data:ExecuteStatement"]
    assert denied[0].resource.endswith(":cluster:another-cluster")
