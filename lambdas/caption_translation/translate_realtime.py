"""TranslateRealtime (state machine task): translate a small batch with TranslateText."""

from __future__ import annotations

from typing import Any

from lambdas.caption_translation.settings import CaptionSettings
from lambdas.caption_translation.translation import translate_realtime
from lambdas.caption_translation.translator import translator_factory
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
    summary = translate_realtime(
        event["batchId"],
        ObjectStore(clients("s3"), settings.bucket),
        translator_factory(clients("translate"), settings.terminology_names),
    )
    metrics.add_metric(name="CaptionOutputs", unit="Count", value=summary["outputs"])
    metrics.add_metric(name="CaptionFailures", unit="Count", value=summary["failed"])
    logger.info("batch translated in real time", **{k: summary[k] for k in ("outputs", "failed")})
    return summary
