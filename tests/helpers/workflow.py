"""What the drivers of every workflow on the local cloud share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from localcloud.cloud import DeployedStack, LocalCloud
from tests.helpers.aws import described_executions


@dataclass
class DeployedWorkflow:
    """A workflow's stack deployed on the local cloud, driven as a user would drive it."""

    cloud: LocalCloud
    stack: DeployedStack

    @property
    def s3(self) -> Any:
        return self.cloud.client("s3")

    def executions(self) -> list[dict[str, Any]]:
        """Every execution of the stack's state machine, described."""
        return described_executions(
            self.cloud.client("stepfunctions"), self.stack.outputs["StateMachineArn"]
        )
