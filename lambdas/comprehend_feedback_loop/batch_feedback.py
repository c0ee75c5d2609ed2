"""Batch feedback: a JSON file uploaded to the batch bucket (`{"classifier", "sentences"}`)
becomes feedback items on the feedback stream. The upload itself stays where it is.

What cannot be used is quarantined in the same bucket (lambdas/shared/quarantine.py): a file
that is unusable as a whole (not JSON, another classifier, a key with a path trick) is copied
to `failed/<key>`; of a file with some bad sentences, the good ones go on to review and only
the bad ones are kept, as a batch file of their own at `failed/<key>`. Either way the report,
with each rejected sentence's line, is `error-reports/<key>.json`. Objects under those two
prefixes are the workflow's own and are not read as feedback.
"""

from __future__ import annotations

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from botocore.exceptions import ClientError

from lambdas.comprehend_feedback_loop.feedback import (
    BatchFileError,
    DeliveryError,
    FeedbackItem,
    parse_batch,
)
from lambdas.comprehend_feedback_loop.settings import FeedbackSettings
from lambdas.shared.events import S3ObjectEvent, s3_events_from_body
from lambdas.shared.keys import UnsafeKeyError, check_name
from lambdas.shared.kit import HandlerKit
from lambdas.shared.quarantine import (
    FAILED_PREFIX,
    REPORTS_PREFIX,
    UNREADABLE,
    ObjectRef,
    Quarantine,
    Rejection,
)
from lambdas.shared.s3 import error_code

kit = HandlerKit(FeedbackSettings)
WORKFLOW = "comprehend_feedback_loop"
FIREHOSE_BATCH = 500  # PutRecordBatch's record limit


def put_records(stream: str, items: list[FeedbackItem]) -> None:
    firehose = kit.clients("firehose")
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


def take_feedback(event: S3ObjectEvent, settings: FeedbackSettings) -> None:
    s3 = kit.clients("s3")
    source = ObjectRef(event.bucket, event.key, event.version_id)
    quarantine = Quarantine(s3, event.bucket, WORKFLOW)
    version = {"VersionId": event.version_id} if event.version_id else {}
    try:
        check_name(event.key)
        data = s3.get_object(Bucket=event.bucket, Key=event.key, **version)["Body"].read()
        batch = parse_batch(data, event.key, settings.classifier_name)
    except (BatchFileError, UnsafeKeyError) as error:
        kit.logger.warning("batch feedback rejected", key=event.key, reason=error.reason)
        quarantine.file(event.key, source, Rejection.of(error))
        kit.count("BatchFilesRejected")
        return
    except ClientError as error:
        # The upload's version is gone (deleted, or its event forged): a retry cannot read
        # it either, so it is reported rather than retried into the dead-letter queue.
        if error_code(error) not in UNREADABLE:
            raise
        reason = quarantine.file_unreadable(event.key, source, error_code(error), "it was read")
        kit.logger.warning("batch feedback unreadable", key=event.key, reason=reason)
        kit.count("BatchFilesRejected")
        return
    if batch.rejected:
        rejection = batch.rejection(event.key)
        kit.logger.warning("batch feedback sentences rejected", key=event.key,
                           reason=rejection.reason)  # fmt: skip
        quarantine.file(event.key, source, rejection, content=batch.rejected_part())
        kit.count("BatchSentencesRejected", len(batch.rejected))
    put_records(settings.feedback_stream, batch.items)
    kit.count("BatchFeedback", len(batch.items))


@kit.sqs_records
def handler(record: SQSRecord, settings: FeedbackSettings) -> None:
    for event in s3_events_from_body(record.body):
        if event.key.startswith((FAILED_PREFIX, REPORTS_PREFIX)) or event.key.endswith("/"):
            continue  # the workflow's own quarantine, and folder markers
        take_feedback(event, settings)
