"""Settings of the feedback loop functions, read from the environment the stack sets."""

from __future__ import annotations

import os
from dataclasses import dataclass

from lambdas.shared.config import env_int, env_list, env_str


@dataclass(frozen=True)
class FeedbackSettings:
    classifier_name: str
    categories: tuple[str, ...]
    confidence_threshold: float
    endpoint_parameter: str
    parameter_max_age: int
    feedback_stream: str
    training_stream: str
    flow_definition_arn: str
    max_items_per_loop: int
    table: str

    @classmethod
    def from_env(cls) -> FeedbackSettings:
        return cls(
            classifier_name=env_str("CLASSIFIER_NAME"),
            categories=env_list("CATEGORIES"),
            confidence_threshold=env_int("CONFIDENCE_THRESHOLD_PER_MILLE", 500) / 1000,
            endpoint_parameter=os.environ.get("ENDPOINT_PARAMETER", ""),
            parameter_max_age=env_int("PARAMETER_MAX_AGE_SECONDS", 60),
            feedback_stream=os.environ.get("FEEDBACK_STREAM", ""),
            training_stream=os.environ.get("TRAINING_STREAM", ""),
            flow_definition_arn=os.environ.get("FLOW_DEFINITION_ARN", ""),
            max_items_per_loop=env_int("MAX_ITEMS_PER_LOOP", 10),
            table=os.environ.get("STATE_TABLE", ""),
        )
