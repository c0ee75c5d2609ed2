"""Driving the Comprehend feedback loop (active learning, part 2) on the local cloud as its
users do: API calls with a key, batch feedback uploads, reviewers answering human loops."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localcloud.cloud import DeployedStack, LocalCloud
from localcloud.core.alarms import is_alarm_notification
from localcloud.demos.review import SAMPLES, labelled_rows
from localcloud.services.apigateway.gateway import ApiResponse, LocalApiGateway
from tests.helpers.aws import object_keys
from tests.helpers.least_privilege import logical_names
from tests.helpers.workflow import StackOutput

REPO_ROOT = Path(__file__).resolve().parents[2]
ASSEMBLY = REPO_ROOT / "build" / "test-feedback-assembly"
LIFECYCLE_STACK = "ComprehendModelLifecycle-fbtest"
FEEDBACK_STACK = "ComprehendFeedbackLoop-fbtest"
WORKTEAM = "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/reviewers"
CATEGORIES = ("World", "Sports", "Business", "SciTech")
MAX_ITEMS_PER_LOOP = 8
SOURCES = ["app.py", "cdk.json", "stacks", "lambdas", "statemachines",
           "localcloud/demos/comprehend_feedback_loop.py",
           "tests/workflows/feedback_loop_helpers.py"]  # fmt: skip


def synthesize(outdir: Path) -> None:
    """Both stacks as the demo synthesizes them, under the tests' own names and loop size."""
    from localcloud.demos.comprehend_feedback_loop import synthesize as synthesize_pair

    context = {"stage": "fbtest", "comprehend_feedback_loop:maxItemsPerLoop": MAX_ITEMS_PER_LOOP}
    synthesize_pair(outdir, (LIFECYCLE_STACK, FEEDBACK_STACK), context)


def to_csv(rows: list[tuple[str, str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode()


@dataclass
class FeedbackLoop:
    cloud: LocalCloud
    lifecycle: DeployedStack
    stack: DeployedStack
    gateway: LocalApiGateway
    api_key: str
    unsure_answers: int = 0  # classify answers below the confidence threshold

    url = StackOutput("ApiUrl")

    def output(self, name: str) -> str:
        return str(self.stack.outputs[name])

    def post(self, path: str, body: Any, *, key: str | None = "", raw: bool = False) -> ApiResponse:
        headers = {"Content-Type": "application/json"}
        if key is not None:
            headers["x-api-key"] = key or self.api_key
        data = body if raw else json.dumps(body)
        response = self.gateway.request("POST", self.url + path, headers=headers, body=data)
        if path == "classify" and response.status == 200 and response.json()["score"] < 0.5:
            self.unsure_answers += 1
        return response

    def classify(self, text: str) -> dict[str, Any]:
        response = self.post("classify", {"classifier": "news", "text": text})
        assert response.status == 200, response.body
        result: dict[str, Any] = response.json()
        return result

    def accuracy(self, rows: list[tuple[str, str]]) -> float:
        return sum(self.classify(text)["label"] == label for label, text in rows) / len(rows)

    def train_initial(self) -> None:
        self.cloud.client("s3").put_object(
            Bucket=self.lifecycle.outputs["TrainingBucketName"],
            Key="train/initial.csv",
            Body=(SAMPLES / "initial.csv").read_bytes(),
        )
        self.cloud.settle(timeout=300)

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        return object_keys(self.cloud.client("s3"), bucket, prefix)

    def read(self, bucket: str, key: str) -> bytes:
        return bytes(self.cloud.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())

    def training_rows(self) -> list[tuple[str, str]]:
        """Every reviewed row delivered to part 1's `train/reviewed/`."""
        bucket = self.lifecycle.outputs["TrainingBucketName"]
        rows: list[tuple[str, str]] = []
        for key in self.keys(bucket, "train/reviewed/"):
            data = self.read(bucket, key).decode("utf-8")
            assert data.endswith("\r\n"), "every training row ends with its line break"
            rows += [(r[0], r[1]) for r in csv.reader(io.StringIO(data, newline=""))]
        return rows

    def function_name(self, construct_id: str) -> str:
        """The physical name of one of this stack's functions, by its construct id."""
        (name,) = [
            name
            for name, config in self.cloud.runtime.functions.items()
            if config.stack_name == self.stack.name
            and re.fullmatch(construct_id + r"Function[0-9A-F]{8}", config.logical_id)
        ]
        return name

    def invocations(self, construct_id: str) -> list[tuple[Any, Any]]:
        name = self.function_name(construct_id)
        return [(e, r) for n, e, r in self.cloud.runtime.invocations if n == name]

    def lifecycle_summaries(self) -> list[dict[str, Any]]:
        topic = self.lifecycle.outputs["NotificationTopicArn"]
        return [
            json.loads(n["Message"])
            for n in self.cloud.notifications
            if n["TopicArn"] == topic
            and n["Message"].startswith("{")
            and not is_alarm_notification(n)  # alarms share the topic
        ]


def deploy(cloud: LocalCloud) -> FeedbackLoop:
    lifecycle = cloud.deploy(LIFECYCLE_STACK)
    stack = cloud.deploy(FEEDBACK_STACK, parameters={"WorkteamArn": WORKTEAM})
    gateway = LocalApiGateway(cloud)
    key = gateway.api_key_value(str(stack.outputs["ApiKeyId"]))
    return FeedbackLoop(cloud, lifecycle, stack, gateway, key)


def holdout() -> list[tuple[str, str]]:
    return labelled_rows(SAMPLES / "holdout.csv")


def stream() -> list[tuple[str, str]]:
    return labelled_rows(SAMPLES / "improving.csv")


def loop_logical_names(loop: FeedbackLoop) -> dict[str, str]:
    return logical_names(loop.lifecycle, loop.stack)
