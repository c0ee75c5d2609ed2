"""Destroying the stack on the local cloud leaves nothing that bills: both endpoints the
training workflow deployed, and the classifier versions it trained, are removed by the
stack's cleanup resource."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from localcloud.cloud import LocalCloud
from localcloud.core.iam_check import check
from localcloud.demos.ticket_classification import deploy, train_endpoints

pytestmark = [pytest.mark.workflow, pytest.mark.xdist_group("tickets")]

STACK = "TicketClassification-test"


def _status(cloud: LocalCloud, arn: str) -> str:
    try:
        described = cloud.client("comprehend").describe_document_classifier(
            DocumentClassifierArn=arn
        )
    except ClientError as error:
        assert error.response["Error"]["Code"] == "ResourceNotFoundException"
        return "GONE"
    return str(described["DocumentClassifierProperties"]["Status"])


def test_destroying_the_stack_deletes_both_endpoints_and_the_trained_classifiers(
    assembly_dir: Path, tmp_path: Path
) -> None:
    with LocalCloud(assembly_dir, work_dir=tmp_path / "localcloud") as cloud:
        stack = deploy(cloud, STACK)
        train_endpoints(cloud, stack)
        comprehend = cloud.client("comprehend")
        endpoints = comprehend.list_endpoints()["EndpointPropertiesList"]
        assert sorted(e["Status"] for e in endpoints) == ["IN_SERVICE", "IN_SERVICE"]
        models = [e["ModelArn"] for e in endpoints]

        cloud.destroy(STACK)

        assert comprehend.list_endpoints()["EndpointPropertiesList"] == []
        assert {_status(cloud, arn) for arn in models} <= {"DELETING", "GONE"}
        report = check(cloud)
        assert report.denied == [], report.format()
