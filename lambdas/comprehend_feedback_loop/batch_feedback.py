"""Batch feedback: a JSON file uploaded to the batch bucket (`{"classifier", "sentences"}`)
becomes feedback items on the feedback stream. A malformed file is copied to `failed/` with a
`.error.json` saying why; the upload itself stays where it is."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from lambdas.comprehend_feedback_loop.feedback import BatchFileError, FeedbackItem, parse_batch
from lambdas.comprehend_feedback_loop.settings import FeedbackSettings
from lambdas.shared.aws import ClientCache
from lambdas.shared.events import s3_events_from_body
from lambdas.shared.observability import observability

logger, tracer, metrics = observability()
processor = BatchProcessor(event_type=EventType.SQS)
clients = ClientCache()
FIREHOSE_BATCH = 500  # PutRecordBatch's record limit


class DeliveryError(Exception):
    """Firehose refused records even after retries; SQS redelivers the upload."""


def put_records(stream: str, items: list[FeedbackItem]) -> None:
    firehose = clients("firehose")
    for start in range(0, len(items), FIREHOSE_BATCH):
        records = [{"Data": item.as_json_line()} for item in items[start : start + FIREHOSE_BATCH]]
        for _ in range(3):
            answer = firehose.put_record_batch(DeliveryStreamName=stream, Records=records)
            if not answer.get("FailedPutCount"):
                break
            records = [
                record
                for record, result in zip(records, answer["RequestResponses"], strict=True)
                if result.get("ErrorCode")
            ]
        else:
            raise DeliveryError(f"{len(records)} records were refused by {stream}")


def record_handler(record: SQSRecord) -> None:
    settings = FeedbackSettings.from_env()
    s3 = clients("s3")
    for event in s3_events_from_body(record.body):
        if event.key.startswith("failed/") or event.key.endswith("/"):
            continue
        version = {"VersionId": event.version_id} if event.version_id else {}
        data = s3.get_object(Bucket=event.bucket, Key=event.key, **version)["Body"].read()
        try:
            items = parse_batch(data, event.key, settings.classifier_name)
        except BatchFileError as error:
            logger.warning("batch feedback rejected", key=event.key, reason=error.reason)
            s3.put_object(Bucket=event.bucket, Key=f"failed/{event.key}", Body=data)
            s3.put_object(
                Bucket=event.bucket,
                Key=f"failed/{event.key}.error.json",
                Body=json.dumps({**error.as_dict(), "key": event.key}).encode(),
            )
            metrics.add_metric(name="BatchFilesRejected", unit="Count", value=1)
            continue
        put_records(settings.feedback_stream, items)
        metrics.add_metric(name="BatchFeedback", unit="Count", value=len(items))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> Any:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
