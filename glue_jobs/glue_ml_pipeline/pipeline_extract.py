"""DataExtractionJob: copy the dataset from its source (an S3 URI or an HTTPS URL) into the
raw prefix of the pipeline bucket, streamed, never held whole in memory."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

from botocore.exceptions import ClientError
from pipeline_common import PipelineError, S3Location

CHUNK = 8 * 1024 * 1024


def fetch(s3: Any, source: str, target: S3Location, timeout_seconds: int = 60) -> dict[str, Any]:
    """Copy `source` to `target`; return its size. Raises PipelineError for a source that is
    missing, unreadable, unreachable or empty."""
    if source.startswith("s3://"):
        location = S3Location.parse(source)
        try:
            body = s3.get_object(Bucket=location.bucket, Key=location.key)["Body"]
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            raise PipelineError(
                f"source {source} cannot be read ({code}): check that it exists and that the "
                "job role may read it"
            ) from exc
    elif source.startswith("https://"):
        try:
            body = urllib.request.urlopen(source, timeout=timeout_seconds)
        except (urllib.error.URLError, TimeoutError, ValueError) as exc:
            raise PipelineError(f"source {source} is unreachable: {exc}") from exc
    else:
        raise PipelineError(f"source must be an s3:// URI or an https:// URL, got {source!r}")
    counter = _CountingReader(body)
    try:
        s3.upload_fileobj(counter, target.bucket, target.key)
    finally:
        body.close()
    if counter.size == 0:
        raise PipelineError(f"source {source} is empty")
    return {"source": source, "raw_uri": target.uri, "bytes": counter.size}


class _CountingReader:
    def __init__(self, body: Any) -> None:
        self.body = body
        self.size = 0

    def read(self, size: int = CHUNK) -> bytes:
        data: bytes = self.body.read(size if size and size > 0 else CHUNK)
        self.size += len(data)
        return data
