"""StartBatch: SQS messages carrying the trigger file's S3 event -> a new batch and its workflow.

Partial batch responses: a failed record is retried alone (and dead-lettered after the queue's
maxReceiveCount) while the others complete. Records are idempotent: a redelivered trigger maps to
the same batch and the same execution name.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from lambdas.caption_translation.batches import is_trigger, start_batch
from lambdas.caption_translation.settings import CaptionSettings
from lambdas.shared.errors import ConfigurationError
from lambdas.shared.events import s3_events_from_body
from lambdas.shared.kit import HandlerKit
from lambdas.shared.s3 import ObjectStore

kit = HandlerKit(CaptionSettings)


class StepFunctionsStarter:
    """Starts a named execution. Step Functions refuses a second execution of one name, which
    is what makes a redelivered trigger start nothing twice: no idempotency table needed."""

    def __init__(self, sfn: Any, state_machine_arn: str) -> None:
        self.sfn = sfn
        self.state_machine_arn = state_machine_arn

    def start(self, name: str, payload: dict[str, Any]) -> bool:
        try:
            self.sfn.start_execution(
                stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(payload)
            )
        except self.sfn.exceptions.ExecutionAlreadyExists:
            return False
        return True


@kit.sqs_records
def handler(record: SQSRecord, settings: CaptionSettings) -> None:
    if not settings.state_machine_arn:
        raise ConfigurationError("STATE_MACHINE_ARN is not set")
    store = ObjectStore(kit.clients("s3"), settings.bucket)
    starter = StepFunctionsStarter(kit.clients("stepfunctions"), settings.state_machine_arn)
    events = s3_events_from_body(record.body)
    kit.count("TriggerEvents", len(events))
    for event in events:
        if not is_trigger(event, settings):
            kit.logger.warning("ignoring an object that is not the trigger file", key=event.key)
            continue
        started = start_batch(event, settings, store, starter)
        kit.logger.info(
            "batch started" if started.execution_started else "batch already started",
            batch_id=started.batch_id,
            files=started.files,
        )
        kit.count("BatchFiles", started.files)
