"""Intake: S3 upload events (via SQS) -> pending uploads, and a training round if none runs.

A record whose round cannot start yet (another round holds the lock) is reported as failed, so
SQS delivers it again later; its upload is already recorded as pending either way.

A round's execution is named after the upload that starts it (bucket, key and version), not
after the notification: S3 may notify the same upload twice, with different event times, and
StartExecution with the same name and input starts no second round.
"""

from __future__ import annotations

import hashlib
import json

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from lambdas.comprehend_model_lifecycle import layout
from lambdas.comprehend_model_lifecycle.locking import record_pending, start_round_if_idle
from lambdas.comprehend_model_lifecycle.settings import LifecycleSettings
from lambdas.shared.errors import ConfigurationError
from lambdas.shared.events import S3ObjectEvent, s3_events_from_body
from lambdas.shared.kit import HandlerKit

kit = HandlerKit(LifecycleSettings)


class RoundBusyError(Exception):
    """Another training round is running; the upload waits for the next one."""


@kit.sqs_records
def handler(record: SQSRecord, settings: LifecycleSettings) -> None:
    if not settings.state_machine_arn:
        raise ConfigurationError("STATE_MACHINE_ARN is not set")
    events = [e for e in s3_events_from_body(record.body) if e.key.startswith(layout.UPLOAD_PREFIX)]
    for event in events:
        if event.key.endswith("/"):
            continue
        sort_key = f"{event.event_time}#{event.sequencer}#{event.key}"
        if record_pending(
            kit.clients("dynamodb"), settings.table, sort_key, event.key, event.version_id
        ):
            kit.count("UploadsReceived")
    if not events:
        return
    name = round_name(events[0], record.body)
    started = start_round_if_idle(
        kit.clients("dynamodb"), kit.clients("stepfunctions"), settings.table,
        settings.state_machine_arn, name,
    )  # fmt: skip
    if not started:
        raise RoundBusyError("a training round is running; this upload waits for the next")
    kit.logger.info("training round started", execution=name)


def round_name(upload: S3ObjectEvent, body: str) -> str:
    """The execution name of the round an upload starts: from the upload's bucket, key and
    version; from the whole message when the upload has no version (an unversioned bucket)."""
    if upload.version_id:
        identity = json.dumps([upload.bucket, upload.key, upload.version_id])
    else:
        identity = body
    return "round-" + hashlib.sha256(identity.encode()).hexdigest()[:24]
