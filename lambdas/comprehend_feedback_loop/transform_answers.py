"""A completed human loop (A2I's "SageMaker A2I HumanLoop Status Change" event) -> training
rows on the training stream, which delivers them under part 1's `train/` prefix.

Idempotent: a loop is claimed in the state table before its rows are sent and marked done
after, so a redelivered event sends nothing twice. A claim left by a crashed attempt is taken
over once it is older than `STALE_CLAIM_SECONDS` (at-least-once, as Firehose itself is).
"""

from __future__ import annotations

import json
import time
from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source

from lambdas.comprehend_feedback_loop.batch_feedback import DeliveryError
from lambdas.comprehend_feedback_loop.loops import csv_rows, reviewed_rows
from lambdas.comprehend_feedback_loop.settings import FeedbackSettings
from lambdas.shared.aws import ClientCache
from lambdas.shared.observability import observability

logger, tracer, metrics = observability()
clients = ClientCache()
STALE_CLAIM_SECONDS = 900


def _claim(table: str, name: str) -> bool:
    dynamodb = clients("dynamodb")
    now = int(time.time())
    try:
        dynamodb.put_item(
            TableName=table,
            Item={
                "pk": {"S": f"loop#{name}"},
                "state": {"S": "sending"},
                "claimedAt": {"N": str(now)},
            },
            ConditionExpression=(
                "attribute_not_exists(pk) OR (#s = :sending AND claimedAt < :stale)"
            ),
            ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues={
                ":sending": {"S": "sending"},
                ":stale": {"N": str(now - STALE_CLAIM_SECONDS)},
            },
        )
    except dynamodb.exceptions.ConditionalCheckFailedException:
        return False
    return True


def transform(settings: FeedbackSettings, detail: dict[str, Any]) -> int:
    name = detail["humanLoopName"]
    if detail.get("humanLoopStatus") != "Completed":
        logger.warning("human loop ended without answers", loop=name, detail=detail)
        return 0
    uri = detail["humanLoopOutput"]["outputS3Uri"]
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not _claim(settings.table, name):
        logger.info("human loop already transformed", loop=name)
        return 0
    try:
        output = json.loads(clients("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
        rows = reviewed_rows(output, settings.categories)
        if rows:
            answer = clients("firehose").put_record_batch(
                DeliveryStreamName=settings.training_stream,
                Records=[{"Data": csv_rows([row])} for row in rows],
            )
            if answer.get("FailedPutCount"):
                raise DeliveryError(f"{answer['FailedPutCount']} training rows were refused")
    except Exception:
        # Release the claim so Lambda's asynchronous retry starts over; after the last one the
        # event waits in the failure queue, and the answers in the review output bucket.
        clients("dynamodb").delete_item(TableName=settings.table, Key={"pk": {"S": f"loop#{name}"}})
        raise
    clients("dynamodb").update_item(
        TableName=settings.table,
        Key={"pk": {"S": f"loop#{name}"}},
        UpdateExpression="SET #s = :done, #rows = :rows",
        ExpressionAttributeNames={"#s": "state", "#rows": "rows"},
        ExpressionAttributeValues={":done": {"S": "done"}, ":rows": {"N": str(len(rows))}},
    )
    metrics.add_metric(name="TrainingRows", unit="Count", value=len(rows))
    return len(rows)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=EventBridgeEvent)
def handler(event: EventBridgeEvent, context: Any) -> dict[str, Any]:
    rows = transform(FeedbackSettings.from_env(), dict(event.detail))
    return {"rows": rows}
