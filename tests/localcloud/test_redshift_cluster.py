"""The local warehouse's provisioned clusters: addressed by identifier and by endpoint host,
authorized on the cluster ARN, created only with a password CreateCluster accepts."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from localcloud.core.protocol import ServiceError
from localcloud.services.redshift.engine import Warehouse
from localcloud.services.redshift.provision import check_master_password


@pytest.fixture
def warehouse(tmp_path: Path) -> Warehouse:
    cloud = SimpleNamespace(region="us-east-1", account_id="123456789012", work_dir=tmp_path)
    return Warehouse(cloud)  # type: ignore[arg-type]


def test_a_cluster_is_found_by_identifier_and_by_its_endpoint_host(warehouse: Warehouse) -> None:
    cluster = warehouse.add_cluster("tickets-c1", "tickets", "ticketadmin", "Pass-word-1")
    warehouse.add_namespace("tickets-s1", "tickets", "ticketadmin", "Pass-word-2")
    workgroup = warehouse.add_workgroup("tickets-s1", "tickets-s1")
    assert warehouse.for_target({"ClusterIdentifier": "tickets-c1"}) is cluster
    assert warehouse.by_host("tickets-c1.cg034hpkmmjt.us-east-1.redshift.amazonaws.com") is cluster
    serverless = "tickets-s1.123456789012.us-east-1.redshift-serverless.amazonaws.com"
    assert warehouse.by_host(serverless).name == "tickets-s1"
    arns = warehouse.target_arns
    assert arns["tickets-c1"] == "arn:aws:redshift:us-east-1:123456789012:cluster:tickets-c1"
    assert arns["tickets-s1"] == workgroup
    # A workgroup is not a cluster, nor the other way round.
    with pytest.raises(ServiceError, match="Cluster tickets-s1 not found"):
        warehouse.for_target({"ClusterIdentifier": "tickets-s1"})
    with pytest.raises(ServiceError, match="Workgroup tickets-c1 does not exist"):
        warehouse.for_target({"WorkgroupName": "tickets-c1"})
    with pytest.raises(ValueError, match="exists already"):
        warehouse.add_cluster("tickets-c1", "tickets", "ticketadmin", "Pass-word-1")
    assert (warehouse.cloud.work_dir / "warehouse" / "tickets-c1.duckdb").exists()
    warehouse.close()


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("Sh0rt", "8 to 64"),
        ("A1" + "b" * 63, "8 to 64"),
        ("alllowercase1", "uppercase"),
        ("NoDigitsHere", "uppercase"),
        ("Has space 1A", "printable ASCII"),
        ("Quote'd1Aa", "printable ASCII"),
        ("At@sign1Aa", "printable ASCII"),
    ],
)
def test_create_cluster_rejects_a_password_redshift_would(password: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_master_password(password)


def _refused(password: str) -> bool:
    try:
        check_master_password(password)
    except ValueError:
        return True
    return False


def test_exactly_the_characters_createcluster_forbids_are_refused() -> None:
    """MasterUserPassword "can be any printable ASCII character (ASCII code 33-126) except '
    (single quote), " (double quote), \\, /, or @" (API_CreateCluster.html); the stack's
    generated passwords exclude those and the space."""
    refused = [chr(code) for code in range(32, 127) if _refused("Abcdefg1" + chr(code))]
    assert refused == [" ", '"', "'", "/", "@", "\\"]
    assert not _refused("Abcdefgh1234-_+=!#$%&()*,.:;<>?[]^{|}~`")
    assert _refused("Abcdéfgh1234")  # printable, but not ASCII
