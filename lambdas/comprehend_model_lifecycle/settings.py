"""Settings of the lifecycle functions, read from the environment the stack sets."""

from __future__ import annotations

from dataclasses import dataclass

from lambdas.shared.config import env_int, env_list, env_str


@dataclass(frozen=True)
class LifecycleSettings:
    bucket: str
    table: str
    mode: str  # MULTI_CLASS or MULTI_LABEL
    label_delimiter: str
    metric: str  # Accuracy, Precision, Recall or F1
    test_percent: int
    allowed_labels: tuple[str, ...]
    retain_models: int
    min_improvement_per_mille: int
    classifier_name: str
    state_machine_arn: str | None

    @classmethod
    def from_env(cls) -> LifecycleSettings:
        return cls(
            bucket=env_str("BUCKET_NAME"),
            table=env_str("STATE_TABLE"),
            mode=env_str("CLASSIFIER_MODE", "MULTI_CLASS"),
            label_delimiter=env_str("LABEL_DELIMITER", "|"),
            metric=env_str("SELECTION_METRIC", "F1"),
            test_percent=env_int("TEST_PERCENT", 10),
            allowed_labels=env_list("ALLOWED_LABELS"),
            retain_models=env_int("RETAIN_MODELS", 2),
            min_improvement_per_mille=env_int("MIN_IMPROVEMENT_PER_MILLE", 0),
            classifier_name=env_str("CLASSIFIER_NAME"),
            state_machine_arn=env_str("STATE_MACHINE_ARN", "") or None,
        )

    @property
    def multi_label(self) -> bool:
        return self.mode == "MULTI_LABEL"
