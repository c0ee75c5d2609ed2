"""Driving the Comprehend model lifecycle workflow on the local cloud as a user would, and
reading back what a user (or an operator) can see: notifications, SSM, the endpoint, the
training bucket and the state table."""

from __future__ import annotations

import csv
import io
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from moto.core.exceptions import AWSError

from localcloud.cloud import LocalCloud
from localcloud.core.alarms import is_alarm_notification
from localcloud.core.iam_check import check
from tests.helpers.aws import object_keys
from tests.helpers.least_privilege import logical_names, named_unused_grants
from tests.helpers.workflow import DeployedWorkflow, StackOutput

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLES = REPO_ROOT / "samples" / "comprehend_model_lifecycle"
DEFAULT_STACK = "ComprehendModelLifecycle-test"
# A second configuration of the same stack: multi-label, a fixed label set, no old models kept.
MULTI_LABEL_STACK = "ComprehendModelLifecycle-multilabel"
MULTI_LABEL_ASSEMBLY = REPO_ROOT / "build" / "test-comprehend-assembly"
LABELS = ("World", "Sports", "Business", "SciTech")
MARKETS = "Markets"  # the multi-label configuration's extra, cross-cutting label
MARKET_WORDS = ("shares", "percent", "billion", "stock", "market")
NOTHING_TRAINED = "Comprehend training round: nothing trained"
REJECTED = "Comprehend training data rejected"
ROUND_FAILED = "Comprehend training round failed"


# --- Data ------------------------------------------------------------------------------------


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def rows(data: bytes) -> list[tuple[str, str]]:
    """(label field, text) of every line of a Comprehend CSV file."""
    return [(label, text) for label, text in csv.reader(io.StringIO(data.decode("utf-8")))]


