"""The workflows' state machines handle each failure where they mean to, state by state on the
local executor: a transient error is retried, an optional response field is read only where it
is present, and names sent to a service satisfy its model.

None of them may end in a States.Runtime error (a path that selects nothing, for one): on AWS no
Catch handles it, not even States.ALL
(https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html). moto's
executor lets States.ALL catch it, so the tests look for it among the task errors."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.common.test_error_names import service_model
from tests.helpers.statemachines import (
    ACCOUNT,
    REGION,
    CannedService,
    definition,
    executor,
    fragment,
    in_turn,
    json_error,
    json_result,
)

PROJECT_ARN = f"arn:aws:rekognition:{REGION}:{ACCOUNT}:project/labels/1"
CLASSIFIER_ARN = f"arn:aws:comprehend:{REGION}:{ACCOUNT}:document-classifier/tickets/version/v1"


def _custom_labels() -> dict[str, Any]:
    return definition(
        "custom_labels_batch.asl.json",
        ProjectArn=PROJECT_ARN,
        VersionName="v1",
        ProjectVersionArn=f"{PROJECT_ARN}/version/v1/1",
        MappingUuid="mapping",
        PollSeconds=1,
        MaxStartPolls=2,
        MaxDrainPolls=2,
        MinInferenceUnits=1,
        MaxInferenceUnits=1,
    )


# Custom Labels: an event source mapping being updated -------------------------------------------
@pytest.mark.parametrize(
    ("state", "then", "caught"),
    [
        ("StartProcessing", "ModelRunningSince", "StopProcessingAfterError"),
        ("StopProcessing", "StopModel", "StopProcessingAfterError"),
        ("StopProcessingAfterError", "StopModelAfterError", None),
    ],
)
def test_a_mapping_still_being_updated_is_retried(
    state: str, then: str, caught: str | None
) -> None:
    """UpdateEventSourceMapping answers ResourceInUseException while the mapping is still being
    created or updated (Lambda's model and API reference); retried, the update goes through."""
    exits = {then} | ({caught} if caught else set())
    in_use_once = in_turn(
        json_error("ResourceInUseException"), json_result({"UUID": "mapping", "State": "Enabling"})
    )
    with executor() as sfn:
        sfn.answer("lambda", "UpdateEventSourceMapping", in_use_once)
        run = sfn.run(fragment(_custom_labels(), state, exits))
    assert run.status == "SUCCEEDED"
    assert run.task_errors() == ["Lambda.ResourceInUseException"]
    assert run.output["exit"] == then
    assert run.output["mapping"] == {"state": "Enabling"}


# Custom Labels: a model version that is gone ----------------------------------------------------
DESCRIBE_EXITS = {
    "StartProcessing",
    "StartModel",
    "CountStartPoll",
    "ModelFailed",
    "ModelUnusable",
    "ReadCounts",
    "CountStopPoll",
    "ModelDidNotStop",
    "StopProcessingAfterError",
    "NotifyFailure",
}


@pytest.mark.parametrize(
    "state", ["DescribeModel", "DescribeStartingModel", "DescribeStoppingModel"]
)
def test_a_model_version_that_no_longer_exists_fails_the_run_with_its_own_error(state: str) -> None:
    """DescribeProjectVersions answers an empty list for a version name it does not know; the
    first description is then absent, not an error."""
    rekognition = CannedService(
        "rekognition", {"DescribeProjectVersions": {"ProjectVersionDescriptions": []}}
    )
    with executor() as sfn:
        sfn.answer("rekognition", "DescribeProjectVersions", rekognition.responder())
        run = sfn.run(fragment(_custom_labels(), state, DESCRIBE_EXITS))
    assert run.status == "SUCCEEDED"
    assert "States.Runtime" not in run.task_errors()
    assert run.output["exit"] == "StopProcessingAfterError"
    assert run.output["error"]["Error"] == "ModelNotFound"


@pytest.mark.parametrize(
    ("state", "status", "then"),
    [
        ("DescribeModel", "RUNNING", "StartProcessing"),
        ("DescribeModel", "STOPPED", "StartModel"),
        ("DescribeStartingModel", "STARTING", "CountStartPoll"),
        ("DescribeStartingModel", "FAILED", "ModelFailed"),
        ("DescribeStoppingModel", "STOPPED", "ReadCounts"),
    ],
)
def test_a_described_model_version_is_judged_by_its_status(
    state: str, status: str, then: str
) -> None:
    description = {"ProjectVersionArn": f"{PROJECT_ARN}/version/v1/1", "Status": status}
    rekognition = CannedService(
        "rekognition", {"DescribeProjectVersions": {"ProjectVersionDescriptions": [description]}}
    )
    with executor() as sfn:
        sfn.answer("rekognition", "DescribeProjectVersions", rekognition.responder())
        run = sfn.run(fragment(_custom_labels(), state, DESCRIBE_EXITS))
    assert run.output["exit"] == then
    assert run.output["model"] == {"status": status}


# Comprehend lifecycle: a training that failed, with or without a message ------------------------
@pytest.mark.parametrize(
    ("properties", "cause"),
    [
        (
            {"Status": "IN_ERROR", "Message": "Not enough documents."},
            "IN_ERROR: Not enough documents.",
        ),
        ({"Status": "STOPPED"}, "STOPPED"),  # Message is set only when Comprehend has one
    ],
)
def test_a_failed_training_is_reported_with_comprehend_s_message_when_there_is_one(
    properties: dict[str, str], cause: str
) -> None:
    comprehend = CannedService(
        "comprehend",
        {
            "DescribeDocumentClassifier": {
                "DocumentClassifierProperties": {
                    "DocumentClassifierArn": CLASSIFIER_ARN,
                    **properties,
                }
            }
        },
    )
    lifecycle = fragment(
        definition("comprehend_model_lifecycle.asl.json"), "TrainingFailed", {"RoundFailed"}
    )
    with executor() as sfn:
        sfn.answer("comprehend", "DescribeDocumentClassifier", comprehend.responder())
        run = sfn.run(lifecycle, {"candidate": {"arn": CLASSIFIER_ARN}})
    assert run.status == "SUCCEEDED"
    assert "States.Runtime" not in run.task_errors()
    assert run.output["exit"] == "RoundFailed"
    assert run.output["error"]["Error"] == "TrainingFailed"
    assert cause in run.output["error"]["Cause"]


# Ticket training: a version name Comprehend accepts, whatever the execution is called ----------
def test_every_execution_trains_versions_named_as_comprehend_requires() -> None:
    version = (
        service_model("comprehend")
        .operation_model("CreateDocumentClassifier")
        .input_shape.members["VersionName"]
    )
    pattern, longest = version.metadata["pattern"], version.metadata["max"]
    comprehend = CannedService(
        "comprehend", {"CreateDocumentClassifier": {"DocumentClassifierArn": CLASSIFIER_ARN}}
    )
    training = fragment(
        definition(
            "ticket_classification_training.asl.json",
            TrainingBucket="training",
            ClassifierPrefix="tickets",
            DataAccessRoleArn=f"arn:aws:iam::{ACCOUNT}:role/comprehend-data",
            ParameterPrefix="/tickets",
            PollSeconds=1,
            MaxTrainingPolls=1,
            MaxEndpointPolls=1,
            InferenceUnits=1,
        ),
        "Classifiers",
        {"WaitForTraining", "AllReady"},
    )
    # Execution names Step Functions accepts: up to 80 characters, '_' and '.' included.
    names = ["nightly_retrain.2024-05-01", "r" * 80, "retraining"]
    with executor() as sfn:
        sfn.answer("comprehend", "CreateDocumentClassifier", comprehend.responder())
        for name in names:
            assert sfn.run(training, execution_name=name).status == "SUCCEEDED"
    # The engine sees a request only once it satisfies the model (name, token and all).
    versions = [params["VersionName"] for _, params in comprehend.calls]
    assert len(versions) == 2 * len(names)
    assert all(re.fullmatch(pattern, v) and len(v) <= longest for v in versions)
    assert len(set(versions)) == len(names)  # one per execution, for both classifiers
