"""The state machine's Lambda tasks: the event they receive (a Powertools data class) and
what they report about the summary they return."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.common import DictWrapper

from lambdas.shared.kit import HandlerKit


class BatchTask(DictWrapper):
    """`{"batchId", "executionName"?, "jobs"?}`: the batch, and what each step adds."""

    @property
    def batch_id(self) -> str:
        return str(self["batchId"])

    @property
    def execution_name(self) -> str:
        return str(self["executionName"])

    @property
    def jobs(self) -> list[dict[str, Any]]:
        return list(self["jobs"])


def count_outcomes(kit: HandlerKit[Any], summary: dict[str, Any], message: str) -> dict[str, Any]:
    """The batch's outputs and failures, as metrics and in the log."""
    kit.count("CaptionOutputs", summary["outputs"])
    kit.count("CaptionFailures", summary["failed"])
    kit.logger.info(message, outputs=summary["outputs"], failed=summary["failed"])
    return summary
