"""The image processor's settings, read from the environment the stack sets."""

from __future__ import annotations

from dataclasses import dataclass

from lambdas.shared.config import FromEnvironment, env


@dataclass(frozen=True)
class LabellingSettings(FromEnvironment):
    final_bucket: str = env("FINAL_BUCKET")
    project_version_arn: str = env("PROJECT_VERSION_ARN")
    min_confidence: int = env("MIN_CONFIDENCE", 70)
    lock_table: str = env("LOCK_TABLE")
    queue_url: str = env("QUEUE_URL")
    max_attempts: int = env("MAX_ATTEMPTS", 3)
    retry_delay_seconds: int = env("RETRY_DELAY_SECONDS", 30)
