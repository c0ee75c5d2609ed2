"""Feedback objects (written by the feedback stream) -> human loops of at most
`MAX_ITEMS_PER_LOOP` items each. Loop names derive from the object's version and the chunk,
so a redelivered event starts nothing twice."""

from __future__ import annotations

import json

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from lambdas.comprehend_feedback_loop.feedback import FeedbackItem
from lambdas.comprehend_feedback_loop.loops import chunks, loop_input, loop_name
from lambdas.comprehend_feedback_loop.settings import FeedbackSettings
from lambdas.shared.events import s3_events_from_body
from lambdas.shared.kit import HandlerKit

kit = HandlerKit(FeedbackSettings)


def items_of(data: bytes) -> list[FeedbackItem]:
    """The feedback stream writes one JSON object per line; a line that is not one is kept
    in the object (it stays in the feedback bucket) and reported. A line repeated in one
    object is reviewed once: Firehose delivers at least once, so a record whose PutRecord
    answer was lost is written twice, and each object reviewed costs."""
    items = []
    for number, line in enumerate(data.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(FeedbackItem.from_dict(json.loads(line)))
        except (ValueError, KeyError, TypeError):
            kit.logger.error("unreadable feedback line", line=number)
            kit.count("UnreadableFeedbackLines")
    return list(dict.fromkeys(items))


@kit.sqs_records
def handler(record: SQSRecord, settings: FeedbackSettings) -> None:
    # Loop names are the idempotency here: A2I refuses a second loop of one name
    # (ConflictException), so a redelivered event starts nothing twice without a table.
    a2i = kit.clients("sagemaker-a2i-runtime")
    for event in s3_events_from_body(record.body):
        version = {"VersionId": event.version_id} if event.version_id else {}
        data = kit.clients("s3").get_object(Bucket=event.bucket, Key=event.key, **version)
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
                kit.count("HumanLoopsStarted")
            except a2i.exceptions.ConflictException:
                kit.logger.info("human loop already started", loop=name)
