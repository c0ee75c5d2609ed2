"""Exception types shared by every workflow."""

from __future__ import annotations


class InputError(Exception):
    """An input the workflow cannot process. It is quarantined with `reason`, never dropped.

    `code` is a short machine-readable kind ("not-utf8", "no-cues", ...) for summaries and metrics;
    `reason` is the sentence a user reads in the error file.
    """

    code = "invalid-input"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def as_dict(self) -> dict[str, str]:
        return {"error": self.code, "reason": self.reason}


class ConfigurationError(Exception):
    """A setting (environment variable, CDK context, trigger override) is missing or invalid."""
