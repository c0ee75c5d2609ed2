"""Feedback objects (written by the feedback stream) -> human loops of at most
`MAX_ITEMS_PER_LOOP` items each. Loop names derive from the object's version and the chunk,
so a redelivered event starts nothing twice."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from lambdas.comprehend_feedback_loop.feedback import FeedbackItem
from lambdas.comprehend_feedback_loop.loops import chunks, loop_input, loop_name
from lambdas.comprehend_feedback_loop.settings import FeedbackSettings
from lambdas.shared.aws import ClientCache
from lambdas.shared.events import s3_events_from_body
from lambdas.shared.observability import observability

logger, tracer, metrics = observability()
processor = BatchProcessor(event_type=EventType.SQS)
clients = ClientCache()


def items_of(data: bytes) -> list[FeedbackItem]:
    """The feedback stream writes one JSON object per line; a line that is not one is kept
    in the object (it stays in the feedback bucket) and reported."""
    items = []
    for number, line in enumerate(data.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(FeedbackItem.from_dict(json.loads(line)))
        except (ValueError, KeyError, TypeError):
            logger.error("unreadable feedback line", line=number)
            metrics.add_metric(name="UnreadableFeedbackLines", unit="Count", value=1)
    return items


def record_handler(record: SQSRecord) -> None:
    settings = FeedbackSettings.from_env()
    a2i = clients("sagemaker-a2i-runtime")
    for event in s3_events_from_body(record.body):
        version = {"VersionId": event.version_id} if event.version_id else {}
        data = clients("s3").get_object(Bucket=event.bucket, Key=event.key, **version)
        items = items_of(data["Body"].read())
        source = f"{event.bucket}/{event.key}#{event.version_id or event.etag}"
        for number, chunk in enumerate(chunks(items, settings.max_items_per_loop)):
            name = loop_name(source, number)
            try:
                a2i.start_human_loop(
                    HumanLoopName=name,
                    FlowDefinitionArn=settings.flow_definition_arn,
                    HumanLoopInput={"InputContent": loop_input(chunk, settings.categories)},
                )
                metrics.add_metric(name="HumanLoopsStarted", unit="Count", value=1)
            except a2i.exceptions.ConflictException:
                logger.info("human loop already started", loop=name)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> Any:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
