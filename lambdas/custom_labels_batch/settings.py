"""The image processor's settings, read from the environment the stack sets."""

from __future__ import annotations

from dataclasses import dataclass

from lambdas.shared.config import env_int, env_str


@dataclass(frozen=True)
class LabellingSettings:
    final_bucket: str
    project_version_arn: str
    min_confidence: int
    lock_table: str
    queue_url: str
    max_attempts: int
    retry_delay_seconds: int

    @classmethod
    def from_env(cls) -> LabellingSettings:
        return cls(
            final_bucket=env_str("FINAL_BUCKET"),
            project_version_arn=env_str("PROJECT_VERSION_ARN"),
            min_confidence=env_int("MIN_CONFIDENCE", 70),
            lock_table=env_str("LOCK_TABLE"),
            queue_url=env_str("QUEUE_URL"),
            max_attempts=env_int("MAX_ATTEMPTS", 3),
            retry_delay_seconds=env_int("RETRY_DELAY_SECONDS", 30),
        )
