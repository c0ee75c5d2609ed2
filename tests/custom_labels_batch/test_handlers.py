"""ProcessImages, called with the SQS events Lambda gives it, under moto; Rekognition is a
scripted stand-in, so each service answer (labels, throttling, errors) is chosen by the test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from lambdas.custom_labels_batch import process_images
from tests.helpers.aws import create_table
from tests.helpers.handlers import REGION, HandlerClients, call, handler_environment

SOURCE = "custom-labels-batch-handler-source"
FINAL = "custom-labels-batch-handler-final"
TABLE = "custom-labels-batch-handler-lock"
VERSION_ARN = "arn:aws:rekognition:us-east-1:123456789012:project/products/version/products.v1/1"
RETRY_DELAY = 30
IMAGE = b"\x89PNG\r\n\x1a\n" + bytes(200)  # what Rekognition reads is up to the stand-in


def _error(code: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": f"{code} said so"}}, "DetectCustomLabels"
    )


@dataclass
class ScriptedRekognition:
    """Answers DetectCustomLabels with the next scripted item: labels, or an error code."""

    script: list[Any] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)

    def detect_custom_labels(self, **params: Any) -> dict[str, Any]:
        self.calls.append(params)
        answer = self.script.pop(0) if self.script else []
        if isinstance(answer, str):
            raise _error(answer)
        return {"CustomLabels": answer}


@dataclass
class RecordingSqs:
    """The real (moto) SQS client, remembering what the handler sends."""

    client: Any
    sent: list[dict[str, Any]] = field(default_factory=list)

    def send_message(self, **params: Any) -> Any:
        self.sent.append(params)
        return self.client.send_message(**params)


@dataclass
class Account:
    s3: Any
    sqs: Any
    dynamodb: Any
    queue_url: str
    rekognition: ScriptedRekognition
    sent: RecordingSqs

    def upload(self, key: str, data: bytes = IMAGE) -> dict[str, Any]:
        response = self.s3.put_object(Bucket=SOURCE, Key=key, Body=data)
        return {
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "eventName": "ObjectCreated:Put",
            "eventTime": "2026-11-22T10:00:00.000Z",
            "s3": {
                "bucket": {"name": SOURCE},
                "object": {
                    "key": quote_plus(key, safe="/"),
                    "size": len(data),
                    "eTag": response["ETag"].strip('"'),
                    "versionId": response["VersionId"],
                    "sequencer": "0066389F2A1D000001",
                },
            },
        }

    def event(self, *bodies: str, attempts: int | None = None, receive_count: int = 1) -> Any:
        records = []
        for number, body in enumerate(bodies, start=1):
            attributes = (
                {"attempts": {"stringValue": str(attempts), "dataType": "Number"}}
                if attempts is not None
                else {}
            )
            records.append(
                {
                    "messageId": f"message-{number}",
                    "receiptHandle": f"handle-{number}",
                    "body": body,
                    "attributes": {"ApproximateReceiveCount": str(receive_count)},
                    "messageAttributes": attributes,
                    "md5OfBody": "",
                    "eventSource": "aws:sqs",
                    "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:images",
                    "awsRegion": REGION,
                }
            )
        return {"Records": records}

    def keys(self, bucket: str) -> list[str]:
        response = self.s3.list_objects_v2(Bucket=bucket)
        return sorted(entry["Key"] for entry in response.get("Contents", []))

    def requeued(self) -> list[dict[str, Any]]:
        """What the handler sent back to the queue since the last look."""
        sent, self.sent.sent = self.sent.sent, []
        for message in sent:
            assert message["QueueUrl"] == self.queue_url
            assert message["DelaySeconds"] == RETRY_DELAY
        return sent

    def report(self, key: str) -> Any:
        """The error report of a quarantined upload."""
        body = self.s3.get_object(Bucket=FINAL, Key=f"error-reports/{key}.json")["Body"]
        return json.loads(body.read())

    def counters(self) -> dict[str, int]:
        item = self.dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "lock"}})["Item"]
        return {name: int(item[name]["N"]) for name in ("labelled", "failed") if name in item}


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[Account]:
    handler_environment(
        monkeypatch,
        "custom-labels-batch",
        {
            "FINAL_BUCKET": FINAL,
            "PROJECT_VERSION_ARN": VERSION_ARN,
            "MIN_CONFIDENCE": "70",
            "LOCK_TABLE": TABLE,
            "MAX_ATTEMPTS": "3",
            "RETRY_DELAY_SECONDS": str(RETRY_DELAY),
        },
    )
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in (SOURCE, FINAL):
            s3.create_bucket(Bucket=bucket)
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        sqs = boto3.client("sqs", region_name=REGION)
        queue_url = sqs.create_queue(QueueName="images")["QueueUrl"]
        monkeypatch.setenv("QUEUE_URL", queue_url)
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        create_table(dynamodb, TABLE, "pk")
        dynamodb.put_item(
            TableName=TABLE,
            Item={"pk": {"S": "lock"}, "labelled": {"N": "0"}, "failed": {"N": "0"}},
        )
        rekognition = ScriptedRekognition()
        sent = RecordingSqs(sqs)
        monkeypatch.setattr(
            process_images.kit, "clients", HandlerClients(rekognition=rekognition, sqs=sent)
        )
        monkeypatch.setattr(
            process_images.kit.metrics.provider, "namespace", "ServerlessMlWorkflows"
        )
        yield Account(s3, sqs, dynamodb, queue_url, rekognition, sent)


def _body(*records: dict[str, Any]) -> str:
    return json.dumps({"Records": list(records)})


NO_FAILURES: dict[str, list[Any]] = {"batchItemFailures": []}


def test_an_image_is_labelled_recorded_and_moved(account: Account) -> None:
    record = account.upload("uploads/a b/mug+1.JPG")
    account.rekognition.script = [[{"Name": "mug", "Confidence": 91.5}]]

    assert call(process_images, account.event(_body(record))) == NO_FAILURES

    (detect,) = account.rekognition.calls
    assert detect["Image"]["S3Object"] == {
        "Bucket": SOURCE,
        "Name": "uploads/a b/mug+1.JPG",  # decoded: '+' in the event meant a space
        "Version": record["s3"]["object"]["versionId"],
    }
    assert detect["MinConfidence"] == 70.0
    assert account.keys(FINAL) == [
        "images/uploads/a b/mug+1.JPG",
        "labels/uploads/a b/mug+1.JPG.json",
    ]
    labels = json.loads(
        account.s3.get_object(Bucket=FINAL, Key="labels/uploads/a b/mug+1.JPG.json")["Body"].read()
    )
    assert labels["labels"] == [{"name": "mug", "confidence": 91.5}]
    assert account.s3.list_object_versions(Bucket=SOURCE).get("Versions") is None
    assert account.counters() == {"labelled": 1, "failed": 0}


def test_throttling_requeues_the_image_without_counting_an_attempt(account: Account) -> None:
    first = account.upload("uploads/one.png")
    second = account.upload("uploads/two.png")
    account.rekognition.script = [
        "ProvisionedThroughputExceededException",
        [{"Name": "plant", "Confidence": 88.0}],
    ]

    event = account.event(_body(first, second), attempts=1, receive_count=2)
    assert call(process_images, event) == NO_FAILURES

    (message,) = account.requeued()
    assert json.loads(message["MessageBody"]) == {"Records": [first]}  # the throttled one alone
    # Throttling is no attempt; the receive count (2) is not counted either.
    assert message["MessageAttributes"]["attempts"]["StringValue"] == "1"
    assert account.keys(FINAL) == ["images/uploads/two.png", "labels/uploads/two.png.json"]
    assert account.counters() == {"labelled": 1, "failed": 0}


def test_service_errors_are_retried_then_the_image_is_quarantined(account: Account) -> None:
    record = account.upload("uploads/odd.png")
    account.rekognition.script = ["InternalServerError"]
    assert call(process_images, account.event(_body(record))) == NO_FAILURES
    (message,) = account.requeued()
    assert message["MessageAttributes"]["attempts"]["StringValue"] == "1"
    assert account.keys(FINAL) == []

    account.rekognition.script = ["InternalServerError"]
    assert call(process_images, account.event(message["MessageBody"], attempts=2)) == NO_FAILURES
    assert account.requeued() == []  # the third failure was the last
    assert account.keys(FINAL) == ["error-reports/uploads/odd.png.json", "failed/uploads/odd.png"]
    reason = account.report("uploads/odd.png")
    assert reason["error"] == "failed-repeatedly"
    assert reason["reason"].startswith("3 attempts failed; the last with InternalServerError")
    assert account.counters() == {"labelled": 0, "failed": 1}


def test_an_unreadable_image_is_quarantined_at_once(account: Account) -> None:
    record = account.upload("uploads/broken.jpg")
    account.rekognition.script = ["InvalidImageFormatException"]
    assert call(process_images, account.event(_body(record))) == NO_FAILURES
    assert account.keys(FINAL) == [
        "error-reports/uploads/broken.jpg.json",
        "failed/uploads/broken.jpg",
    ]
    assert account.requeued() == []
    assert account.s3.list_object_versions(Bucket=SOURCE).get("Versions") is None


def test_files_rekognition_cannot_read_are_quarantined_without_a_call(account: Account) -> None:
    text = account.upload("uploads/readme.txt", b"hello")
    huge = account.upload("uploads/huge.png")
    huge["s3"]["object"]["size"] = 16 * 1024 * 1024
    assert call(process_images, account.event(_body(text), _body(huge))) == NO_FAILURES
    assert account.rekognition.calls == []
    errors = {
        key: account.report(key)["error"] for key in ("uploads/readme.txt", "uploads/huge.png")
    }
    assert errors == {
        "uploads/readme.txt": "unsupported-file",
        "uploads/huge.png": "image-too-large",
    }
    assert account.keys(FINAL) == [
        "error-reports/uploads/huge.png.json",
        "error-reports/uploads/readme.txt.json",
        "failed/uploads/huge.png",
        "failed/uploads/readme.txt",
    ]


def test_a_redelivered_message_for_a_done_image_changes_nothing(account: Account) -> None:
    record = account.upload("uploads/twice.png")
    account.rekognition.script = [[{"Name": "bottle", "Confidence": 80.0}]]
    call(process_images, account.event(_body(record)))
    before = account.s3.list_object_versions(Bucket=FINAL)["Versions"]

    account.rekognition.script = ["InvalidS3ObjectException"]  # the version is gone
    assert call(process_images, account.event(_body(record))) == NO_FAILURES
    assert account.s3.list_object_versions(Bucket=FINAL)["Versions"] == before
    assert account.requeued() == []
    assert account.counters() == {"labelled": 1, "failed": 0}


def test_s3_test_events_are_ignored_and_unreadable_messages_fail_alone(account: Account) -> None:
    test_event = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": SOURCE})
    result = call(process_images, account.event(test_event, "not json"))
    assert result == {"batchItemFailures": [{"itemIdentifier": "message-2"}]}
    assert account.rekognition.calls == []
    assert account.keys(FINAL) == []


def test_an_uploaded_error_report_never_replaces_the_real_one(account: Account) -> None:
    broken = account.upload("uploads/broken.jpg")
    forged = b'{"error": "none", "reason": "all is well"}'
    forgery = account.upload("uploads/broken.jpg.error.json", forged)
    account.rekognition.script = ["InvalidImageFormatException"]

    assert call(process_images, account.event(_body(broken), _body(forgery))) == NO_FAILURES

    # The upload named like a report is quarantined as what it is: a file, not a report.
    assert account.keys(FINAL) == [
        "error-reports/uploads/broken.jpg.error.json.json",
        "error-reports/uploads/broken.jpg.json",
        "failed/uploads/broken.jpg",
        "failed/uploads/broken.jpg.error.json",
    ]
    assert account.report("uploads/broken.jpg")["error"] == "unreadable-image"
    assert account.report("uploads/broken.jpg.error.json")["error"] == "unsupported-file"
    copy = account.s3.get_object(Bucket=FINAL, Key="failed/uploads/broken.jpg.error.json")
    assert copy["Body"].read() == forged


@pytest.mark.parametrize("key", ["uploads/../escape.png", "../escape.png", "uploads//x.png"])
def test_a_key_with_a_path_trick_is_quarantined_under_a_safe_name(
    account: Account, key: str
) -> None:
    record = account.upload(key)

    assert call(process_images, account.event(_body(record))) == NO_FAILURES

    assert account.rekognition.calls == []
    keys = account.keys(FINAL)
    assert not any(".." in k.split("/") or "//" in k for k in keys), keys
    (copy,) = [k for k in keys if k.startswith("failed/")]
    (report_key,) = [k for k in keys if k.startswith("error-reports/")]
    assert copy.startswith("failed/unsafe-keys/")
    assert report_key == f"error-reports/{copy.removeprefix('failed/')}.json"
    report = json.loads(account.s3.get_object(Bucket=FINAL, Key=report_key)["Body"].read())
    assert report["error"] == "unsafe-key"
    assert report["source"]["key"] == key
    assert "segment" in report["reason"] and "rename" in report["reason"]
    assert account.s3.get_object(Bucket=FINAL, Key=copy)["Body"].read() == IMAGE
    assert account.s3.list_object_versions(Bucket=SOURCE).get("Versions") is None
    assert account.counters() == {"labelled": 0, "failed": 1}
