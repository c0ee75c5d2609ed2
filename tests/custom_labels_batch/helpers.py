"""Driving the Custom Labels batch workflow on the local cloud as a user would."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambdas.shared.aws import queue_depth
from localcloud.cloud import LocalCloud
from localcloud.core.alarms import is_alarm_notification
from localcloud.core.iam_check import check
from localcloud.demos.custom_labels_batch import train_sample_model
from tests.helpers.aws import object_keys
from tests.helpers.workflow import DeployedWorkflow, StackOutput, StackParameter

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLES = REPO_ROOT / "samples" / "custom_labels_batch"
INCOMING = sorted((SAMPLES / "incoming").iterdir())
POISON = sorted((SAMPLES / "poison").iterdir())
STACK = "CustomLabelsBatch-test"
CLASSES = {"mug", "bottle", "plant"}


@dataclass
class LabelsStack(DeployedWorkflow):
    scheduled: bool = True
    manual_runs: int = 0

    source = StackOutput("SourceBucketName")
    final = StackOutput("FinalBucketName")
    queue_url = StackOutput("ImageQueueUrl")
    project_arn = StackParameter("ProjectArn")
    version_arn = StackParameter("ProjectVersionArn")

    def upload(self, files: dict[str, bytes]) -> None:
        for key, data in files.items():
            self.s3.put_object(Bucket=self.source, Key=key, Body=data)

    def fire_schedule(self) -> None:
        """Fire the schedule once and wait for everything to finish: by moving the clock past
        the next hourly firing, or, with the rule disabled, by starting the execution the rule
        would start (so that no further firing happens while the test looks)."""
        if self.scheduled:
            self.cloud.clock.advance(3600)
        else:
            self.manual_runs += 1
            self.cloud.client("stepfunctions").start_execution(
                stateMachineArn=self.stack.outputs["StateMachineArn"],
                name=f"run-{self.manual_runs}",
                input=json.dumps({"source": "aws.events", "detail-type": "Scheduled Event"}),
            )
        self.cloud.settle(timeout=300)

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        return sorted(object_keys(self.s3, bucket, prefix))

    def versions(self, bucket: str) -> list[dict[str, Any]]:
        paginator = self.s3.get_paginator("list_object_versions")
        found: list[dict[str, Any]] = []
        for page in paginator.paginate(Bucket=bucket):
            found += page.get("Versions", []) + page.get("DeleteMarkers", [])
        return found

    def read(self, key: str) -> bytes:
        return bytes(self.s3.get_object(Bucket=self.final, Key=key)["Body"].read())

    def read_json(self, key: str) -> Any:
        return json.loads(self.read(key))

    def states_entered(self, execution_arn: str) -> list[str]:
        sfn = self.cloud.client("stepfunctions")
        events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
        return [
            e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e
        ]

    def calls(self, operation: str) -> list[Any]:
        return [c for c in self.cloud.recorder.calls() if c.operation == operation]

    def model_status(self) -> str:
        described = self.cloud.client("rekognition").describe_project_versions(
            ProjectArn=self.project_arn, VersionNames=[self.version_arn.split("/")[3]]
        )
        return str(described["ProjectVersionDescriptions"][0]["Status"])

    def mapping_enabled(self) -> bool:
        mappings = self.cloud.client("lambda").list_event_source_mappings()["EventSourceMappings"]
        (mapping,) = [m for m in mappings if m["EventSourceArn"].endswith(self.queue_name)]
        return bool(mapping["State"] == "Enabled")

    @property
    def queue_name(self) -> str:
        return self.queue_url.rsplit("/", 1)[1]

    def queue_depth(self, url: str | None = None) -> int:
        return queue_depth(self.cloud.client("sqs"), url or self.queue_url)

    def dead_letter_depth(self) -> int:
        sqs = self.cloud.client("sqs")
        policy = sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["RedrivePolicy"]
        )["Attributes"]["RedrivePolicy"]
        dlq_name = json.loads(policy)["deadLetterTargetArn"].rsplit(":", 1)[1]
        return self.queue_depth(sqs.get_queue_url(QueueName=dlq_name)["QueueUrl"])

    def lock_item(self) -> dict[str, Any] | None:
        (table,) = [
            state.ref for state in self.stack.resources_of_type("AWS::DynamoDB::Table").values()
        ]
        item = self.cloud.client("dynamodb").get_item(
            TableName=table, Key={"pk": {"S": "lock"}}, ConsistentRead=True
        )
        return item.get("Item")

    def summaries(self) -> list[dict[str, Any]]:
        topic = self.stack.outputs["NotificationTopicArn"]
        return [
            n
            for n in self.cloud.notifications
            if n["TopicArn"] == topic and not is_alarm_notification(n)  # alarms share the topic
        ]


def deploy(cloud: LocalCloud, *, scheduled: bool = False) -> LabelsStack:
    """Train the sample model (the user's), then deploy the stack with its ARNs. Unless
    `scheduled`, the hourly rule is disabled and the test fires runs itself."""
    project_arn, version_arn = train_sample_model(cloud)
    stack = cloud.deploy(
        STACK, parameters={"ProjectArn": project_arn, "ProjectVersionArn": version_arn}
    )
    if not scheduled:
        for rule in stack.resources_of_type("AWS::Events::Rule").values():
            cloud.client("events").disable_rule(Name=rule.ref)
    return LabelsStack(cloud, stack, scheduled=scheduled)


def uploads(paths: list[Path], prefix: str = "uploads/") -> dict[str, bytes]:
    return {prefix + path.name: path.read_bytes() for path in paths}


def assert_least_privilege(cloud: LocalCloud) -> None:
    report = check(cloud)
    assert report.checked_calls > 0
    assert report.denied == [], report.format()
    assert report.unverifiable == [], report.format()
