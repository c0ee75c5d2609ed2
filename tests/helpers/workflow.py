"""What the drivers of every workflow on the local cloud share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from localcloud.cloud import DeployedStack, LocalCloud
from tests.helpers.aws import described_executions


class StackOutput:
    """A workflow's property that reads one of its deployed stack's outputs."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, workflow: Any, owner: type | None = None) -> str:
        return str(self.values(workflow.stack)[self.name])

    @staticmethod
    def values(stack: DeployedStack) -> dict[str, Any]:
        return stack.outputs


class StackParameter(StackOutput):
    """A workflow's property that reads one of the parameters its stack was deployed with."""

    @staticmethod
    def values(stack: DeployedStack) -> dict[str, Any]:
        return stack.context.parameters


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
