"""Destroying the stack on the local cloud leaves nothing that bills: the endpoint a round
created and the classifier versions it trained are removed by the stack's cleanup resource."""

from __future__ import annotations

import pytest

from localcloud.cloud import LocalCloud
from localcloud.core.iam_check import check
from tests.comprehend_model_lifecycle.helpers import deploy, sample, summary

pytestmark = [pytest.mark.workflow, pytest.mark.xdist_group("comprehend")]


def test_destroying_the_stack_deletes_the_endpoint_and_models_a_round_created(
    cloud: LocalCloud,
) -> None:
    stack = deploy(cloud)
    (notification,) = stack.run("initial.csv", sample("initial.csv"))
    assert summary(notification)["decision"] == "promoted"
    (endpoint,) = stack.endpoints()
    assert endpoint["Status"] == "IN_SERVICE"
    versions = stack.classifier_versions()
    assert versions
    # Tagged with the stack's name, so a user can find strays.
    created = [c for c in cloud.recorder.calls() if c.operation in ("CreateEndpoint",
               "CreateDocumentClassifier")]  # fmt: skip
    assert created and all(
        c.params["Tags"] == [{"Key": "StackName", "Value": stack.stack.name}] for c in created
    )

    cloud.destroy(stack.stack.name)

    assert stack.endpoints() == []
    assert {stack.classifier_status(arn) for arn in versions} <= {"DELETING", "GONE"}
    report = check(cloud)
    assert report.denied == [], report.format()
    assert stack.stack.name not in cloud.stacks
