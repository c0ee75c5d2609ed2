"""Destroying the stack on the local cloud leaves nothing that bills: the endpoint the run
deployed, its endpoint config and model, and the training job of a run still going."""

from __future__ import annotations

from dataclasses import replace

import pytest

from localcloud.cloud import LocalCloud
from localcloud.core.iam_check import check
from localcloud.demos.glue_ml_pipeline import SAMPLE, run_workflow, upload_source

pytestmark = [pytest.mark.workflow, pytest.mark.xdist_group("glue")]

STACK = "GlueMlPipeline-test"


def test_destroying_the_stack_deletes_the_endpoint_models_and_running_training_jobs(
    cloud: LocalCloud,
) -> None:
    stack = cloud.deploy(STACK)
    upload_source(cloud, stack, SAMPLE.read_bytes())
    run = run_workflow(cloud, stack)
    assert run.message is not None and run.message["deployed"] is True, run.errors
    sagemaker = cloud.client("sagemaker")
    (endpoint,) = sagemaker.list_endpoints()["Endpoints"]
    assert endpoint["EndpointName"] == stack.outputs["EndpointName"]
    assert endpoint["EndpointStatus"] == "InService"
    assert (
        sagemaker.list_models()["Models"] and sagemaker.list_endpoint_configs()["EndpointConfigs"]
    )
    created = [c for c in cloud.recorder.calls() if c.operation.startswith("Create")
               and c.service == "sagemaker"]  # fmt: skip
    operations = {"CreateTrainingJob", "CreateModel", "CreateEndpointConfig", "CreateEndpoint"}
    assert {c.operation for c in created} >= operations
    assert all(c.params["Tags"] == [{"Key": "StackName", "Value": STACK}] for c in created)
    # A training job of a run that is still going when the stack is deleted (a long one).
    cloud.sagemaker.timings = replace(cloud.sagemaker.timings, training=30 * 24 * 3600.0)
    name = f"{stack.outputs['EndpointName'].removesuffix('-endpoint')}-stray"
    sagemaker.create_training_job(
        TrainingJobName=name,
        **{k: v for k, v in created[0].params.items() if k not in ("TrainingJobName", "Tags")},
    )

    cloud.destroy(STACK)

    assert sagemaker.list_endpoints()["Endpoints"] == []
    assert sagemaker.list_models()["Models"] == []
    assert sagemaker.list_endpoint_configs()["EndpointConfigs"] == []
    described = sagemaker.describe_training_job(TrainingJobName=name)
    assert described["TrainingJobStatus"] == "Stopped"
    report = check(cloud)
    assert report.denied == [], report.format()
