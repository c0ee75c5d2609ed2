"""End to end on the local cloud: upload images, let the schedule fire, check what users find
and what the model cost."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from localcloud.cloud import LocalCloud
from localcloud.core.iam_check import check
from tests.custom_labels_batch.helpers import (
    CLASSES,
    INCOMING,
    POISON,
    LabelsStack,
    assert_least_privilege,
    deploy,
    uploads,
)
from tests.helpers.least_privilege import logical_names, named_unused_grants

pytestmark = [pytest.mark.workflow, pytest.mark.xdist_group("custom-labels-batch")]


def _runs(stack: LabelsStack) -> list[dict[str, Any]]:
    """Executions that did work: those that started, found or stopped the model."""
    return [
        e for e in stack.executions() if "DescribeModel" in stack.states_entered(e["executionArn"])
    ]


def test_a_burst_is_labelled_and_the_model_is_stopped_afterwards(cloud: Any) -> None:
    stack = deploy(cloud, scheduled=True)
    files = uploads(INCOMING)
    # Keys arrive URL-encoded in S3 events: spaces as '+', other characters as %XX.
    odd_key = "uploads/new arrivals/mug+déjà vu.JPG"
    files[odd_key] = (INCOMING[4]).read_bytes()
    stack.upload(files)
    stack.fire_schedule()

    (run,) = _runs(stack)
    assert run["status"] == "SUCCEEDED"
    assert len(stack.calls("StartProjectVersion")) == 1
    assert len(stack.calls("StopProjectVersion")) == 1
    assert stack.model_status() == "STOPPED"
    assert not stack.mapping_enabled()
    assert stack.lock_item() is None
    assert stack.queue_depth() == 0

    correct = 0
    for key, data in files.items():
        record = stack.read_json(f"labels/{key}.json")
        assert record["source"]["key"] == key
        assert record["source"]["versionId"]
        assert record["model"] == stack.version_arn
        assert record["minConfidence"] == 70
        assert record["image"] == {"bucket": stack.final, "key": f"images/{key}"}
        assert record["uploadedAt"] and record["labelledAt"]
        confidences = [label["confidence"] for label in record["labels"]]
        assert confidences == sorted(confidences, reverse=True)
        assert all(c >= 70 for c in confidences)
        assert {label["name"] for label in record["labels"]} <= CLASSES
        if record["labels"] and key.split("/")[-1].startswith(record["labels"][0]["name"]):
            correct += 1
        assert stack.read(f"images/{key}") == data
    assert correct >= len(files) - 3  # the small local model, at MinConfidence 70
    assert stack.versions(stack.source) == []  # every upload moved, no version left behind
    assert stack.keys(stack.final, "failed/") == []

    (notification,) = stack.summaries()
    message = json.loads(notification["Message"])
    assert (int(message["labelled"]), int(message["failed"])) == (len(files), 0)
    assert message["since"] < message["until"]
    assert notification["Subject"] == f"Custom Labels run: {len(files)} labelled, 0 failed"
    billed = cloud.rekognition.usage.inference_unit_seconds(stack.version_arn)
    assert billed > 0
    assert cloud.rekognition.usage.detect_calls[stack.version_arn] == len(files)
    assert_least_privilege(cloud)


def test_the_s3_test_message_alone_does_not_start_the_model(cloud: Any) -> None:
    stack = deploy(cloud)
    assert stack.queue_depth() == 1  # S3's s3:TestEvent, sent when notifications were set up
    stack.fire_schedule()

    assert stack.executions()
    assert all(e["status"] == "SUCCEEDED" for e in stack.executions())
    assert stack.calls("StartProjectVersion") == []
    assert stack.model_status() == "TRAINING_COMPLETED"
    assert stack.queue_depth() == 0  # the test message was deleted, not left to count
    assert stack.summaries() == []  # a run with nothing to do sends nothing
    assert stack.lock_item() is None
    assert_least_privilege(cloud)


def test_poison_images_are_quarantined_and_do_not_keep_the_model_running(cloud: Any) -> None:
    stack = deploy(cloud)
    files = uploads(POISON + INCOMING[:2])
    files["uploads/notes.txt"] = b"not an image"
    files["uploads/scan.gif"] = b"GIF89a" + bytes(100)
    stack.upload(files)
    stack.fire_schedule()

    (run,) = _runs(stack)
    assert run["status"] == "SUCCEEDED"
    states = stack.states_entered(run["executionArn"])
    # The drain ended because the queue was empty, never because the budget ran out (the
    # budget's way to StopProcessing is DrainBudgetLeft's default).
    stop = states.index("StopProcessing")
    assert states[stop - 1] == "QueueDrained", states[stop - 3 : stop + 1]
    assert stack.model_status() == "STOPPED"
    assert stack.queue_depth() == 0
    assert stack.dead_letter_depth() == 0

    failed = stack.keys(stack.final, "error-reports/")
    poisoned = sorted(k for k in files if not k.startswith(("uploads/bottle", "uploads/mug")))
    assert failed == [f"error-reports/{k}.json" for k in poisoned]
    assert stack.keys(stack.final, "failed/") == [f"failed/{k}" for k in poisoned]
    reasons = {k: stack.read_json(f"error-reports/{k}.json") for k in poisoned}
    assert reasons["uploads/truncated.jpg"]["error"] == "unreadable-image"
    assert "InvalidImageFormatException" in reasons["uploads/truncated.jpg"]["reason"]
    assert "ImageTooLargeException" in reasons["uploads/too-wide.png"]["reason"]
    assert "InvalidParameterException" in reasons["uploads/tiny.png"]["reason"]
    assert reasons["uploads/notes.txt"]["error"] == "unsupported-file"
    assert reasons["uploads/scan.gif"]["error"] == "unsupported-file"
    for key in poisoned:
        assert stack.read(f"failed/{key}") == files[key]  # the file itself is kept
    assert len(stack.keys(stack.final, "labels/")) == 2
    assert stack.versions(stack.source) == []

    (notification,) = stack.summaries()
    message = json.loads(notification["Message"])
    assert (int(message["labelled"]), int(message["failed"])) == (2, len(poisoned))
    assert_least_privilege(cloud)


def test_overlapping_firings_run_one_execution(cloud: Any) -> None:
    stack = deploy(cloud)
    stack.upload(uploads(INCOMING[:6]))
    sfn = cloud.client("stepfunctions")
    arn = stack.stack.outputs["StateMachineArn"]
    for name in ("first", "second", "third"):  # as three overlapping schedule firings would
        sfn.start_execution(stateMachineArn=arn, name=name, input="{}")
    cloud.settle(timeout=300)

    executions = stack.executions()
    assert sorted(e["name"] for e in executions) == ["first", "second", "third"]
    assert all(e["status"] == "SUCCEEDED" for e in executions)
    (run,) = _runs(stack)
    for other in executions:
        if other["executionArn"] != run["executionArn"]:
            assert stack.states_entered(other["executionArn"])[-1] == "AnotherRunIsActive"
    assert len(stack.calls("StartProjectVersion")) == 1
    assert len(stack.keys(stack.final, "labels/")) == 6
    assert stack.lock_item() is None
    assert_least_privilege(cloud)


def test_a_lock_left_by_a_finished_or_unknown_execution_is_taken_over(cloud: Any) -> None:
    stack = deploy(cloud)
    table = next(iter(stack.stack.resources_of_type("AWS::DynamoDB::Table").values())).ref
    dynamodb = cloud.client("dynamodb")
    sfn = cloud.client("stepfunctions")
    arn = stack.stack.outputs["StateMachineArn"]
    finished = sfn.start_execution(stateMachineArn=arn, name="finished", input="{}")
    cloud.settle()
    unknown = finished["executionArn"].replace(":finished", ":never-started")
    for holder in (finished["executionArn"], unknown):
        dynamodb.put_item(
            TableName=table,
            Item={"pk": {"S": "lock"}, "holder": {"S": holder}, "since": {"S": "x"}},
        )
        stack.upload(uploads(INCOMING[:1], prefix=f"uploads/{holder[-5:]}/"))
        stack.fire_schedule()
        assert stack.lock_item() is None
    assert len(stack.keys(stack.final, "labels/")) == 2
    assert stack.model_status() == "STOPPED"
    assert_least_privilege(cloud)


def test_duplicate_delivery_yields_no_duplicate_objects(cloud: Any) -> None:
    stack = deploy(cloud)
    files = uploads(INCOMING[:3])
    stack.upload(files)
    sqs = cloud.client("sqs")
    # S3 delivers at least once: send every waiting event a second time.
    seen = sqs.receive_message(
        QueueUrl=stack.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0
    )["Messages"]
    for message in seen:
        sqs.send_message(QueueUrl=stack.queue_url, MessageBody=message["Body"])
    stack.fire_schedule()
    first = {k: stack.read(k) for k in stack.keys(stack.final)}

    # A late duplicate, after the image was done: the next run finds the work already there.
    for message in seen:
        if "s3:TestEvent" not in message["Body"]:
            sqs.send_message(QueueUrl=stack.queue_url, MessageBody=message["Body"])
    stack.fire_schedule()

    keys = stack.keys(stack.final)
    assert keys == sorted([f"labels/{k}.json" for k in files] + [f"images/{k}" for k in files])
    assert {k: stack.read(k) for k in keys} == first
    assert stack.queue_depth() == 0
    assert stack.dead_letter_depth() == 0
    assert_least_privilege(cloud)


def test_a_model_that_fails_to_start_is_reported_and_its_images_wait(cloud: Any) -> None:
    stack = deploy(cloud)
    stack.upload(uploads(INCOMING[:3]))
    cloud.rekognition.fail_next_start("The model could not be deployed.")
    stack.fire_schedule()

    failed = [e for e in _runs(stack) if e["status"] == "FAILED"]
    assert len(failed) == 1
    assert failed[0]["error"] == "CustomLabelsRunFailed"
    (notification,) = stack.summaries()
    assert notification["Subject"] == "Custom Labels run failed"
    assert "ModelFailed" in notification["Message"]
    assert not stack.mapping_enabled()
    assert stack.lock_item() is None
    assert stack.keys(stack.final) == []
    assert stack.queue_depth() == 4  # the 3 images (and S3's test message) wait for the next run

    stack.fire_schedule()
    assert len(stack.keys(stack.final, "labels/")) == 3
    assert stack.model_status() == "STOPPED"
    assert_least_privilege(cloud)


@pytest.fixture
def slow_cloud(assembly_dir: Path, tmp_path: Path) -> Iterator[LocalCloud]:
    """A clock only 20 times faster than real time, so the model's throughput limit (one
    call per second per inference unit here) is what the processor really runs into."""
    with LocalCloud(assembly_dir, clock_speed=20, work_dir=tmp_path / "localcloud") as local:
        engine = local.rekognition
        engine.timings = replace(engine.timings, start_seconds=60.0, stop_seconds=20.0)
        engine.tps_per_inference_unit = 1.0
        yield local


def test_throttling_loses_nothing(slow_cloud: LocalCloud) -> None:
    stack = deploy(slow_cloud)
    files = {f"uploads/{n}-{p.name}": p.read_bytes() for n, p in enumerate(INCOMING * 2)}
    stack.upload(files)
    slow_cloud.rekognition.throttle_next(3)  # ThrottlingException for the workflow's calls
    stack.fire_schedule()

    assert slow_cloud.rekognition.usage.rejected_calls[stack.version_arn] > 0
    labelled = stack.keys(stack.final, "labels/")
    assert labelled == sorted(f"labels/{k}.json" for k in files)
    assert stack.keys(stack.final, "failed/") == []
    assert stack.queue_depth() == 0
    assert stack.dead_letter_depth() == 0
    assert stack.model_status() == "STOPPED"
    (notification,) = stack.summaries()
    assert int(json.loads(notification["Message"])["labelled"]) == len(files)
    # Every image was detected once, however often the model turned calls away.
    assert slow_cloud.rekognition.usage.detect_calls[stack.version_arn] == len(files)
    assert_least_privilege(slow_cloud)


def _unused(cloud: LocalCloud, stack: LabelsStack) -> set[tuple[str, str, str]]:
    """(principal, action, resource) of every unused grant, ARNs shortened to logical ids."""
    report = check(cloud)
    assert report.denied == [], report.format()
    return named_unused_grants(report, logical_names(stack.stack))


def test_every_grant_is_used_and_none_is_missing(cloud: Any) -> None:
    stack = deploy(cloud)
    stack.fire_schedule()  # S3's test message alone: peeked at and deleted
    stack.upload(uploads(INCOMING[:2] + POISON[:1]))
    cloud.rekognition.fail_next_start()
    stack.fire_schedule()  # the model fails to start: the failure path
    # More throttling than the SDK's 8 attempts absorb: the image goes back to the queue.
    cloud.rekognition.throttle_next(9, operation="DetectCustomLabels")
    sfn = cloud.client("stepfunctions")
    arn = stack.stack.outputs["StateMachineArn"]
    for name in ("overlap-1", "overlap-2"):  # a run and an overlapping firing
        sfn.start_execution(stateMachineArn=arn, name=name, input="{}")
    cloud.settle(timeout=300)
    # A late duplicate of a done image: found done through the final bucket's listing.
    stack.upload(uploads(INCOMING[2:3]))
    body = cloud.client("sqs").receive_message(QueueUrl=stack.queue_url, VisibilityTimeout=0)
    stack.fire_schedule()
    cloud.client("sqs").send_message(
        QueueUrl=stack.queue_url, MessageBody=body["Messages"][0]["Body"]
    )
    stack.fire_schedule()

    assert len(stack.keys(stack.final, "labels/")) == 3
    requeued = [c for c in stack.calls("SendMessage") if "ProcessImages" in str(c.principal)]
    assert len(requeued) == 1
    assert _unused(cloud, stack) == set()
