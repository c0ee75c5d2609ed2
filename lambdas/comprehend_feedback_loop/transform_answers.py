"""A completed human loop (A2I's "SageMaker A2I HumanLoop Status Change" event) -> training
rows on the training stream, which delivers them under part 1's `train/` prefix.

A loop's rows are sent once, however often EventBridge delivers its event: Powertools
idempotency keeps a record per loop name in the state table. The record is in progress while
an attempt runs (another attempt fails and is retried, unless this one's invocation has timed
out: then it is taken over), completed once the rows were sent, and deleted when the attempt
fails, so that Lambda's asynchronous retry starts over; after the last retry the event waits
in the failure queue, and the answers in the review output bucket.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

from lambdas.comprehend_feedback_loop.feedback import DeliveryError
from lambdas.comprehend_feedback_loop.loops import csv_rows, reviewed_rows
from lambdas.comprehend_feedback_loop.settings import FeedbackSettings
from lambdas.shared.kit import HandlerKit

kit = HandlerKit(FeedbackSettings)
# Longer than any redelivery: EventBridge retries for 24 hours, Lambda's own retries are
# within 6; a completed record then expires through the table's TTL.
RECORD_SECONDS = 7 * 24 * 3600


def _already_sent(response: Any, idempotent_data: DataRecord) -> int:
    """A redelivered event sends nothing: no rows from this invocation."""
    kit.logger.info("human loop already transformed", record=idempotent_data.idempotency_key)
    return 0


IDEMPOTENCY = IdempotencyConfig(
    event_key_jmespath="humanLoopName",
    expires_after_seconds=RECORD_SECONDS,
    response_hook=_already_sent,
)


def send_rows(loop: dict[str, Any], settings: FeedbackSettings) -> int:
    """The reviewed rows of one completed loop (`loop` is the event's detail), sent to the
    training stream; the number of rows."""
    uri = loop["humanLoopOutput"]["outputS3Uri"]
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    output = json.loads(kit.clients("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    rows = reviewed_rows(output, settings.categories)
    if rows:
        answer = kit.clients("firehose").put_record_batch(
            DeliveryStreamName=settings.training_stream,
            Records=[{"Data": csv_rows([row])} for row in rows],
        )
        if answer.get("FailedPutCount"):
            raise DeliveryError(f"{answer['FailedPutCount']} training rows were refused")
    kit.count("TrainingRows", len(rows))
    return len(rows)


@kit.handler(EventBridgeEvent)
def handler(event: EventBridgeEvent, settings: FeedbackSettings, context: Any) -> dict[str, int]:
    loop = dict(event.detail)
    if loop.get("humanLoopStatus") != "Completed":
        kit.logger.warning("human loop ended without answers", loop=loop.get("humanLoopName"))
        return {"rows": 0}
    IDEMPOTENCY.register_lambda_context(context)  # an attempt is in progress until it times out
    # Decorated here: the table is the invocation's setting.
    send_once = idempotent_function(
        data_keyword_argument="loop",
        persistence_store=kit.idempotency(settings.table),
        config=IDEMPOTENCY,
    )(send_rows)
    return {"rows": send_once(loop=loop, settings=settings)}
