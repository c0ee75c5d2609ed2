"""What users bring to a deployment, made on the local cloud for the demos and the server."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud


def what_users_bring(cloud: LocalCloud, declared: set[str]) -> dict[str, Any]:
    """Values for the stack parameters a user supplies at deployment, made on the local cloud:
    a Custom Labels model trained from the sample manifest, and an A2I work team ARN."""
    given: dict[str, Any] = {}
    if {"ProjectArn", "ProjectVersionArn"} <= declared:
        from localcloud.demos.custom_labels_batch import train_sample_model

        given["ProjectArn"], given["ProjectVersionArn"] = train_sample_model(cloud)
    if "WorkteamArn" in declared:
        from localcloud.demos.comprehend_feedback_loop import WORKTEAM

        given["WorkteamArn"] = WORKTEAM
    return given