def to_csv(lines: list[tuple[str, str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(lines)
    return buffer.getvalue().encode()


def text_key(text: str) -> str:
    """Two documents are the same document when their words are, case aside."""
    return " ".join(text.split()).casefold()


def keyed(data: bytes) -> dict[str, str]:
    """The label field of each distinct document, the last line winning."""
    return {text_key(text): label for label, text in rows(data)}


def multi_label(data: bytes) -> bytes:
    """A sample file for the multi-label configuration: each document keeps its class and
    also carries `Markets` when it talks about money."""
    lines = []
    for label, text in rows(data):
        labels = [label]
        if any(word in text.lower() for word in MARKET_WORDS):
            labels.append(MARKETS)
        lines.append(("|".join(labels), text))
    return to_csv(lines)


def synthesize_multi_label(outdir: Path) -> None:
    """The multi-label configuration of the stack, synthesized as `cdk synth` would, with
    cdk-nag checking it."""
    from aws_cdk import App, Validations
    from cdk_nag import AwsSolutionsChecks

    from app import cdk_json_context
    from stacks.comprehend_model_lifecycle import ComprehendModelLifecycleStack
    from stacks.config import ComprehendLifecycleSettings

    context = {
        **cdk_json_context(),
        "stage": "test",
        "comprehend_model_lifecycle:mode": "MULTI_LABEL",
        "comprehend_model_lifecycle:labels": ",".join((*LABELS, MARKETS)),
        "comprehend_model_lifecycle:retainModels": 0,
    }
    app = App(outdir=str(outdir), context=context)
    settings = ComprehendLifecycleSettings.from_context(app.node)
    ComprehendModelLifecycleStack(app, MULTI_LABEL_STACK, settings=settings)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()


# --- The deployed workflow -------------------------------------------------------------------


@dataclass(frozen=True)
class LiveState:
    """Everything a round may change only when its candidate wins."""

    classifier: tuple[str | None, int | None]  # SSM value and version
    endpoint: tuple[str | None, int | None]
    endpoint_model: str | None
    ground_truth: bytes | None


@dataclass
class LifecycleStack(DeployedWorkflow):
    seen_notifications: int = field(default=0)

    bucket = StackOutput("TrainingBucketName")
    topic = StackOutput("NotificationTopicArn")
    state_machine_arn = StackOutput("StateMachineArn")

    @property
    def table(self) -> str:
        (state,) = [
            state
            for logical_id, state in self.stack.resources_of_type("AWS::DynamoDB::Table").items()
            if logical_id.startswith("StateTable")
        ]
        return str(state.ref)

    def client(self, service: str) -> Any:
        return self.cloud.client(service)

    # uploading --------------------------------------------------------------------------------
    def upload(self, name: str, data: bytes) -> None:
        self.client("s3").put_object(Bucket=self.bucket, Key=f"train/{name}", Body=data)

    def upload_together(self, files: dict[str, bytes]) -> None:
        """Several users uploading at the same moment."""
        threads = [
            threading.Thread(target=self.upload, args=(name, data)) for name, data in files.items()
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def run(self, name: str, data: bytes) -> list[dict[str, Any]]:
        """Upload one file, wait for everything it started, and return the notifications
        published since the previous call."""
        self.upload(name, data)
        self.cloud.settle(timeout=300)
        return self.new_notifications()

    def new_notifications(self) -> list[dict[str, Any]]:
        published = self.notifications()
        fresh = published[self.seen_notifications :]
        self.seen_notifications = len(published)
        return fresh

    # reading ----------------------------------------------------------------------------------
    def notifications(self) -> list[dict[str, Any]]:
        """What the workflow published to its topic (its alarms notify the same topic)."""
        return [
            n
            for n in self.cloud.notifications
            if n["TopicArn"] == self.topic and not is_alarm_notification(n)
        ]

    def keys(self, prefix: str = "") -> list[str]:
        return object_keys(self.client("s3"), self.bucket, prefix)

    def read(self, key: str) -> bytes | None:
        try:
            response = self.client("s3").get_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return None
            raise
        return bytes(response["Body"].read())

    def read_json(self, key: str) -> Any:
        data = self.read(key)
        return None if data is None else json.loads(data)

    def parameter(self, output: str) -> tuple[str | None, int | None]:
        try:
            found = self.client("ssm").get_parameter(Name=self.stack.outputs[output])["Parameter"]
        except ClientError as error:
            if error.response["Error"]["Code"] == "ParameterNotFound":
                return None, None
            raise
        return found["Value"], found["Version"]

    def endpoint(self) -> dict[str, Any] | None:
        arn, _ = self.parameter("EndpointParameterName")
        if arn is None:
            return None
        return dict(
            self.client("comprehend").describe_endpoint(EndpointArn=arn)["EndpointProperties"]
        )

    def endpoints(self) -> list[dict[str, Any]]:
        return list(self.client("comprehend").list_endpoints()["EndpointPropertiesList"])

    def live(self) -> LiveState:
        endpoint = self.endpoint()
        return LiveState(
            classifier=self.parameter("ClassifierParameterName"),
            endpoint=self.parameter("EndpointParameterName"),
            endpoint_model=endpoint["ModelArn"] if endpoint else None,
            ground_truth=self.read("ground-truth/ground-truth.csv"),
        )

    def classifier_status(self, arn: str) -> str:
        """The model's status, or GONE once it is deleted."""
        try:
            properties = self.client("comprehend").describe_document_classifier(
                DocumentClassifierArn=arn
            )["DocumentClassifierProperties"]
        except ClientError as error:
            if error.response["Error"]["Code"] == "ResourceNotFoundException":
                return "GONE"
            raise
        return str(properties["Status"])

    def classifier_versions(self) -> list[str]:
        """Every model version the account holds (deleting ones included)."""
        listing = self.client("comprehend").list_document_classifiers()
        return [p["DocumentClassifierArn"] for p in listing["DocumentClassifierPropertiesList"]]

    def trained_versions(self) -> list[str]:
        """The version names of every classifier anyone asked Comprehend to train."""
        return [
            call.params["VersionName"]
            for call in self.cloud.recorder.calls()
            if call.operation == "CreateDocumentClassifier"
        ]

    def items(self, pk: str) -> list[dict[str, Any]]:
        dynamodb = self.client("dynamodb")
        paginator = dynamodb.get_paginator("query")
        return [
            item
            for page in paginator.paginate(
                TableName=self.table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": pk}},
            )
            for item in page["Items"]
        ]

    def predictions(self) -> dict[str, list[dict[str, Any]]]:
        """The stored predictions of every classification job, by job id."""
        found: dict[str, list[dict[str, Any]]] = {}
        for page in self.client("dynamodb").get_paginator("scan").paginate(TableName=self.table):
            for item in page["Items"]:
                if item["pk"]["S"].startswith("job#"):
                    found.setdefault(item["pk"]["S"].removeprefix("job#"), []).append(item)
        return found

    def invocations(self, function: str) -> list[tuple[Any, Any]]:
        """(event, result) of every invocation of one of this stack's functions, by the
        function's construct id (`Intake`, `PrepareRound`, ...)."""
        return [
            (event, result)
            for name, event, result in self.cloud.runtime.invocations
            if name.startswith(self.stack.name) and f"-{function}Function" in name
        ]


def checked_roles(stack: LifecycleStack) -> set[str]:
    """The stack's roles that made calls the least-privilege check evaluated."""
    names = logical_names(stack.stack)
    return {names[arn] for arn in check(stack.cloud).principals if arn in names}


def unused_grants(stack: LifecycleStack) -> set[tuple[str, str, str]]:
    """(principal, action, resource) of every grant no recorded call used, ARNs shortened to
    logical ids; fails if any call was denied."""
    report = check(stack.cloud)
    assert report.denied == [], report.format()
    assert report.unverifiable == [], report.format()
    names = logical_names(stack.stack)

    return named_unused_grants(
        report, names, lambda arn: re.sub(r"^arn:aws:[a-z]+:[a-z0-9-]*:[0-9]*:", "", arn)
    )


def deploy(cloud: LocalCloud, stack_name: str = DEFAULT_STACK) -> LifecycleStack:
    return LifecycleStack(cloud, cloud.deploy(stack_name))


def summary(notification: dict[str, Any]) -> dict[str, Any]:
    """A round's notification as the JSON document it holds."""
    document: dict[str, Any] = json.loads(notification["Message"])
    return document


# --- Faults ----------------------------------------------------------------------------------


class ExecutionLimitExceededError(AWSError):
    TYPE = "ExecutionLimitExceeded"
    STATUS = 400


@contextmanager
def failing_start_executions(times: int) -> Iterator[list[str]]:
    """The next `times` StartExecution calls fail as Step Functions fails them when too many
    executions run; yields the names of the executions refused."""
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    original = StepFunctionsParserBackend.start_execution
    refused: list[str] = []

    def start_execution(
        self: Any, state_machine_arn: str, name: Any = None, *args: Any, **kw: Any
    ) -> Any:
        if len(refused) < times:
            refused.append(str(name))
            raise ExecutionLimitExceededError(
                "The maximum number of running executions has been reached."
            )
        return original(self, state_machine_arn, name, *args, **kw)

    StepFunctionsParserBackend.start_execution = start_execution  # type: ignore[method-assign]
    try:
        yield refused
    finally:
        StepFunctionsParserBackend.start_execution = original  # type: ignore[method-assign]
