"""StartBatch: SQS messages carrying the trigger file's S3 event -> a new batch and its workflow.

Partial batch responses: a failed record is retried alone (and dead-lettered after the queue's
maxReceiveCount) while the others complete. Records are idempotent: a redelivered trigger maps to
the same batch and the same execution name.
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

from lambdas.caption_translation.batches import is_trigger, start_batch
from lambdas.caption_translation.settings import CaptionSettings
from lambdas.shared.aws import ClientCache
from lambdas.shared.errors import ConfigurationError
from lambdas.shared.events import s3_events_from_body
from lambdas.shared.observability import observability
from lambdas.shared.s3 import ObjectStore

logger, tracer, metrics = observability()
processor = BatchProcessor(event_type=EventType.SQS)
clients = ClientCache()


class StepFunctionsStarter:
    def __init__(self, state_machine_arn: str) -> None:
        self.state_machine_arn = state_machine_arn

    def start(self, name: str, payload: dict[str, Any]) -> bool:
        sfn = clients("stepfunctions")
        try:
            sfn.start_execution(
                stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(payload)
            )
        except sfn.exceptions.ExecutionAlreadyExists:
            return False
        return True


def record_handler(record: SQSRecord) -> None:
    settings = CaptionSettings.from_env()
    if not settings.state_machine_arn:
        raise ConfigurationError("STATE_MACHINE_ARN is not set")
    store = ObjectStore(clients("s3"), settings.bucket)
    events = s3_events_from_body(record.body)
    metrics.add_metric(name="TriggerEvents", unit="Count", value=len(events))
    for event in events:
        if not is_trigger(event, settings):
            logger.warning("ignoring an object that is not the trigger file", key=event.key)
            continue
        started = start_batch(
            event, settings, store, StepFunctionsStarter(settings.state_machine_arn)
        )
        logger.info(
            "batch started" if started.execution_started else "batch already started",
            batch_id=started.batch_id,
            files=started.files,
        )
        metrics.add_metric(name="BatchFiles", unit="Count", value=started.files)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> Any:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
