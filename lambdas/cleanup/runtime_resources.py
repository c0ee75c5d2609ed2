"""Find and remove what a workflow created at run time, outside CloudFormation.

`Targets` names them the way the workflow names them (fixed endpoint names, classifier names
whose versions the workflow trains, a name prefix for SageMaker resources, a Custom Labels
model version the workflow starts). `Cleaner.step` moves every one of them one step toward
gone (stop, then delete) and reports what remains; `Cleaner.run` repeats it, with growing
pauses, until nothing remains or the time budget is spent. Every call tolerates a resource
that is already gone, so a retried deletion (or a stack that never ran) is no error.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from lambdas.shared.s3 import error_code

# What remains in these states no longer bills and goes away by itself.
SETTLING = frozenset({"DELETING", "Deleting", "STOPPING", "STOP_REQUESTED"})
COMPREHEND_GONE = frozenset({"ResourceNotFoundException"})
COMPREHEND_BUSY = frozenset({"ResourceInUseException", "ResourceUnavailableException"})
TRAINING_CLASSIFIER = frozenset({"SUBMITTED", "TRAINING"})
FINISHED_CLASSIFIER = frozenset({"TRAINED", "IN_ERROR", "STOPPED"})
REKOGNITION_RUNNING = frozenset({"STARTING", "RUNNING"})


class CleanupError(Exception):
    """Resources the workflow created are still there when the time budget ran out."""


@dataclass(frozen=True)
class Remaining:
    kind: str
    name: str
    status: str

    @property
    def settling(self) -> bool:
        return self.status in SETTLING

    def __str__(self) -> str:
        return f"{self.kind} {self.name} ({self.status})"


def _names(value: Any) -> tuple[str, ...]:
    if not value:
        return ()
    if isinstance(value, str):
        return tuple(part for part in value.split(",") if part)
    return tuple(str(item) for item in value)


@dataclass(frozen=True)
class Targets:
    """What the workflow of one stack creates, from the custom resource's properties."""

    stack_name: str = ""
    comprehend_endpoint_arns: tuple[str, ...] = ()
    comprehend_classifier_names: tuple[str, ...] = ()
    sagemaker_endpoint_names: tuple[str, ...] = ()
    sagemaker_name_prefix: str = ""
    rekognition_project_arn: str = ""
    rekognition_version_name: str = ""

    @classmethod
    def from_properties(cls, properties: Mapping[str, Any]) -> Targets:
        return cls(
            stack_name=str(properties.get("StackName", "")),
            comprehend_endpoint_arns=_names(properties.get("ComprehendEndpointArns")),
            comprehend_classifier_names=_names(properties.get("ComprehendClassifierNames")),
            sagemaker_endpoint_names=_names(properties.get("SageMakerEndpointNames")),
            sagemaker_name_prefix=str(properties.get("SageMakerNamePrefix", "")),
            rekognition_project_arn=str(properties.get("RekognitionProjectArn", "")),
            rekognition_version_name=str(properties.get("RekognitionVersionName", "")),
        )


