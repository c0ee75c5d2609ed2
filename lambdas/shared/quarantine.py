"""Quarantine: an input a workflow cannot process is kept, with the reason, never dropped.

Every workflow files what it rejects the same way, in the bucket it writes its results to:

    failed/<name>                  the rejected input, byte for byte (or its rejected part)
    error-reports/<name>.json      why: the error report (schema in docs/error-report.md)

Copies and reports never share a prefix, so no upload can be quarantined where a report is:
an upload named `x.vtt.error.json` is at most copied to `failed/x.vtt.error.json`.
`<name>` is the upload's key relative to the workflow's input prefix, or, when that key is
not safe to build keys from, the name `keys.safe_name` files it under.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from lambdas.shared.errors import InputError
from lambdas.shared.keys import safe_name

SCHEMA_VERSION = 1
FAILED_PREFIX = "failed/"
REPORTS_PREFIX = "error-reports/"
# What S3 answers when the object or version to copy no longer exists.
GONE = frozenset({"NoSuchKey", "NoSuchVersion", "404"})
# What S3 answers a read of an object version that no longer exists: 404 with s3:ListBucket,
# 403 without it (the workflows' functions have none), 400 for a version id it never issued.
UNREADABLE = frozenset({"NoSuchKey", "NoSuchVersion", "AccessDenied", "InvalidArgument"})
UNREADABLE_UPLOAD = "unreadable-upload"


def failed_key(name: str) -> str:
    return FAILED_PREFIX + safe_name(name)


def report_key(name: str) -> str:
    return f"{REPORTS_PREFIX}{safe_name(name)}.json"


@dataclass(frozen=True)
class ObjectRef:
    bucket: str
    key: str
    version_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"bucket": self.bucket, "key": self.key, "versionId": self.version_id}


@dataclass(frozen=True)
class ItemError:
    """One rejected item of an input whose other items were accepted."""

    index: int  # 0-based position in the input's list
    line: int  # 1-based line of the input on which the item starts
    error: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "line": self.line, "error": self.error, "reason": self.reason}


@dataclass(frozen=True)
class Rejection:
    """What is wrong with one input, and what the report says besides."""

    error: str  # short machine-readable kind ("not-utf8", "unsafe-key", ...)
    reason: str  # the sentence a user reads
    items: Sequence[ItemError] = ()
    details: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, error: InputError, **details: Any) -> Rejection:
        return cls(error.code, error.reason, details=details)


@dataclass(frozen=True)
class Quarantine:
    """Where one workflow files what it rejects: `s3` is a boto3 client, `bucket` the bucket
    that receives the copies and the reports."""

    s3: Any
    bucket: str
    workflow: str

    def file(
        self,
        name: str,
        source: ObjectRef,
        rejection: Rejection,
        *,
        copy_from: ObjectRef | None = None,
        content: bytes | None = None,
        keep: bool = True,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """Keep the input and write its report; return the report.

        `source` is the upload as the user made it. Its bytes are copied from `copy_from`
        (by default `source` itself), or `content` is kept instead (the rejected part of an
        input whose other parts were accepted). An input already gone is reported with no
        copy, as is one the workflow could not read (`keep=False`). The copy is made first, so a
        report never names a copy that does not exist."""
        key = failed_key(name)
        kept: ObjectRef | None = None
        if content is not None:
            written = self.s3.put_object(Bucket=self.bucket, Key=key, Body=content)
            kept = ObjectRef(self.bucket, key, written.get("VersionId"))
        elif keep:
            kept = self._copy(copy_from or source, key)
        report = {
            "schemaVersion": SCHEMA_VERSION,
            "workflow": self.workflow,
            "error": rejection.error,
            "reason": rejection.reason,
            "source": source.as_dict(),
            "quarantined": kept.as_dict() if kept else None,
            "quarantinedAt": (now or datetime.now(UTC)).isoformat(),
            "items": [item.as_dict() for item in rejection.items],
            "details": dict(rejection.details),
        }
        self.s3.put_object(
            Bucket=self.bucket,
            Key=report_key(name),
            Body=json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False).encode(),
            ContentType="application/json",
        )
        return report

    def file_unreadable(self, name: str, source: ObjectRef, code: str, when: str) -> str:
        """Report an input whose version S3 could not read (`code` in UNREADABLE), with no
        copy; the reason."""
        reason = (
            f"{name} (version {source.version_id or 'none'}) could not be read: {code}; it was "
            f"deleted before {when}, or the workflow's role may not read it; upload it again"
        )
        self.file(name, source, Rejection(UNREADABLE_UPLOAD, reason), keep=False)
        return reason

    def _copy(self, origin: ObjectRef, key: str) -> ObjectRef | None:
        copy_source = {"Bucket": origin.bucket, "Key": origin.key}
        if origin.version_id:
            copy_source["VersionId"] = origin.version_id
        try:
            copied = self.s3.copy_object(Bucket=self.bucket, Key=key, CopySource=copy_source)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in GONE:
                raise
            return None
        return ObjectRef(self.bucket, key, copied.get("VersionId"))
