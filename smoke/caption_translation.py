"""CaptionTranslation: a three-cue WebVTT file and the trigger file in; every target language's
translation out, a valid WebVTT file with the same cues and timings."""

from __future__ import annotations

import json
import re
from typing import Any

from botocore.exceptions import ClientError

from smoke.core import (
    Environment,
    Result,
    Settings,
    StackOutputs,
    Status,
    delete_everything_under,
    error_text,
    find_function_log,
    object_exists,
    read_object,
)

WORKFLOW = "caption_translation"
STACK = "CaptionTranslation"
WAIT_SECONDS = 15 * 60  # a small batch is translated in real time, within a minute or two
POLL_SECONDS = 5
FILE_NAME = "smoke.vtt"
SOURCE = (
    "WEBVTT\n\n"
    "1\n00:00:00.000 --> 00:00:02.000\nGood morning, everyone.\n\n"
    "2\n00:00:02.500 --> 00:00:05.000\nThe train to the coast leaves at nine.\n\n"
    "3\n00:00:05.500 --> 00:00:08.000 align:start\nPlease keep your tickets with you.\n"
)
TIMESTAMP = r"(?:\d{2,}:)?[0-5]\d:[0-5]\d\.\d{3}"
TIMING = re.compile(rf"^({TIMESTAMP}) --> ({TIMESTAMP})(?:[ \t]+.*)?$")


class CaptionFileError(ValueError):
    """Not a valid WebVTT file."""


def webvtt_cues(text: str) -> list[tuple[str, str]]:
    """(timing, text) of every cue of a WebVTT file; raises `CaptionFileError`.

    Independent of the workflow's own caption library on purpose: a fault shared by the
    writer and this reader would otherwise pass unseen."""
    lines = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if not re.match(r"^WEBVTT(?:[ \t].*)?$", lines[0]):
        raise CaptionFileError("the first line is not 'WEBVTT'")
    cues: list[tuple[str, str]] = []
    blocks = "\n".join(lines[1:]).strip("\n").split("\n\n")
    for block in blocks:
        rows = [row for row in block.split("\n") if row != ""]
        if not rows or rows[0].startswith(("NOTE", "STYLE", "REGION")):
            continue
        timing_at = 0 if "-->" in rows[0] else 1
        if timing_at >= len(rows) or not TIMING.match(rows[timing_at]):
            raise CaptionFileError(f"a cue without a valid timing line: {block[:80]!r}")
        texts = rows[timing_at + 1 :]
        if not texts or not "".join(texts).strip():
            raise CaptionFileError(f"a cue without text: {rows[timing_at]}")
        cues.append((rows[timing_at], "\n".join(texts)))
    return cues


