"""PrepareBatch (state machine task): validate the batch's files and plan the translation."""

from __future__ import annotations

from typing import Any

import boto3

from lambdas.caption_translation.planning import prepare_batch
from lambdas.caption_translation.settings import CaptionSettings
from lambdas.shared.observability import observability
from lambdas.shared.s3 import ObjectStore

logger, tracer, metrics = observability()
_clients: dict[str, Any] = {}


def _s3() -> Any:
    if "s3" not in _clients:
        _clients["s3"] = boto3.client("s3")
    return _clients["s3"]


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = CaptionSettings.from_env()
    plan = prepare_batch(
        event["batchId"], event["executionName"], settings, ObjectStore(_s3(), settings.bucket)
    )
    logger.info(
        "batch prepared", batch_id=plan["batchId"], mode=plan["mode"], jobs=len(plan["jobs"])
    )
    return plan
