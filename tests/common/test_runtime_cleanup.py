"""The stack-deletion cleanup, on fake clients and on real ones whose every call and answer
botocore checks against the API: resources already gone are no error (a retried deletion, a
stack that never ran), each service's resources go in the order their dependencies allow, and
what cannot be removed in time is named."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

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


# --- Against the services' API models: every call and answer checked by botocore ---------------

WHEN = datetime(2026, 1, 5, tzinfo=UTC)
VERSION_ARN = "arn:aws:rekognition:us-east-1:1:project/p/version/v1/1"
ENDPOINT_ARN = "arn:aws:sagemaker:us-east-1:1:endpoint/gmp-1-endpoint"


class Stubbed:
    """Real clients whose calls must come in the order the test expects, each with exactly the
    expected parameters (botocore's Stubber checks them and the answers against the API)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *services: str) -> None:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        self.clients = {s: boto3.client(s, region_name="us-east-1") for s in services}
        self.stubs = {s: Stubber(c) for s, c in self.clients.items()}
        for stub in self.stubs.values():
            stub.activate()

    def __call__(self, service: str) -> Any:
        return self.clients[service]

    def answer(self, service: str, operation: str, params: dict[str, Any], answer: Any) -> None:
        if isinstance(answer, ClientError):
            error = answer.response["Error"]
            self.stubs[service].add_client_error(
                operation, error["Code"], error["Message"], expected_params=params
            )
        else:
            self.stubs[service].add_response(operation, answer, params)

    def all_called(self) -> None:
        for stub in self.stubs.values():
            stub.assert_no_pending_responses()


def _job(kind: str, name: str) -> dict[str, Any]:
    return {
        f"{kind}JobName": name,
        f"{kind}JobArn": f"arn:aws:sagemaker:us-east-1:1:{kind.lower()}-job/{name}",
        "CreationTime": WHEN,
        f"{kind}JobStatus": "InProgress",
    }


def test_sagemaker_jobs_stop_the_endpoint_goes_then_its_configs_and_models(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    aws = Stubbed(monkeypatch, "sagemaker")
    prefix = {"NameContains": "gmp-1-"}
    running = {**prefix, "StatusEquals": "InProgress"}
    targets = Targets(sagemaker_endpoint_names=("gmp-1-endpoint",), sagemaker_name_prefix="gmp-1-")
    # First pass: running jobs of the stack (by prefix, on every page) stopped, the endpoint
    # deleted; nothing else yet, as the endpoint still uses its config and model.
    aws.answer("sagemaker", "list_training_jobs", running, {
        "TrainingJobSummaries": [_job("Training", "gmp-1-train")], "NextToken": "page-2",
    })  # fmt: skip
    aws.answer("sagemaker", "stop_training_job", {"TrainingJobName": "gmp-1-train"}, {})
    aws.answer("sagemaker", "list_training_jobs", {**running, "NextToken": "page-2"}, {
        "TrainingJobSummaries": [_job("Training", "old-gmp-1-train")],
    })  # fmt: skip
    aws.answer("sagemaker", "list_transform_jobs", running, {
        "TransformJobSummaries": [_job("Transform", "gmp-1-batch")],
    })  # fmt: skip
    finished = _error("ValidationException", "The job is not in progress.")
    aws.answer("sagemaker", "stop_transform_job", {"TransformJobName": "gmp-1-batch"}, finished)
    endpoint = {"EndpointName": "gmp-1-endpoint"}
    aws.answer("sagemaker", "describe_endpoint", endpoint, {
        "EndpointName": "gmp-1-endpoint", "EndpointArn": ENDPOINT_ARN,
        "EndpointStatus": "InService", "CreationTime": WHEN, "LastModifiedTime": WHEN,
    })  # fmt: skip
    aws.answer("sagemaker", "delete_endpoint", endpoint, {})
    cleaner = Cleaner(targets, aws)
    assert [str(r) for r in cleaner.step()] == [
        "SageMaker training job gmp-1-train (Stopping)",
        "SageMaker transform job gmp-1-batch (Stopping)",
        "SageMaker endpoint gmp-1-endpoint (Deleting)",
    ]
    aws.all_called()
    # Second pass: jobs done, endpoint gone, so the stack's configs and models go.
    aws.answer("sagemaker", "list_training_jobs", running, {"TrainingJobSummaries": []})
    aws.answer("sagemaker", "list_transform_jobs", running, {"TransformJobSummaries": []})
    gone = _error("ValidationException", 'Could not find endpoint "gmp-1-endpoint".')
    aws.answer("sagemaker", "describe_endpoint", endpoint, gone)
    aws.answer("sagemaker", "list_endpoint_configs", prefix, {"EndpointConfigs": [
        {"EndpointConfigName": name, "EndpointConfigArn": f"{ENDPOINT_ARN}-config/{name}",
         "CreationTime": WHEN}
        for name in ("gmp-1-config", "x-gmp-1-config")
    ]})  # fmt: skip
    config_gone = _error("ValidationException", "Could not find endpoint configuration.")
    aws.answer(
        "sagemaker", "delete_endpoint_config", {"EndpointConfigName": "gmp-1-config"}, config_gone
    )
    aws.answer("sagemaker", "list_models", prefix, {"Models": [
        {"ModelName": "gmp-1-model", "ModelArn": f"{ENDPOINT_ARN}-model", "CreationTime": WHEN},
    ], "NextToken": "page-2"})  # fmt: skip
    aws.answer("sagemaker", "delete_model", {"ModelName": "gmp-1-model"}, {})
    aws.answer("sagemaker", "list_models", {**prefix, "NextToken": "page-2"}, {"Models": []})
    assert cleaner.step() == []
    aws.all_called()


def test_an_endpoint_being_updated_is_deleted_on_a_later_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    aws = Stubbed(monkeypatch, "sagemaker")
    endpoint = {"EndpointName": "gmp-1-endpoint"}
    targets = Targets(sagemaker_endpoint_names=("gmp-1-endpoint",))
    busy = _error("ValidationException", "Cannot update in-progress endpoint.")
    aws.answer("sagemaker", "describe_endpoint", endpoint, busy)
    assert [str(r) for r in Cleaner(targets, aws).step()] == [
        "SageMaker endpoint gmp-1-endpoint (busy)"
    ]
    aws.answer("sagemaker", "describe_endpoint", endpoint, _error("ThrottlingException"))
    with pytest.raises(ClientError):
        Cleaner(targets, aws).step()


def _classifier(arn: str, status: str) -> dict[str, Any]:
    return {"DocumentClassifierArn": arn, "Status": status}


def test_classifier_versions_are_stopped_at_once_and_deleted_once_no_endpoint_uses_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    aws = Stubbed(monkeypatch, "comprehend")
    endpoint = "arn:aws:comprehend:us-east-1:1:document-classifier-endpoint/e"
    named = {"Filter": {"DocumentClassifierName": "c"}}
    targets = Targets(comprehend_endpoint_arns=(endpoint,), comprehend_classifier_names=("c",))
    # First pass: the endpoint is still being created, so no version is deleted yet; one
    # in training is stopped anyway.
    aws.answer("comprehend", "describe_endpoint", {"EndpointArn": endpoint}, {
        "EndpointProperties": {"EndpointArn": endpoint, "Status": "CREATING"},
    })  # fmt: skip
    aws.answer("comprehend", "delete_endpoint", {"EndpointArn": endpoint},
               _error("ResourceInUseException"))  # fmt: skip
    aws.answer("comprehend", "list_document_classifiers", named, {
        "DocumentClassifierPropertiesList": [_classifier("arn:c/v1", "TRAINED")],
        "NextToken": "page-2",
    })  # fmt: skip
    aws.answer("comprehend", "list_document_classifiers", {**named, "NextToken": "page-2"}, {
        "DocumentClassifierPropertiesList": [_classifier("arn:c/v2", "TRAINING")],
    })  # fmt: skip
    aws.answer("comprehend", "stop_training_document_classifier",
               {"DocumentClassifierArn": "arn:c/v2"}, {})  # fmt: skip
    cleaner = Cleaner(targets, aws)
    assert [str(r) for r in cleaner.step()] == [
        f"Comprehend endpoint {endpoint} (busy)",
        "Comprehend classifier arn:c/v1 (TRAINED)",
        "Comprehend classifier arn:c/v2 (STOP_REQUESTED)",
    ]
    aws.all_called()
    # Second pass: the endpoint is gone; finished versions are deleted, one already gone is
    # no error, one still stopping is waited for.
    aws.answer("comprehend", "describe_endpoint", {"EndpointArn": endpoint},
               _error("ResourceNotFoundException"))  # fmt: skip
    aws.answer("comprehend", "list_document_classifiers", named, {
        "DocumentClassifierPropertiesList": [
            _classifier("arn:c/v1", "TRAINED"), _classifier("arn:c/v2", "STOP_REQUESTED"),
            _classifier("arn:c/v3", "IN_ERROR"),
        ],
    })  # fmt: skip
    aws.answer("comprehend", "delete_document_classifier",
               {"DocumentClassifierArn": "arn:c/v1"}, {})  # fmt: skip
    aws.answer("comprehend", "delete_document_classifier", {"DocumentClassifierArn": "arn:c/v3"},
               _error("ResourceNotFoundException"))  # fmt: skip
    assert [str(r) for r in cleaner.step()] == [
        "Comprehend classifier arn:c/v1 (DELETING)",
        "Comprehend classifier arn:c/v2 (STOP_REQUESTED)",
    ]
    aws.all_called()


@pytest.mark.parametrize("status", ["STOPPED", "TRAINING_COMPLETED", "TRAINING_FAILED", "FAILED"])
def test_a_model_version_that_does_not_run_is_left_as_it_is(
    monkeypatch: pytest.MonkeyPatch, status: str
) -> None:
    aws = Stubbed(monkeypatch, "rekognition")
    version = {"ProjectArn": TARGETS.rekognition_project_arn, "VersionNames": ["v1"]}
    targets = Targets(rekognition_project_arn=TARGETS.rekognition_project_arn,
                      rekognition_version_name="v1")  # fmt: skip
    aws.answer("rekognition", "describe_project_versions", version, {
        "ProjectVersionDescriptions": [{"ProjectVersionArn": VERSION_ARN, "Status": status}],
    })  # fmt: skip
    assert Cleaner(targets, aws).step() == []
    aws.answer("rekognition", "describe_project_versions", version,
               _error("ResourceNotFoundException"))  # fmt: skip
    assert Cleaner(targets, aws).step() == []
    aws.all_called()


def test_a_model_version_that_cannot_stop_yet_is_named_with_its_status(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    aws = Stubbed(monkeypatch, "rekognition", "sagemaker")
    targets = replace(TARGETS, comprehend_endpoint_arns=(), comprehend_classifier_names=(),
                      sagemaker_name_prefix="")  # fmt: skip
    aws.answer("rekognition", "describe_project_versions",
               {"ProjectArn": TARGETS.rekognition_project_arn, "VersionNames": ["v1"]},
               {"ProjectVersionDescriptions": [{"ProjectVersionArn": VERSION_ARN,
                                                "Status": "STARTING"}]})  # fmt: skip
    aws.answer("rekognition", "stop_project_version", {"ProjectVersionArn": VERSION_ARN},
               _error("ResourceInUseException"))  # fmt: skip
    aws.answer("sagemaker", "describe_endpoint", {"EndpointName": "gmp-1-endpoint"},
               {"EndpointName": "gmp-1-endpoint", "EndpointArn": ENDPOINT_ARN,
                "EndpointStatus": "Deleting", "CreationTime": WHEN,
                "LastModifiedTime": WHEN})  # fmt: skip
    with pytest.raises(CleanupError) as error:
        Cleaner(targets, aws).run(lambda: 0.0, sleep=pytest.fail)
    # The endpoint already being deleted no longer bills: only the model version is named.
    assert str(error.value) == (
        f"still present when the time ran out: Rekognition model version {VERSION_ARN} (STARTING); "
        "delete the stack again to retry, or remove them by hand"
    )
    aws.all_called()


def test_pauses_double_up_to_fifteen_seconds_and_the_last_one_may_use_all_time_left() -> None:
    clients = _gone()
    states = iter(["RUNNING"] * 7 + ["STOPPED"])
    rekognition = clients["rekognition"]
    rekognition.answers["stop_project_version"] = {"Status": "STOPPING"}
    rekognition.describe_project_versions = lambda **params: {  # type: ignore[method-assign]
        "ProjectVersionDescriptions": [{"ProjectVersionArn": "arn:v1", "Status": next(states)}]
    }
    pauses: list[float] = []
    budget = iter([100.0] * 6 + [15.0])
    assert Cleaner(TARGETS, clients.__getitem__).run(lambda: next(budget), pauses.append) == []
    assert pauses == [1.0, 2.0, 4.0, 8.0, 15.0, 15.0, 15.0]
