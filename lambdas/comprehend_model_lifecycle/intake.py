"""Intake: S3 upload events (via SQS) -> pending uploads, and a training round if none runs.

A record whose round cannot start yet (another round holds the lock) is reported as failed, so
SQS delivers it again later; its upload is already recorded as pending either way.
"""

from __future__ import annotations

import hashlib
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from lambdas.comprehend_model_lifecycle import layout
from lambdas.comprehend_model_lifecycle.locking import record_pending, start_round_if_idle
from lambdas.comprehend_model_lifecycle.settings import LifecycleSettings
from lambdas.shared.aws import ClientCache
from lambdas.shared.errors import ConfigurationError
from lambdas.shared.events import s3_events_from_body
from lambdas.shared.observability import observability

logger, tracer, metrics = observability()
processor = BatchProcessor(event_type=EventType.SQS)
clients = ClientCache()


class RoundBusyError(Exception):
    """Another training round is running; the upload waits for the next one."""


def record_handler(record: SQSRecord) -> None:
    settings = LifecycleSettings.from_env()
    if not settings.state_machine_arn:
        raise ConfigurationError("STATE_MACHINE_ARN is not set")
    events = [e for e in s3_events_from_body(record.body) if e.key.startswith(layout.UPLOAD_PREFIX)]
    for event in events:
        if event.key.endswith("/"):
            continue
        sort_key = f"{event.event_time}#{event.sequencer}#{event.key}"
        if record_pending(
            clients("dynamodb"), settings.table, sort_key, event.key, event.version_id
        ):
            metrics.add_metric(name="UploadsReceived", unit="Count", value=1)
    if not events:
        return
    name = "round-" + hashlib.sha256(record.body.encode()).hexdigest()[:24]
    started = start_round_if_idle(
        clients("dynamodb"), clients("stepfunctions"), settings.table,
        settings.state_machine_arn, name,
    )  # fmt: skip
    if not started:
        raise RoundBusyError("a training round is running; this upload waits for the next")
    logger.info("training round started", execution=name)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> Any:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
