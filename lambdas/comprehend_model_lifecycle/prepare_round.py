"""PrepareRound (state machine task): collect pending uploads and build the candidate's data."""

from __future__ import annotations

from typing import Any

from lambdas.comprehend_model_lifecycle.rounds import prepare_round
from lambdas.comprehend_model_lifecycle.settings import LifecycleSettings
from lambdas.shared.aws import ClientCache
from lambdas.shared.observability import observability
from lambdas.shared.s3 import ObjectStore

logger, tracer, metrics = observability()
clients = ClientCache()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = LifecycleSettings.from_env()
    store = ObjectStore(clients("s3"), settings.bucket)
    round_id = f"{event['executionName']}-r{int(event['round'])}"
    plan = prepare_round(round_id, settings, store, clients("dynamodb"))
    metrics.add_metric(name="UploadsRejected", unit="Count", value=len(plan.rejected))
    logger.info("round prepared", round_id=round_id, has_data=plan.has_data, reason=plan.reason)
    return plan.as_dict(settings, store)
