"""The state machine's Lambda tasks: the event they receive (a Powertools data class) and
what they report about the summary they return."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.common import DictWrapper

from lambdas.shared.kit import HandlerKit


class TaskInputError(ValueError):
    """A task invoked with an input the state machine never sends (by hand, say)."""


class BatchTask(DictWrapper):
    """`{"batchId", "executionName"?, "jobs"?}`: the batch, and what each step adds."""

    def _field(self, name: str) -> Any:
        if not isinstance(self._data, dict) or name not in self._data:
            present = sorted(self._data) if isinstance(self._data, dict) else type(self._data)
            raise TaskInputError(
                f"the task input has no {name!r} (it has {present}); the state machine sends "
                '{"batchId", "executionName"} and, after a translation job, "jobs"'
            )
        return self._data[name]

    @property
    def batch_id(self) -> str:
        return str(self._field("batchId"))

    @property
    def execution_name(self) -> str:
        return str(self._field("executionName"))

    @property
    def jobs(self) -> list[dict[str, Any]]:
        return list(self._field("jobs"))


def count_outcomes(kit: HandlerKit[Any], summary: dict[str, Any], message: str) -> dict[str, Any]:
    """The batch's outputs and failures, as metrics and in the log."""
    kit.count("CaptionOutputs", summary["outputs"])
    kit.count("CaptionFailures", summary["failed"])
    kit.logger.info(message, outputs=summary["outputs"], failed=summary["failed"])
    return summary
