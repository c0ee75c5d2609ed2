"""ProcessImages: SQS batches of S3 upload events -> labelled (or quarantined) images.

Enabled by the workflow only while the model is RUNNING. Partial batch responses: a failed
record returns to the queue alone. A throttled record is sent back with a delay instead, so
throttling never counts towards the queue's maxReceiveCount.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from botocore.exceptions import ClientError

from lambdas.custom_labels.labelling import Outcome, TransientError, label_image
from lambdas.custom_labels.settings import LabellingSettings
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


def record_handler(record: SQSRecord) -> None:
    settings = LabellingSettings.from_env()
    receive_count = int(record.attributes.approximate_receive_count or 1)
    for event in s3_events_from_body(record.body):
        try:
            outcome = label_image(
                event, receive_count, settings, clients("s3"), clients("rekognition")
            )
        except TransientError as error:
            clients("sqs").send_message(
                QueueUrl=settings.queue_url,
                MessageBody=record.body,
                DelaySeconds=min(900, settings.retry_delay_seconds),
            )
            logger.warning("image requeued", key=event.key, reason=str(error))
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
