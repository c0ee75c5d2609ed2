"""Settings of the feedback loop functions, read from the environment the stack sets.

The functions share one environment; the few variables only some of them need (the streams,
the flow definition, the state table) are empty for the others.
"""

from __future__ import annotations

from dataclasses import dataclass

from lambdas.shared.config import FromEnvironment, env


@dataclass(frozen=True)
class FeedbackSettings(FromEnvironment):
    classifier_name: str = env("CLASSIFIER_NAME")
    categories: tuple[str, ...] = env("CATEGORIES")
    confidence_threshold_per_mille: int = env("CONFIDENCE_THRESHOLD_PER_MILLE", 500)
    endpoint_parameter: str = env("ENDPOINT_PARAMETER", "")
    parameter_max_age: int = env("PARAMETER_MAX_AGE_SECONDS", 60)
    feedback_stream: str = env("FEEDBACK_STREAM", "")
    training_stream: str = env("TRAINING_STREAM", "")
    flow_definition_arn: str = env("FLOW_DEFINITION_ARN", "")
    max_items_per_loop: int = env("MAX_ITEMS_PER_LOOP", 10)
    table: str = env("STATE_TABLE", "")
    # Part 1's endpoint keeper (empty: the endpoint is not kept by this app).
    keeper_table: str = env("KEEPER_TABLE", "")
    keeper_function: str = env("KEEPER_FUNCTION", "")
    warm_up_seconds: int = env("WARM_UP_SECONDS", 600)

    @property
    def confidence_threshold(self) -> float:
        return self.confidence_threshold_per_mille / 1000
