"""Settings of the lifecycle functions, read from the environment the stack sets."""

from __future__ import annotations

from dataclasses import dataclass

from lambdas.shared.config import FromEnvironment, env


@dataclass(frozen=True)
class LifecycleSettings(FromEnvironment):
    bucket: str = env("BUCKET_NAME")
    table: str = env("STATE_TABLE")
    mode: str = env("CLASSIFIER_MODE", "MULTI_CLASS")  # MULTI_CLASS or MULTI_LABEL
    label_delimiter: str = env("LABEL_DELIMITER", "|")
    metric: str = env("SELECTION_METRIC", "F1")  # Accuracy, Precision, Recall or F1
    test_percent: int = env("TEST_PERCENT", 10)
    allowed_labels: tuple[str, ...] = env("ALLOWED_LABELS")
    retain_models: int = env("RETAIN_MODELS", 2)
    min_improvement_per_mille: int = env("MIN_IMPROVEMENT_PER_MILLE", 0)
    classifier_name: str = env("CLASSIFIER_NAME")
    state_machine_arn: str | None = env("STATE_MACHINE_ARN")

    @property
    def multi_label(self) -> bool:
        return self.mode == "MULTI_LABEL"
