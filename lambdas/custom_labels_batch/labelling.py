"""Labelling one uploaded image: detect, record, move; or quarantine with the reason.

Order matters for idempotency and for never losing an image: the labels JSON is written first,
then the image is copied to the final bucket, then the exact source version is deleted. A
redelivered message therefore rewrites the same keys; if the source is already gone, the
existing JSON proves the image was done. Images Rekognition cannot read (corrupt, unsupported,
too large), and keys with a path trick (`..`), are quarantined at once: copied to the final
bucket's `failed/` with an error report under `error-reports/` (lambdas/shared/quarantine.py),
then removed from the source. Other service errors are retried later and counted: the
`max_attempts`-th failure quarantines the image, so a poison image cannot keep the queue (and
the model) busy. Throttling, and a model that is not serving yet, are retried without counting.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from lambdas.custom_labels_batch.settings import LabellingSettings
from lambdas.shared.events import S3ObjectEvent
from lambdas.shared.keys import unsafe_reason
from lambdas.shared.quarantine import ObjectRef, Quarantine, Rejection
from lambdas.shared.s3 import error_code

WORKFLOW = "custom_labels_batch"

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
# Rekognition's documented limit for an image in S3 is 15 MB (5 MB for raw bytes).
MAX_IMAGE_BYTES = 15 * 1024 * 1024
UNREADABLE_IMAGE_ERRORS = frozenset(
    {"InvalidImageFormatException", "ImageTooLargeException", "InvalidParameterException"}
)
# Retried without counting an attempt: the image is fine, the model is busy or not serving yet.
NOT_NOW_ERRORS = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "LimitExceededException",
        "ResourceNotReadyException",
    }
)


class RetryLaterError(Exception):
    """Try the image again later; `counted` says whether this try counts towards the limit."""

    def __init__(self, reason: str, *, counted: bool) -> None:
        super().__init__(reason)
        self.counted = counted


@dataclass(frozen=True)
class Outcome:
    kind: str  # "labelled", "quarantined", "already-done", "source-gone"
    key: str
    reason: str = ""


def image_key(source_key: str) -> str:
    return f"images/{source_key}"


def labels_key(source_key: str) -> str:
    return f"labels/{source_key}.json"


def label_image(
    event: S3ObjectEvent,
    attempt: int,
    settings: LabellingSettings,
    s3: Any,
    rekognition: Any,
    now: datetime | None = None,
) -> Outcome:
    now = now or datetime.now(UTC)
    if (trick := unsafe_reason(event.key)) is not None:
        return _quarantine(event, "unsafe-key", f"the key has {trick}; rename the image and "
                           "upload it again", settings, s3, now)  # fmt: skip
    if not event.key.lower().endswith(IMAGE_SUFFIXES):
        return _quarantine(event, "unsupported-file", "only .jpg, .jpeg and .png images are "
                           "labelled", settings, s3, now)  # fmt: skip
    if event.size > MAX_IMAGE_BYTES:
        return _quarantine(
            event,
            "image-too-large",
            f"the image is {event.size} bytes; Rekognition reads images of at most "
            f"{MAX_IMAGE_BYTES} bytes from S3",
            settings,
            s3,
            now,
        )
    s3_object: dict[str, str] = {"Bucket": event.bucket, "Name": event.key}
    if event.version_id:
        s3_object["Version"] = event.version_id
    try:
        response = rekognition.detect_custom_labels(
            ProjectVersionArn=settings.project_version_arn,
            Image={"S3Object": s3_object},
            MinConfidence=float(settings.min_confidence),
        )
    except ClientError as error:
        code = error_code(error)
        message = error.response.get("Error", {}).get("Message", "")
        if code in NOT_NOW_ERRORS:
            raise RetryLaterError(f"{code}: {message}", counted=False) from error
        if code in UNREADABLE_IMAGE_ERRORS:
            return _quarantine(event, "unreadable-image", f"{code}: {message}", settings, s3, now)
        if code == "InvalidS3ObjectException":
            if _exists(s3, settings.final_bucket, labels_key(event.key)):
                return Outcome("already-done", event.key)
            if not _source_exists(s3, event):
                return Outcome("source-gone", event.key, "the uploaded version no longer exists")
        if attempt >= settings.max_attempts:
            return _quarantine(
                event,
                "failed-repeatedly",
                f"{attempt} attempts failed; the last with {code}: {message}",
                settings,
                s3,
                now,
            )
        raise RetryLaterError(
            f"attempt {attempt} failed with {code}: {message}", counted=True
        ) from error
    record = {
        "source": {
            "bucket": event.bucket,
            "key": event.key,
            "versionId": event.version_id,
            "size": event.size,
            "eTag": event.etag,
        },
        "image": {"bucket": settings.final_bucket, "key": image_key(event.key)},
        "model": settings.project_version_arn,
        "minConfidence": settings.min_confidence,
        "labels": [
            {
                "name": label["Name"],
                "confidence": label["Confidence"],
                **({"geometry": label["Geometry"]} if "Geometry" in label else {}),
            }
            for label in response.get("CustomLabels", [])
        ],
        "uploadedAt": event.event_time,
        "labelledAt": now.isoformat(),
    }
    s3.put_object(
        Bucket=settings.final_bucket,
        Key=labels_key(event.key),
        Body=json.dumps(record, indent=2).encode(),
        ContentType="application/json",
    )
    _move(event, image_key(event.key), settings, s3)
    return Outcome("labelled", event.key)


def _quarantine(
    event: S3ObjectEvent,
    error: str,
    reason: str,
    settings: LabellingSettings,
    s3: Any,
    now: datetime,
) -> Outcome:
    if not _source_exists(s3, event):
        # An earlier delivery quarantined it (and removed it), or it was deleted meanwhile.
        return Outcome("source-gone", event.key, "the uploaded version no longer exists")
    Quarantine(s3, settings.final_bucket, WORKFLOW).file(
        event.key, ObjectRef(event.bucket, event.key, event.version_id), Rejection(error, reason),
        now=now,
    )  # fmt: skip
    _remove_source(event, s3)
    return Outcome("quarantined", event.key, reason)


def _move(event: S3ObjectEvent, target: str, settings: LabellingSettings, s3: Any) -> None:
    source: dict[str, str] = {"Bucket": event.bucket, "Key": event.key}
    if event.version_id:
        source["VersionId"] = event.version_id
    s3.copy_object(Bucket=settings.final_bucket, Key=target, CopySource=source)
    _remove_source(event, s3)


def _remove_source(event: S3ObjectEvent, s3: Any) -> None:
    """Delete exactly the processed version (a newer upload of the key stays)."""
    if event.version_id:
        s3.delete_object(Bucket=event.bucket, Key=event.key, VersionId=event.version_id)


def _exists(s3: Any, bucket: str, key: str) -> bool:
    response = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
    return any(entry["Key"] == key for entry in response.get("Contents", []))


def _source_exists(s3: Any, event: S3ObjectEvent) -> bool:
    response = s3.list_object_versions(Bucket=event.bucket, Prefix=event.key, MaxKeys=50)
    return any(
        v["Key"] == event.key and (event.version_id is None or v["VersionId"] == event.version_id)
        for v in response.get("Versions", [])
    )
