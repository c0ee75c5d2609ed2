"""End to end on the local cloud: start the Glue workflow as a user would and check what a user
finds: each job's state, the run's message on the queue, the endpoint and SSM; a worse model
never reaches the endpoint; bad input fails the run visibly and changes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localcloud.cloud import DeployedStack, LocalCloud
from localcloud.core.iam_check import check
from localcloud.demos.glue_ml_pipeline import SAMPLE, generator, run_workflow, upload_source

pytestmark = [pytest.mark.workflow, pytest.mark.xdist_group("glue")]

STACK = "GlueMlPipeline-test"
JOBS = ("DataExtractionJob", "DataProcessingJob", "TrainingJob", "MessagingQueueJob")
# Grants only a stuck job uses: a training or transform job past its poll budget is stopped.
TIMEOUT_PATH_GRANTS = {"sagemaker:StopTrainingJob", "sagemaker:StopTransformJob"}


def _endpoint(cloud: LocalCloud, stack: DeployedStack) -> dict[str, Any] | None:
    try:
        return dict(
            cloud.client("sagemaker").describe_endpoint(EndpointName=stack.outputs["EndpointName"])
        )
    except ClientError as exc:
        assert "Could not find endpoint" in str(exc)
        return None


def _accuracy(cloud: LocalCloud, stack: DeployedStack) -> str:
    name = stack.outputs["ModelAccuracyParameterName"]
    return str(cloud.client("ssm").get_parameter(Name=name)["Parameter"]["Value"])


def test_only_a_better_model_reaches_the_endpoint_and_every_grant_is_used(
    cloud: LocalCloud,
) -> None:
    stack = cloud.deploy(STACK)
    noisy = generator().to_csv(420, seed=3, label_noise=0.6)

    upload_source(cloud, stack, noisy)
    first = run_workflow(cloud, stack)
    assert first.jobs == dict.fromkeys(JOBS, "SUCCEEDED"), first.errors
    assert first.status == "COMPLETED" and not first.failed
    assert first.message is not None
    assert first.message["status"] == "SUCCEEDED"
    assert first.message["deployed"] is True
    assert first.message["decision"] == "deployed: first model"
    first_accuracy = first.message["metrics"]["test_accuracy"]
    endpoint = _endpoint(cloud, stack)
    assert endpoint is not None and endpoint["EndpointStatus"] == "InService"
    first_config = endpoint["EndpointConfigName"]
    assert _accuracy(cloud, stack) == f"{first_accuracy:.4f}"

    upload_source(cloud, stack, SAMPLE.read_bytes())
    second = run_workflow(cloud, stack)
    assert second.message is not None and second.message["deployed"] is True, second.message
    second_accuracy = second.message["metrics"]["test_accuracy"]
    # The live model is scored again on this run's test split, not taken from SSM (its score
    # on the first run's noisier split).
    assert first.message["live_model"] is None
    assert second.message["live_model"] == first_config
    live_on_second_split = second.message["metrics"]["live_accuracy"]
    assert live_on_second_split is not None and live_on_second_split != first_accuracy
    assert second_accuracy > live_on_second_split
    assert second.message["decision"] == (
        "deployed: better than the live model on this run's test split"
    )
    endpoint = _endpoint(cloud, stack)
    assert endpoint is not None and endpoint["EndpointStatus"] == "InService"
    assert endpoint["EndpointConfigName"] != first_config
    second_config = endpoint["EndpointConfigName"]

    # The gate: a model trained on noisy labels scores worse and is not deployed.
    upload_source(cloud, stack, noisy)
    third = run_workflow(cloud, stack)
    assert third.jobs == dict.fromkeys(JOBS, "SUCCEEDED"), third.errors
    assert third.message is not None and third.message["deployed"] is False
    metrics = third.message["metrics"]
    assert metrics["test_accuracy"] <= metrics["live_accuracy"]
    assert third.message["live_model"] == second_config
    assert third.message["decision"] == (
        "kept the live model: the new one is not better on this run's test split"
    )
    endpoint = _endpoint(cloud, stack)
    assert endpoint is not None and endpoint["EndpointConfigName"] == second_config
    assert _accuracy(cloud, stack) == f"{second_accuracy:.4f}"
    # The live model's reported score is its score on this run's test rows: the endpoint, which
    # still serves it, classifies them with the same accuracy.
    test_key = f"processed/{third.run_id}/test/test.txt"
    lines = cloud.client("s3").get_object(Bucket=stack.outputs["BucketName"], Key=test_key)
    rows = [line.split(" ", 1) for line in lines["Body"].read().decode().splitlines() if line]
    answer = cloud.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=stack.outputs["EndpointName"],
        ContentType="application/json",
        Body=json.dumps({"instances": [text for _, text in rows]}),
    )
    served = json.loads(answer["Body"].read())
    correct = sum(1 for (label, _), p in zip(rows, served, strict=True) if p["label"][0] == label)
    assert metrics["test_rows"] == len(rows)
    assert metrics["live_accuracy"] == round(correct / len(rows), 4)
    assert metrics["live_accuracy"] != second_accuracy  # a different split, a different score

    answer = cloud.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=stack.outputs["EndpointName"],
        ContentType="application/json",
        Body=json.dumps(
            {
                "instances": ["footballer played the league season for the club", "village"],
                "configuration": {"k": 3},
            }
        ),
    )
    predictions = json.loads(answer["Body"].read())
    assert len(predictions) == 2
    assert predictions[0]["label"][0] == "__label__4"  # Athlete
    assert all(len(p["label"]) == len(p["prob"]) == 3 for p in predictions)
    assert predictions[0]["prob"] == sorted(predictions[0]["prob"], reverse=True)

    report = check(cloud)
    assert report.denied == [], report.format()
    assert report.unverifiable == []
    unused = {u.action for u in report.unused}
    assert unused <= TIMEOUT_PATH_GRANTS, report.format()
    roles = {p.rsplit("/", 1)[-1].split("-")[2].removesuffix("Role") for p in report.principals}
    assert len(report.principals) == 5, roles


def test_bad_input_fails_the_run_visibly_and_changes_nothing(cloud: LocalCloud) -> None:
    stack = cloud.deploy(STACK)

    # Nothing at the source: extraction fails (after its retry), processing never runs.
    missing = run_workflow(cloud, stack)
    assert missing.failed
    assert missing.jobs == {"DataExtractionJob": "FAILED", "MessagingQueueJob": "SUCCEEDED"}
    assert missing.message is not None and missing.message["status"] == "FAILED"
    assert missing.message["failure"]["job"] == "DataExtractionJob"
    # The job role may not list the bucket, so S3 answers a missing key with AccessDenied.
    assert "cannot be read (AccessDenied)" in missing.message["failure"]["reason"]
    assert missing.message["deployed"] is False

    # Malformed rows past the allowed ratio: processing fails, the reasons are kept.
    good = SAMPLE.read_bytes()
    bad = b"".join(b"%d,no abstract\n" % i for i in range(200))
    upload_source(cloud, stack, good + bad)
    malformed = run_workflow(cloud, stack)
    assert malformed.jobs["DataProcessingJob"] == "FAILED"
    assert "TrainingJob" not in malformed.jobs
    assert malformed.message is not None and malformed.message["status"] == "FAILED"
    assert "200 of 1600 rows rejected" in malformed.message["failure"]["reason"]
    rejects_key = f"rejects/{malformed.run_id}/rejects.jsonl"
    body = cloud.client("s3").get_object(Bucket=stack.outputs["BucketName"], Key=rejects_key)
    rejects = [json.loads(line) for line in body["Body"].read().splitlines()]
    assert len(rejects) == 200
    assert rejects[0]["line"] == 1401
    assert rejects[0]["reason"] == "expected 3 fields (class,title,abstract), got 2"

    # Training fails on SageMaker: the run fails, no endpoint is created.
    upload_source(cloud, stack, good)
    cloud.sagemaker.fail_next_training("AlgorithmError: out of memory")
    failed = run_workflow(cloud, stack)
    assert failed.jobs["TrainingJob"] == "FAILED"
    assert failed.message is not None and failed.message["status"] == "FAILED"
    assert "AlgorithmError: out of memory" in failed.message["failure"]["reason"]
    assert _endpoint(cloud, stack) is None
    assert _accuracy(cloud, stack) == "none"

    report = check(cloud)
    assert report.denied == [], report.format()
