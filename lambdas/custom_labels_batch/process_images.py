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

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from lambdas.custom_labels_batch.labelling import Outcome, RetryLaterError, label_image
from lambdas.custom_labels_batch.settings import LabellingSettings
from lambdas.shared.aws import conditional_write
from lambdas.shared.events import s3_events_from_body
from lambdas.shared.kit import HandlerKit

kit = HandlerKit(LabellingSettings)
ATTEMPTS_ATTRIBUTE = "attempts"


def _count(settings: LabellingSettings, outcome: Outcome) -> None:
    """Add the outcome to the current run's counters, kept on the workflow's lock item."""
    field = {"labelled": "labelled", "quarantined": "failed"}.get(outcome.kind)
    if field is None:
        return
    # False when no run holds the lock: nothing to count.
    conditional_write(
        kit.clients("dynamodb").update_item,
        TableName=settings.lock_table,
        Key={"pk": {"S": "lock"}},
        UpdateExpression="ADD #field :one",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeNames={"#field": field},
        ExpressionAttributeValues={":one": {"N": "1"}},
    )


def attempts_so_far(record: SQSRecord) -> int:
    """Attempts before this one, carried by a requeued message. (SQS's receive count is no
    measure: the workflow's look at a lone message counts as a receive too.)"""
    attribute = record.message_attributes[ATTEMPTS_ATTRIBUTE]  # None when absent
    return int(attribute.string_value or 0) if attribute is not None else 0


@kit.sqs_records
def handler(record: SQSRecord, settings: LabellingSettings) -> None:
    before = attempts_so_far(record)
    events = s3_events_from_body(record.body)
    raw_records = json.loads(record.body)["Records"] if events else []
    for raw, event in zip(raw_records, events, strict=True):
        try:
            outcome = label_image(
                event, before + 1, settings, kit.clients("s3"), kit.clients("rekognition")
            )
        except RetryLaterError as retry:
            attempts = before + 1 if retry.counted else before
            kit.clients("sqs").send_message(
                QueueUrl=settings.queue_url,
                MessageBody=json.dumps({"Records": [raw]}),  # this image alone
                DelaySeconds=min(900, settings.retry_delay_seconds),
                MessageAttributes={
                    ATTEMPTS_ATTRIBUTE: {"DataType": "Number", "StringValue": str(attempts)}
                },
            )
            kit.logger.warning(
                "image requeued", key=event.key, reason=str(retry), attempts=attempts
            )
            kit.count("ImagesRequeued")
            continue
        _count(settings, outcome)
        kit.logger.info(
            "image processed", key=outcome.key, outcome=outcome.kind, reason=outcome.reason
        )
        kit.count("ImagesLabelled" if outcome.kind == "labelled" else "ImagesNotLabelled")
