"""Destroying the stack on the local cloud leaves no model version running: one a run left
starting or running is stopped (never deleted: it is the user's model, a deploy input)."""

from __future__ import annotations

from typing import Any

import pytest

from localcloud.core.iam_check import check
from tests.custom_labels_batch.helpers import deploy

pytestmark = [pytest.mark.workflow, pytest.mark.xdist_group("custom-labels-batch")]


def test_destroying_the_stack_stops_a_model_version_left_running(cloud: Any) -> None:
    stack = deploy(cloud)
    # What a run does first; an aborted run would leave the model billing like this.
    cloud.client("rekognition").start_project_version(
        ProjectVersionArn=stack.version_arn, MinInferenceUnits=1
    )
    cloud.clock.advance(3600)
    assert stack.model_status() == "RUNNING"

    cloud.destroy(stack.stack.name)

    assert stack.model_status() in ("STOPPING", "STOPPED")
    billed = cloud.rekognition.usage.inference_unit_seconds(stack.version_arn)
    cloud.clock.advance(3600)
    assert cloud.rekognition.usage.inference_unit_seconds(stack.version_arn) == billed
    assert [c.operation for c in stack.calls("StopProjectVersion")] == ["StopProjectVersion"]
    report = check(cloud)
    assert report.denied == [], report.format()


def test_destroying_a_stack_whose_runs_stopped_the_model_changes_nothing(cloud: Any) -> None:
    stack = deploy(cloud)
    assert stack.model_status() == "TRAINING_COMPLETED"

    cloud.destroy(stack.stack.name)

    assert stack.model_status() == "TRAINING_COMPLETED"
    assert stack.calls("StopProjectVersion") == []
