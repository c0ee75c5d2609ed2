"""The stack-deletion cleanup, on fake clients: resources already gone are no error (a retried
deletion, a stack that never ran), and what cannot be removed in time is named."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from lambdas.cleanup.runtime_resources import Cleaner, CleanupError, Targets

TARGETS = Targets(
    stack_name="Stack-test",
    comprehend_endpoint_arns=("arn:aws:comprehend:us-east-1:1:document-classifier-endpoint/e",),
    comprehend_classifier_names=("c",),
    sagemaker_endpoint_names=("gmp-1-endpoint",),
    sagemaker_name_prefix="gmp-1-",
    rekognition_project_arn="arn:aws:rekognition:us-east-1:1:project/p/1",
    rekognition_version_name="v1",
)


def _error(code: str, message: str = "") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "Operation")


class Fake:
    """A client whose methods return canned answers or raise canned errors."""

    def __init__(self, **answers: Any) -> None:
        self.answers = answers
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        def call(**params: Any) -> Any:
            self.calls.append(name)
            answer = self.answers[name]
            if isinstance(answer, Exception):
                raise answer
            return answer

        return call


def _gone() -> dict[str, Fake]:
    return {
        "comprehend": Fake(
            describe_endpoint=_error("ResourceNotFoundException"),
            list_document_classifiers={"DocumentClassifierPropertiesList": []},
        ),
        "sagemaker": Fake(
            describe_endpoint=_error("ValidationException", 'Could not find endpoint "x".'),
            list_training_jobs={"TrainingJobSummaries": []},
            list_transform_jobs={"TransformJobSummaries": []},
            list_endpoint_configs={"EndpointConfigs": []},
            list_models={"Models": []},
        ),
        "rekognition": Fake(
            describe_project_versions={
                "ProjectVersionDescriptions": [{"ProjectVersionArn": "arn:v1", "Status": "STOPPED"}]
            }
        ),
    }


def test_a_deletion_finds_nothing_left_when_everything_is_already_gone() -> None:
    clients = _gone()
    assert Cleaner(TARGETS, clients.__getitem__).run(lambda: 60.0, sleep=pytest.fail) == []
    assert "delete_endpoint" not in clients["comprehend"].calls
    assert "stop_project_version" not in clients["rekognition"].calls


def test_what_cannot_be_removed_in_time_fails_the_deletion_naming_it() -> None:
    clients = _gone()
    arn = TARGETS.comprehend_endpoint_arns[0]
    clients["comprehend"].answers.update(
        describe_endpoint={"EndpointProperties": {"EndpointArn": arn, "Status": "CREATING"}},
        delete_endpoint=_error("ResourceInUseException"),
    )
    pauses: list[float] = []
    budget = iter([5.0, 3.0, 0.0])
    with pytest.raises(CleanupError, match=f"Comprehend endpoint {arn}"):
        Cleaner(TARGETS, clients.__getitem__).run(lambda: next(budget), sleep=pauses.append)
    assert pauses == [1.0, 2.0]  # growing pauses, within the time left


def test_a_running_model_version_is_stopped_and_waited_for() -> None:
    clients = _gone()
    states = iter(["RUNNING", "STOPPING", "STOPPED"])
    rekognition = clients["rekognition"]

    def describe(**params: Any) -> Any:
        return {"ProjectVersionDescriptions": [
            {"ProjectVersionArn": "arn:v1", "Status": next(states)}
        ]}  # fmt: skip

    rekognition.answers["stop_project_version"] = {"Status": "STOPPING"}
    rekognition.describe_project_versions = describe  # type: ignore[method-assign]
    assert Cleaner(TARGETS, clients.__getitem__).run(lambda: 60.0, sleep=lambda _: None) == []
    assert rekognition.calls == ["stop_project_version"]
