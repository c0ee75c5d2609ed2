"""The workflow's settings, read once per invocation from the environment the stack sets."""

from __future__ import annotations

from dataclasses import dataclass

from lambdas.shared.config import FromEnvironment, env


@dataclass(frozen=True)
class CaptionSettings(FromEnvironment):
    bucket: str = env("BUCKET_NAME")
    source_language: str = env("SOURCE_LANGUAGE")
    target_languages: tuple[str, ...] = env("TARGET_LANGUAGES")
    terminology_names: tuple[str, ...] = env("TERMINOLOGY_NAMES")
    trigger_file: str = env("TRIGGER_FILE", "triggerfile")
    realtime_max_bytes: int = env("REALTIME_MAX_BYTES", 200_000)
    poll_interval_seconds: int = env("POLL_INTERVAL_SECONDS", 60)
    max_polls: int = env("MAX_POLLS", 720)
    state_machine_arn: str | None = env("STATE_MACHINE_ARN")
    reading_profile: str | None = env("READING_PROFILE")  # JSON, see captions.reading