def _message(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message", ""))


def _sagemaker_missing(error: ClientError) -> bool:
    # SageMaker answers a Describe/Delete of an unknown endpoint, config or model with a
    # ValidationException "Could not find ..."; jobs with ResourceNotFound.
    return error_code(error) == "ResourceNotFound" or (
        error_code(error) == "ValidationException" and "could not find" in _message(error).lower()
    )


def _pages(list_call: Callable[..., Any], key: str, **request: Any) -> Iterator[Any]:
    """The items under `key` of every page a List call answers, following its NextToken."""
    token: str | None = None
    while True:
        page = list_call(**request, **({"NextToken": token} if token else {}))
        yield from page[key]
        token = page.get("NextToken")
        if not token:
            return


class Cleaner:
    def __init__(
        self,
        targets: Targets,
        clients: Callable[[str], Any],
        log: Callable[[str], None] = lambda message: None,
    ) -> None:
        self.targets = targets
        self.clients = clients
        self.log = log

    # one pass ---------------------------------------------------------------------------------
    def step(self) -> list[Remaining]:
        remaining: list[Remaining] = []
        remaining += self._rekognition()
        remaining += self._sagemaker()
        remaining += self._comprehend()
        return remaining

    def run(
        self,
        seconds_left: Callable[[], float],
        sleep: Callable[[float], None] = time.sleep,
        first_pause: float = 1.0,
        longest_pause: float = 15.0,
    ) -> list[Remaining]:
        """Step until nothing remains or time runs out; what still remains then (settling
        resources excepted, they no longer bill) raises `CleanupError` naming each."""
        pause = first_pause
        while True:
            remaining = self.step()
            if not remaining:
                return []
            if seconds_left() < pause:
                break
            self.log("waiting for " + ", ".join(str(r) for r in remaining))
            sleep(pause)
            pause = min(longest_pause, pause * 2)
        stuck = [r for r in remaining if not r.settling]
        if stuck:
            raise CleanupError(
                "still present when the time ran out: "
                + ", ".join(str(r) for r in stuck)
                + "; delete the stack again to retry, or remove them by hand"
            )
        return remaining

    # Rekognition Custom Labels: stop the model version (it is a deploy input, never deleted) ---
    def _rekognition(self) -> list[Remaining]:
        t = self.targets
        if not t.rekognition_project_arn or not t.rekognition_version_name:
            return []
        rekognition = self.clients("rekognition")
        try:
            described = rekognition.describe_project_versions(
                ProjectArn=t.rekognition_project_arn, VersionNames=[t.rekognition_version_name]
            )["ProjectVersionDescriptions"]
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                return []
            raise
        remaining = []
        for version in described:
            status = version["Status"]
            arn = version["ProjectVersionArn"]
            if status in REKOGNITION_RUNNING:
                try:
                    status = rekognition.stop_project_version(ProjectVersionArn=arn)["Status"]
                    self.log(f"stopping model version {arn}")
                except ClientError as error:
                    if error_code(error) not in (
                        "ResourceNotFoundException",
                        "ResourceInUseException",
                    ):
                        raise
            if status not in ("STOPPED", "TRAINING_COMPLETED", "TRAINING_FAILED", "FAILED"):
                remaining.append(Remaining("Rekognition model version", arn, status))
        return remaining

    # SageMaker: jobs stopped, endpoints deleted, then their configs and models ----------------
    def _sagemaker(self) -> list[Remaining]:
        t = self.targets
        if not t.sagemaker_endpoint_names and not t.sagemaker_name_prefix:
            return []
        sagemaker = self.clients("sagemaker")
        remaining: list[Remaining] = []
        if t.sagemaker_name_prefix:
            remaining += self._stop_jobs(
                "training job", "list_training_jobs", "TrainingJobSummaries",
                "TrainingJobName", "stop_training_job",
            )  # fmt: skip
            remaining += self._stop_jobs(
                "transform job", "list_transform_jobs", "TransformJobSummaries",
                "TransformJobName", "stop_transform_job",
            )  # fmt: skip
        for name in t.sagemaker_endpoint_names:
            try:
                status = sagemaker.describe_endpoint(EndpointName=name)["EndpointStatus"]
                if status != "Deleting":
                    sagemaker.delete_endpoint(EndpointName=name)
                    self.log(f"deleting SageMaker endpoint {name}")
                    status = "Deleting"
            except ClientError as error:
                if _sagemaker_missing(error):
                    continue
                if error_code(error) != "ValidationException":
                    raise
                status = "busy"  # being created or updated: deleted on a later pass
            remaining.append(Remaining("SageMaker endpoint", name, status))
        if remaining or not t.sagemaker_name_prefix:
            return remaining  # configs and models go once nothing uses them
        for kind, lister, key, field, deleter in (
            ("endpoint config", "list_endpoint_configs", "EndpointConfigs",
             "EndpointConfigName", "delete_endpoint_config"),
            ("model", "list_models", "Models", "ModelName", "delete_model"),
        ):  # fmt: skip
            for summary in self._list(sagemaker, lister, key):
                name = summary[field]
                if not name.startswith(t.sagemaker_name_prefix):
                    continue
                try:
                    getattr(sagemaker, deleter)(**{field: name})
                    self.log(f"deleted SageMaker {kind} {name}")
                except ClientError as error:
                    if not _sagemaker_missing(error):
                        raise
        return remaining

    def _stop_jobs(
        self, kind: str, lister: str, key: str, field: str, stopper: str
    ) -> list[Remaining]:
        sagemaker = self.clients("sagemaker")
        remaining = []
        for summary in self._list(sagemaker, lister, key, StatusEquals="InProgress"):
            name = summary[field]
            if not name.startswith(self.targets.sagemaker_name_prefix):
                continue
            try:
                getattr(sagemaker, stopper)(**{field: name})
                self.log(f"stopping SageMaker {kind} {name}")
            except ClientError as error:
                # A job that finished meanwhile cannot be stopped; the next pass sees it.
                if not (_sagemaker_missing(error) or error_code(error) == "ValidationException"):
                    raise
            remaining.append(Remaining(f"SageMaker {kind}", name, "Stopping"))
        return remaining

    def _list(self, client: Any, method: str, key: str, **filters: Any) -> Iterator[Any]:
        prefix = self.targets.sagemaker_name_prefix
        return _pages(getattr(client, method), key, NameContains=prefix, **filters)

    # Comprehend: endpoints deleted, then every version of the workflow's classifiers ---------
    def _comprehend(self) -> list[Remaining]:
        t = self.targets
        if not t.comprehend_endpoint_arns and not t.comprehend_classifier_names:
            return []
        comprehend = self.clients("comprehend")
        remaining: list[Remaining] = []
        for arn in t.comprehend_endpoint_arns:
            try:
                status = comprehend.describe_endpoint(EndpointArn=arn)["EndpointProperties"][
                    "Status"
                ]
                if status != "DELETING":
                    comprehend.delete_endpoint(EndpointArn=arn)
                    self.log(f"deleting Comprehend endpoint {arn}")
                    status = "DELETING"
            except ClientError as error:
                if error_code(error) in COMPREHEND_GONE:
                    continue
                if error_code(error) not in COMPREHEND_BUSY:
                    raise
                status = "busy"  # creating or updating: deleted on a later pass
            remaining.append(Remaining("Comprehend endpoint", arn, status))
        endpoints_gone = not remaining
        for name in t.comprehend_classifier_names:
            remaining += self._classifiers(comprehend, name, endpoints_gone)
        return remaining

    def _classifiers(self, comprehend: Any, name: str, endpoints_gone: bool) -> list[Remaining]:
        remaining = []
        for classifier in _pages(
            comprehend.list_document_classifiers,
            "DocumentClassifierPropertiesList",
            Filter={"DocumentClassifierName": name},
        ):
            arn, status = classifier["DocumentClassifierArn"], classifier["Status"]
            try:
                if status in TRAINING_CLASSIFIER:
                    comprehend.stop_training_document_classifier(DocumentClassifierArn=arn)
                    self.log(f"stopping the training of {arn}")
                    status = "STOP_REQUESTED"
                elif status in FINISHED_CLASSIFIER and endpoints_gone:
                    comprehend.delete_document_classifier(DocumentClassifierArn=arn)
                    self.log(f"deleting classifier {arn}")
                    status = "DELETING"
            except ClientError as error:
                if error_code(error) in COMPREHEND_GONE:
                    continue
                if error_code(error) not in COMPREHEND_BUSY:
                    raise
            remaining.append(Remaining("Comprehend classifier", arn, status))
        return remaining
