"""CustomLabelsBatch: one image into the source bucket and a run of the state machine started
at once (instead of waiting for the hourly schedule); its labels out in the final bucket.

The run starts the Custom Labels model, which is billed per inference unit and hour while it
runs, and stops it when the queue is empty: that is why this check runs only when asked."""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any

from lambdas.shared.aws import queue_depth
from smoke.core import (
    Environment,
    Result,
    Settings,
    StackOutputs,
    Status,
    delete_everything_under,
    find_function_log,
    object_exists,
    poll,
    read_object,
)

WORKFLOW = "custom_labels_batch"
STACK = "CustomLabelsBatch"
WAIT_SECONDS = 45 * 60  # starting a model takes minutes; the stack allows 30 by default
POLL_SECONDS = 15
ARRIVAL_SECONDS = 120  # S3 event notifications usually arrive within seconds


def sample_png(size: int = 128) -> bytes:
    """A small RGB PNG (a disc on a gradient) within Custom Labels' 64-4096 pixel limits."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    centre, radius = size / 2, size / 3
    rows = bytearray()
    for y in range(size):
        rows.append(0)  # filter type: none
        for x in range(size):
            inside = (x - centre) ** 2 + (y - centre) ** 2 <= radius**2
            shade = (x * 255 // size, y * 255 // size, 160)
            rows += bytes((200, 60, 40) if inside else shade)
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows)))
        + chunk(b"IEND", b"")
    )


def check(env: Environment, outputs: StackOutputs, settings: Settings) -> Result:
    s3, sfn = env.client("s3"), env.client("stepfunctions")
    source, final = outputs["SourceBucketName"], outputs["FinalBucketName"]
    image = settings.image or sample_png()
    suffix = ".jpg" if image.startswith(b"\xff\xd8\xff") else ".png"
    key = f"{settings.prefix}/smoke{suffix}"
    labels_key, failed_key = f"labels/{key}.json", f"failed/{key}.error.json"
    machine = outputs["StateMachineArn"]
    processed = False

    def result(status: Status, detail: str, *look_at: str) -> Result:
        leaves = [
            f"the run {execution_arn} in the state machine's history",
            f"a run summary published to {outputs.get('NotificationTopicArn')}",
            "the model's billed inference time, if the run started it",
        ]
        if not processed:
            leaves.append(
                f"s3://{source}/{key} and its queued message: the next run labels it; then "
                f"delete s3://{final}/labels/{key}.json and s3://{final}/images/{key}"
            )
        return Result(WORKFLOW, outputs.stack, status, detail, tuple(look_at), tuple(leaves))

    queue = outputs["ImageQueueUrl"]
    queued_before = _queue_depth(env, queue)
    s3.put_object(Bucket=source, Key=key, Body=image)
    deadline = env.deadline(settings.wait(WAIT_SECONDS))
    # S3 delivers the upload's event to the queue asynchronously; a run started before it
    # arrives finds nothing to do and ends without starting the model.
    arrival = env.deadline(min(settings.wait(WAIT_SECONDS), ARRIVAL_SECONDS))
    while _queue_depth(env, queue) <= queued_before and not arrival.expired():
        env.pause(2)
    execution_arn = sfn.start_execution(
        stateMachineArn=machine,
        name=settings.prefix,
        input=json.dumps({"startedBy": "smoke check"}),
    )["executionArn"]
    look_at_run = (
        f"execution {execution_arn}",
        f"queue {queue} (and its dead-letter queue)",
    )
    try:
        while True:
            if object_exists(s3, final, labels_key):
                processed = True
                break
            if object_exists(s3, final, failed_key):
                processed = True
                reason = json.loads(read_object(s3, final, failed_key))
                return result(
                    Status.FAILED,
                    f"the image was quarantined: {reason.get('error')}: {reason.get('reason')}",
                    f"s3://{final}/{failed_key}",
                    *look_at_run,
                )
            run = sfn.describe_execution(executionArn=execution_arn)
            if run["status"] != "RUNNING" and not _another_run(sfn, machine, execution_arn):
                if object_exists(s3, final, labels_key):
                    processed = True
                    break
                return result(
                    Status.FAILED,
                    f"the run ended {run['status']} without labelling s3://{source}/{key}"
                    + _reason(run),
                    *look_at_run,
                    f"ProcessImages: {find_function_log(env, outputs.stack, 'ProcessImages')}",
                )
            if deadline.expired():
                return result(
                    Status.FAILED,
                    f"timed out after {settings.wait(WAIT_SECONDS):.0f} s waiting for "
                    f"s3://{final}/{labels_key}",
                    *look_at_run,
                )
            env.pause(POLL_SECONDS)

        record = json.loads(read_object(s3, final, labels_key))
        if not isinstance(record.get("labels"), list):
            return result(
                Status.FAILED, "the labels file has no list of labels", f"s3://{final}/{labels_key}"
            )
        # The run stops the model once the queue is empty; say whether it got that far.
        run = poll(
            env,
            deadline,
            lambda: sfn.describe_execution(executionArn=execution_arn),
            lambda run: run["status"] != "RUNNING",
            POLL_SECONDS,
        )
        found = ", ".join(
            f"{label['name']} ({label['confidence']:.0f}%)" for label in record["labels"][:3]
        )
        found = found or "no label above the minimum confidence"
        if run["status"] in ("FAILED", "TIMED_OUT", "ABORTED"):
            return result(
                Status.FAILED,
                f"the image was labelled ({found}) but the run ended {run['status']}"
                + _reason(run),
                *look_at_run,
            )
        ending = (
            "the run stopped the model"
            if run["status"] == "SUCCEEDED"
            else "the run is still draining the queue; it stops the model when the queue is empty"
        )
        return result(Status.PASSED, f"labelled: {found}; {ending}")
    finally:
        if processed:
            delete_everything_under(s3, final, [f"labels/{key}", f"images/{key}", f"failed/{key}"])
            delete_everything_under(s3, source, [key])


def _another_run(sfn: Any, machine: str, own_arn: str) -> bool:
    """Whether another run is active: ours then ends at once (one run at a time), and the
    other one takes the image."""
    running = sfn.list_executions(stateMachineArn=machine, statusFilter="RUNNING")["executions"]
    return any(e["executionArn"] != own_arn for e in running)


def _reason(run: dict[str, Any]) -> str:
    return f" ({run['error']}: {run.get('cause', '')[:300]})" if run.get("error") else ""


def _queue_depth(env: Environment, queue: str) -> int:
    """Messages waiting, in flight or delayed (the processor reads the queue only during runs)."""
    return queue_depth(env.client("sqs"), queue)
