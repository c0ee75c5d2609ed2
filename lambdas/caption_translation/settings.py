"""The workflow's settings, read once per invocation from the environment the stack sets."""

from __future__ import annotations

from dataclasses import dataclass

from lambdas.shared.config import env_int, env_list, env_str


@dataclass(frozen=True)
class CaptionSettings:
    bucket: str
    source_language: str
    target_languages: tuple[str, ...]
    terminology_names: tuple[str, ...]
    trigger_file: str
    realtime_max_bytes: int
    poll_interval_seconds: int
    max_polls: int
    state_machine_arn: str | None

    @classmethod
    def from_env(cls) -> CaptionSettings:
        return cls(
            bucket=env_str("BUCKET_NAME"),
            source_language=env_str("SOURCE_LANGUAGE"),
            target_languages=env_list("TARGET_LANGUAGES"),
            terminology_names=env_list("TERMINOLOGY_NAMES"),
            trigger_file=env_str("TRIGGER_FILE", "triggerfile"),
            realtime_max_bytes=env_int("REALTIME_MAX_BYTES", 200_000),
            poll_interval_seconds=env_int("POLL_INTERVAL_SECONDS", 60),
            max_polls=env_int("MAX_POLLS", 720),
            state_machine_arn=env_str("STATE_MACHINE_ARN", "") or None,
        )
