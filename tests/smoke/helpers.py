"""The smoke check's environment on the local cloud, and every stack deployed the way a user
would have it after `make deploy`: models trained, the Glue source in place."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from localcloud.cloud import DeployedStack, LocalCloud
from localcloud.demos.custom_labels_batch import train_sample_model
from localcloud.demos.glue_ml_pipeline import SAMPLE, upload_source
from localcloud.demos.review import SAMPLES
from localcloud.demos.ticket_classification import TicketsStack, train_endpoints
from localcloud.services.apigateway.gateway import LocalApiGateway
from smoke.core import HttpAnswer, MonotonicDeadline

STAGE = "test"
WORKTEAM = "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/reviewers"
# Local engines work in real time while the local clock runs fast: a check's wait (sized for
# AWS) becomes at most this many real seconds here (a loaded machine starts Spark slowly).
LOCAL_WAIT_SECONDS = 600.0


@dataclass
class LocalEnvironment:
    """`smoke.Environment` on the local cloud: its clients, its API Gateway, its clock."""

    cloud: LocalCloud
    gateway: LocalApiGateway

    def client(self, service: str) -> Any:
        return self.cloud.client(service)

    def post(self, url: str, headers: dict[str, str], body: bytes) -> HttpAnswer:
        answer = self.gateway.request("POST", url, headers=headers, body=body)
        return HttpAnswer(answer.status, answer.body)

    def pause(self, seconds: float) -> None:
        # Let in-flight work finish, then let the local clock run on by the poll interval.
        self.cloud.settle(timeout=300)
        self.cloud.clock.sleep(seconds)

    def deadline(self, seconds: float) -> MonotonicDeadline:
        return MonotonicDeadline(time.monotonic() + min(seconds, LOCAL_WAIT_SECONDS))


def deploy_all(cloud: LocalCloud) -> dict[str, DeployedStack]:
    """Every stack of the stage, as `make deploy` leaves them (no model trained yet). The
    Custom Labels model is the user's, trained beforehand; its hourly rule is disabled so
    that only the runs the tests start run."""
    project_arn, version_arn = train_sample_model(cloud)
    stacks = {
        name: cloud.deploy(f"{name}-{STAGE}", parameters)
        for name, parameters in (
            ("CaptionTranslation", None),
            ("CustomLabelsBatch", {"ProjectArn": project_arn, "ProjectVersionArn": version_arn}),
            ("ComprehendModelLifecycle", None),
            ("ComprehendFeedbackLoop", {"WorkteamArn": WORKTEAM}),
            ("TicketClassification", None),
            ("GlueMlPipeline", None),
        )
    }
    for rule in stacks["CustomLabelsBatch"].resources_of_type("AWS::Events::Rule").values():
        cloud.client("events").disable_rule(Name=rule.ref)
    return stacks


def train_models(cloud: LocalCloud, stacks: dict[str, DeployedStack]) -> None:
    """What a user does after deploying: the first training data for the lifecycle, the ticket
    endpoints' training run, the Glue pipeline's source dataset."""
    cloud.client("s3").put_object(
        Bucket=stacks["ComprehendModelLifecycle"].outputs["TrainingBucketName"],
        Key="train/initial.csv",
        Body=(SAMPLES / "initial.csv").read_bytes(),
    )
    train_endpoints(cloud, TicketsStack(cloud, stacks["TicketClassification"]))
    upload_source(cloud, stacks["GlueMlPipeline"], SAMPLE.read_bytes())
    cloud.settle(timeout=300)


def keys_everywhere(cloud: LocalCloud, bucket: str, containing: str) -> list[str]:
    """Every key (any version, delete markers too) in `bucket` that contains `containing`."""
    listed: list[str] = []
    paginator = cloud.client("s3").get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket):
        for entry in page.get("Versions", []) + page.get("DeleteMarkers", []):
            if containing in entry["Key"]:
                listed.append(entry["Key"])
    return listed
