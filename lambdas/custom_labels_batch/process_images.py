"""ProcessImages: SQS batches of S3 upload events -> labelled (or quarantined) images.

Enabled by the workflow only while the model is RUNNING. An image to retry goes back to the
queue as a new message, delayed, carrying the attempts made so far in its `attempts` attribute:
retries wait seconds rather than the queue's visibility timeout, and throttling is not an
attempt. Anything else that fails a record (an unreadable message, S3 unavailable) fails it
alone (partial batch response); SQS redelivers it and, past maxReceiveCount, moves it to the
dead-letter queue.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from botocore.exceptions import ClientError

from lambdas.custom_labels_batch.labelling import Outcome, RetryLaterError, label_image
from lambdas.custom_labels_batch.settings import LabellingSettings
from lambdas.shared.aws import ClientCache
from lambdas.shared.events import s3_events_from_body
from lambdas.shared.observability import observability

logger, tracer, metrics = observability()
processor = BatchProcessor(event_type=EventType.SQS)
clients = ClientCache()


def _count(settings: LabellingSettings, outcome: Outcome) -> None:
    """Add the outcome to the current run's counters, kept on the workflow's lock item."""
    field = {"labelled": "labelled", "quarantined": "failed"}.get(outcome.kind)
    if field is None:
        return
    try:
        clients("dynamodb").update_item(
            TableName=settings.lock_table,
            Key={"pk": {"S": "lock"}},
            UpdateExpression="ADD #field :one",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames={"#field": field},
            ExpressionAttributeValues={":one": {"N": "1"}},
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise  # no run holds the lock: nothing to count


ATTEMPTS_ATTRIBUTE = "attempts"


def attempts_so_far(record: SQSRecord) -> int:
    """Attempts before this one, carried by a requeued message. (SQS's receive count is no
    measure: the workflow's look at a lone message counts as a receive too.)"""
    attribute = record.message_attributes[ATTEMPTS_ATTRIBUTE]  # None when absent
    return int(attribute.string_value or 0) if attribute is not None else 0


def record_handler(record: SQSRecord) -> None:
    settings = LabellingSettings.from_env()
    before = attempts_so_far(record)
    events = s3_events_from_body(record.body)
    raw_records = json.loads(record.body)["Records"] if events else []
    for raw, event in zip(raw_records, events, strict=True):
        try:
            outcome = label_image(
                event, before + 1, settings, clients("s3"), clients("rekognition")
            )
        except RetryLaterError as retry:
            attempts = before + 1 if retry.counted else before
            clients("sqs").send_message(
                QueueUrl=settings.queue_url,
                MessageBody=json.dumps({"Records": [raw]}),  # this image alone
                DelaySeconds=min(900, settings.retry_delay_seconds),
                MessageAttributes={
                    ATTEMPTS_ATTRIBUTE: {"DataType": "Number", "StringValue": str(attempts)}
                },
            )
            logger.warning("image requeued", key=event.key, reason=str(retry), attempts=attempts)
            metrics.add_metric(name="ImagesRequeued", unit="Count", value=1)
            continue
        _count(settings, outcome)
        logger.info("image processed", key=outcome.key, outcome=outcome.kind, reason=outcome.reason)
        metrics.add_metric(
            name="ImagesLabelled" if outcome.kind == "labelled" else "ImagesNotLabelled",
            unit="Count",
            value=1,
        )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> Any:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
