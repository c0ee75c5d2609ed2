"""RebuildOutputs (state machine task): caption files from batch translation job output."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from lambdas.caption_translation.settings import CaptionSettings
from lambdas.caption_translation.translation import rebuild_outputs
from lambdas.caption_translation.translator import TranslateTextTranslator
from lambdas.shared.observability import observability
from lambdas.shared.s3 import ObjectStore

logger, tracer, metrics = observability()
_clients: dict[str, Any] = {}
RETRIES = Config(retries={"mode": "standard", "max_attempts": 8})


def _client(service: str) -> Any:
    if service not in _clients:
        _clients[service] = boto3.client(service, config=RETRIES)
    return _clients[service]


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = CaptionSettings.from_env()

    def translators(source: str, target: str) -> TranslateTextTranslator:
        return TranslateTextTranslator(
            _client("translate"), source, target, settings.terminology_names
        )

    def describe_job(job_id: str) -> dict[str, Any]:
        response = _client("translate").describe_text_translation_job(JobId=job_id)
        return dict(response["TextTranslationJobProperties"])

    summary = rebuild_outputs(
        event["batchId"],
        event["jobs"],
        ObjectStore(_client("s3"), settings.bucket),
        translators,
        describe_job,
    )
    metrics.add_metric(name="CaptionOutputs", unit="Count", value=summary["outputs"])
    metrics.add_metric(name="CaptionFailures", unit="Count", value=summary["failed"])
    logger.info("batch rebuilt", **{k: summary[k] for k in ("outputs", "failed")})
    return summary