def check(env: Environment, outputs: StackOutputs, settings: Settings) -> Result:
    s3 = env.client("s3")
    bucket = outputs["BucketName"]
    trigger_key = outputs["TriggerFileKey"]
    languages = [lang for lang in outputs["TargetLanguages"].split(",") if lang]
    folder = f"{settings.prefix}/"
    input_key = f"input/{folder}{FILE_NAME}"
    output_keys = {lang: f"output/{lang}/{folder}{FILE_NAME}" for lang in languages}
    failed_key = f"failed/{folder}{FILE_NAME}.error.json"

    def result(status: Status, detail: str, *look_at: str, leaves: tuple[str, ...] = ()) -> Result:
        return Result(WORKFLOW, outputs.stack, status, detail, tuple(look_at), leaves)

    waiting = [
        entry["Key"]
        for entry in s3.list_objects_v2(Bucket=bucket, Prefix="input/", MaxKeys=20).get(
            "Contents", []
        )
        if entry["Key"] != trigger_key and not entry["Key"].endswith("/")
    ]
    if waiting:
        return result(
            Status.SKIPPED,
            f"{len(waiting)} file(s) wait under input/ for a trigger (e.g. {waiting[0]}); the "
            "smoke trigger would translate them too, so nothing was uploaded",
            f"s3://{bucket}/input/",
        )

    s3.put_object(Bucket=bucket, Key=input_key, Body=SOURCE.encode(), ContentType="text/vtt")
    trigger_version = s3.put_object(Bucket=bucket, Key=trigger_key, Body=b"").get("VersionId")
    execution: dict[str, Any] | None = None
    seen: set[str] = set()
    try:
        deadline = env.deadline(settings.wait(WAIT_SECONDS))
        while True:
            if all(object_exists(s3, bucket, key) for key in output_keys.values()):
                break
            if object_exists(s3, bucket, failed_key):
                reason = json.loads(read_object(s3, bucket, failed_key))
                return result(
                    Status.FAILED,
                    f"the file was rejected: {reason.get('error')}: {reason.get('reason')}",
                    f"s3://{bucket}/{failed_key}",
                    *_execution_pointer(execution),
                    leaves=_leaves(outputs, execution),
                )
            if execution is None:
                execution = _find_execution(env, outputs, trigger_version, seen)
            if execution is not None:
                status = env.client("stepfunctions").describe_execution(
                    executionArn=execution["executionArn"]
                )
                execution.update(status)
                if status["status"] != "RUNNING" and not all(
                    object_exists(s3, bucket, key) for key in output_keys.values()
                ):
                    return result(
                        Status.FAILED,
                        f"the batch execution ended {status['status']} without every output"
                        + _reason(status),
                        f"execution {execution['executionArn']}",
                        f"s3://{bucket}/batches/{execution['name']}/",
                        leaves=_leaves(outputs, execution),
                    )
            if deadline.expired():
                missing = [k for k in output_keys.values() if not object_exists(s3, bucket, k)]
                look = (
                    _execution_pointer(execution)
                    if execution
                    else (
                        f"s3://{bucket}/{trigger_key} (still there: StartBatch has not taken it)",
                        f"StartBatch: {find_function_log(env, outputs.stack, 'StartBatch')}",
                        "the trigger queue's dead-letter queue",
                    )
                )
                return result(
                    Status.FAILED,
                    f"timed out after {settings.wait(WAIT_SECONDS):.0f} s waiting for "
                    f"{', '.join(missing)}",
                    *look,
                    leaves=_leaves(outputs, execution),
                )
            env.pause(POLL_SECONDS)

        if execution is None:  # for the report: which batch this was
            execution = _find_execution(env, outputs, trigger_version, seen)
        source_cues = webvtt_cues(SOURCE)
        problems: dict[str, str] = {}
        for lang, key in output_keys.items():
            try:
                cues = webvtt_cues(read_object(s3, bucket, key).decode("utf-8"))
            except (CaptionFileError, UnicodeDecodeError) as error:
                problems[lang] = f"not a valid WebVTT file ({error})"
                continue
            if len(cues) != len(source_cues):
                problems[lang] = f"{len(cues)} cues, the source has {len(source_cues)}"
            elif [t for t, _ in cues] != [t for t, _ in source_cues]:
                problems[lang] = "cue timings differ from the source's"
            elif [c for _, c in cues] == [c for _, c in source_cues]:
                problems[lang] = "the text is the source's, untranslated"
        if problems:
            return result(
                Status.FAILED,
                "; ".join(f"{lang}: {problem}" for lang, problem in problems.items()),
                *(f"s3://{bucket}/{output_keys[lang]}" for lang in problems),
                *_execution_pointer(execution),
                leaves=_leaves(outputs, execution),
            )
        return result(
            Status.PASSED,
            f"{len(source_cues)} cues translated to {', '.join(languages)}, timings kept",
            leaves=_leaves(outputs, execution),
        )
    finally:
        prefixes = [
            f"input/{folder}",
            f"failed/{folder}",
            *(f"output/{lang}/{folder}" for lang in languages),
        ]
        delete_everything_under(s3, bucket, prefixes)
        if trigger_version:  # StartBatch removes the version it takes; this one if it did not
            try:
                s3.delete_object(Bucket=bucket, Key=trigger_key, VersionId=trigger_version)
            except ClientError as error:
                if error.response["Error"]["Code"] not in ("NoSuchVersion", "NoSuchKey"):
                    raise


def _find_execution(
    env: Environment, outputs: StackOutputs, trigger_version: str | None, seen: set[str]
) -> dict[str, Any] | None:
    """The batch execution our trigger started: executions are named after their batch, whose
    manifest (`batches/<id>/manifest.json`) records the trigger version it was started by."""
    sfn, s3 = env.client("stepfunctions"), env.client("s3")
    listed = sfn.list_executions(stateMachineArn=outputs["StateMachineArn"], maxResults=50)
    newest_first = sorted(listed["executions"], key=lambda e: e["startDate"], reverse=True)
    for execution in newest_first:
        if execution["name"] in seen:
            continue
        seen.add(execution["name"])
        key = f"batches/{execution['name']}/manifest.json"
        try:
            manifest = json.loads(read_object(s3, outputs["BucketName"], key))
        except ClientError as error:
            if error.response["Error"]["Code"] in ("NoSuchKey", "404", "AccessDenied"):
                continue
            raise RuntimeError(f"reading {key}: {error_text(error)}") from error
        if manifest.get("trigger", {}).get("versionId") == trigger_version:
            return dict(execution)
    return None


def _execution_pointer(execution: dict[str, Any] | None) -> tuple[str, ...]:
    return (f"execution {execution['executionArn']}",) if execution else ()


def _leaves(outputs: StackOutputs, execution: dict[str, Any] | None) -> tuple[str, ...]:
    batch = f"batches/{execution['name']}/" if execution else "batches/<batch id>/"
    return (
        f"s3://{outputs['BucketName']}/{batch} and its claim under batches/claims/ (expire with "
        "the bucket's batch retention)",
        "the batch execution in the state machine's history",
        f"one batch summary published to {outputs.get('NotificationTopicArn')}",
    )


def _reason(execution: dict[str, Any]) -> str:
    if not execution.get("error"):
        return ""
    return f" ({execution['error']}: {str(execution.get('cause', ''))[:300]})"
