"""Typed settings for each stack, read from CDK context (`cdk.json` or `-c key=value`).

Every value is validated at synth time, so a bad setting fails `cdk synth` with a clear message
instead of failing later in the account.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from constructs import Node

from lambdas.shared.errors import ConfigurationError
from lambdas.shared.languages import check_languages

MAX_POLL_BUDGET_SECONDS = 20 * 3600
STAGE_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,19}$")


def _get(node: Node, key: str, default: Any) -> Any:
    value = node.try_get_context(key)
    return default if value is None else value


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    if isinstance(value, list):
        return [str(item).strip() for item in value if str(item).strip()]
    raise ConfigurationError(f"expected a list or a comma-separated string, got {value!r}")


def _as_int(key: str, value: Any, minimum: int, maximum: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"{key} must be an integer, got {value!r}") from None
    if not minimum <= number <= maximum:
        raise ConfigurationError(f"{key} must be between {minimum} and {maximum}, got {number}")
    return number


def stage(node: Node) -> str:
    value = str(_get(node, "stage", "dev"))
    if not STAGE_PATTERN.match(value):
        raise ConfigurationError(f"stage must match {STAGE_PATTERN.pattern}, got {value!r}")
    return value


@dataclass(frozen=True)
class CaptionSettings:
    source_language: str
    target_languages: tuple[str, ...]
    trigger_file: str
    terminology_names: tuple[str, ...]
    realtime_max_bytes: int
    notification_email: str | None
    poll_interval_seconds: int
    max_polls: int
    batch_retention_days: int

    @classmethod
    def from_context(cls, node: Node) -> CaptionSettings:
        prefix = "captions:"
        source = str(_get(node, prefix + "sourceLanguage", "en"))
        targets = check_languages(source, _as_list(_get(node, prefix + "targetLanguages", "es")))
        trigger = str(_get(node, prefix + "triggerFile", "triggerfile"))
        if not re.fullmatch(r"[A-Za-z0-9._-]{1,100}", trigger):
            raise ConfigurationError(f"captions:triggerFile must be a plain file name: {trigger!r}")
        terminologies = tuple(_as_list(_get(node, prefix + "terminologyNames", [])))
        if len(terminologies) > 1:
            raise ConfigurationError(
                "Amazon Translate applies at most one custom terminology per request; "
                f"captions:terminologyNames has {len(terminologies)}"
            )
        for name in terminologies:
            if not re.fullmatch(r"[A-Za-z0-9-]{1,256}", name):
                raise ConfigurationError(f"invalid terminology name {name!r}")
        email = _get(node, prefix + "notificationEmail", None)
        settings = cls(
            source_language=source,
            target_languages=targets,
            trigger_file=trigger,
            terminology_names=terminologies,
            realtime_max_bytes=_as_int(
                prefix + "realtimeMaxBytes",
                _get(node, prefix + "realtimeMaxBytes", 200_000),
                0,
                5_000_000,
            ),
            notification_email=str(email) if email else None,
            poll_interval_seconds=_as_int(
                prefix + "pollIntervalSeconds",
                _get(node, prefix + "pollIntervalSeconds", 60),
                5,
                3600,
            ),
            max_polls=_as_int(prefix + "maxPolls", _get(node, prefix + "maxPolls", 720), 1, 10_000),
            batch_retention_days=_as_int(
                prefix + "batchRetentionDays",
                _get(node, prefix + "batchRetentionDays", 30),
                1,
                3650,
            ),
        )
        budget = settings.poll_interval_seconds * settings.max_polls
        if budget > MAX_POLL_BUDGET_SECONDS:
            raise ConfigurationError(
                f"captions:pollIntervalSeconds x captions:maxPolls is {budget} s; the workflow "
                f"allows {MAX_POLL_BUDGET_SECONDS} s for a job so it ends (and notifies) within "
                "its 24-hour execution timeout"
            )
        return settings
