"""The event the state machine's Lambda tasks receive, as a Powertools data class."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.common import DictWrapper


class RoundTask(DictWrapper):
    """What a step of a training round is given: `{"executionName", "round"}` to prepare it,
    then `{"roundId", ...}` with what each step adds (evaluations, decision, candidate)."""

    @property
    def round_id(self) -> str:
        if "roundId" in self:
            return str(self["roundId"])
        return f"{self['executionName']}-r{int(self['round'])}"

    @property
    def evaluations(self) -> list[dict[str, Any]]:
        return list(self["evaluations"])

    @property
    def rejected(self) -> list[dict[str, str]]:
        return list(self.get("rejected") or [])

    @property
    def decision(self) -> str:
        return str(self["decision"])

    @property
    def candidate_arn(self) -> str | None:
        arn = self.get("candidateArn")
        return str(arn) if arn else None
