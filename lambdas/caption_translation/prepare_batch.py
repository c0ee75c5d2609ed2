"""PrepareBatch (state machine task): validate the batch's files and plan the translation."""

from __future__ import annotations

from typing import Any

from lambdas.caption_translation.planning import prepare_batch
from lambdas.caption_translation.settings import CaptionSettings
from lambdas.shared.aws import ClientCache
from lambdas.shared.observability import observability
from lambdas.shared.s3 import ObjectStore

logger, tracer, metrics = observability()
clients = ClientCache()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = CaptionSettings.from_env()
    plan = prepare_batch(
        event["batchId"],
        event["executionName"],
        settings,
        ObjectStore(clients("s3"), settings.bucket),
    )
    metrics.add_metric(name="TranslationJobs", unit="Count", value=len(plan["jobs"]))
    logger.info(
        "batch prepared", batch_id=plan["batchId"], mode=plan["mode"], jobs=len(plan["jobs"])
    )
    return plan
