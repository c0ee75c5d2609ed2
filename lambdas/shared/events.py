"""Typed views of the events the handlers receive."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus


@dataclass(frozen=True)
class S3ObjectEvent:
    """One S3 event notification record: which object, which version, and when."""

    bucket: str
    key: str  # decoded: S3 URL-encodes keys in notifications (spaces arrive as '+')
    version_id: str | None
    sequencer: str
    event_name: str
    event_time: str
    size: int
    etag: str


def s3_events_from_body(body: str) -> list[S3ObjectEvent]:
    """The S3 records inside an SQS message body. S3's `s3:TestEvent` (sent when a
    notification is configured) holds no records and yields an empty list."""
    document: Any = json.loads(body)
    if document.get("Event") == "s3:TestEvent":
        return []
    records = document.get("Records")
    if not isinstance(records, list):
        raise ValueError("message body is neither an S3 event notification nor a test event")
    events = []
    for record in records:
        s3 = record["s3"]
        obj = s3["object"]
        events.append(
            S3ObjectEvent(
                bucket=s3["bucket"]["name"],
                key=unquote_plus(obj["key"]),
                version_id=obj.get("versionId"),
                sequencer=obj.get("sequencer", ""),
                event_name=record.get("eventName", ""),
                event_time=record.get("eventTime", ""),
                size=int(obj.get("size", 0)),
                etag=obj.get("eTag", ""),
            )
        )
    return events
