"""FinishRound (state machine task): promote or keep the round's data; tidy up models."""

from __future__ import annotations

from typing import Any

from lambdas.comprehend_model_lifecycle.models import clean_up_models, discard
from lambdas.comprehend_model_lifecycle.rounds import finish_round
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
    decision = event["decision"]
    finish_round(event["roundId"], decision, settings, ObjectStore(clients("s3"), settings.bucket))
    comprehend = clients("comprehend")
    deleted: list[str] = []
    if decision == "promoted":
        deleted = clean_up_models(
            comprehend, settings.classifier_name, event.get("candidateArn"), settings.retain_models
        )
    elif discard(comprehend, event.get("candidateArn")):
        deleted = [event["candidateArn"]]
    metrics.add_metric(name="ModelsDeleted", unit="Count", value=len(deleted))
    logger.info("round finished", decision=decision, deleted=deleted)
    return {"decision": decision, "deletedModels": deleted}
