"""Small typed access to one S3 bucket, with the semantics the workflows rely on:
conditional creation, version-exact copies and deletes, and JSON documents."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError


@dataclass(frozen=True)
class ObjectVersion:
    key: str
    version_id: str | None
    size: int
    etag: str
    # Version ids of the key's noncurrent versions and delete markers at listing time.
    older: tuple[str, ...] = ()


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class ObjectStore:
    def __init__(self, client: Any, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def get_bytes(self, key: str, version_id: str | None = None) -> bytes:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if version_id:
            kwargs["VersionId"] = version_id
        body: bytes = self.client.get_object(**kwargs)["Body"].read()
        return body

    def exists(self, key: str) -> bool:
        """Whether the object exists, asked by listing its exact key. A GetObject on a missing
        key answers 403, not 404, to a role without unconditional s3:ListBucket; a listing
        needs only s3:ListBucket restricted to the prefix."""
        response = self.client.list_objects_v2(Bucket=self.bucket, Prefix=key, MaxKeys=1)
        return any(entry["Key"] == key for entry in response.get("Contents", []))

    def get_json(self, key: str) -> Any | None:
        """The parsed document, or None if there is no such object."""
        if not self.exists(key):
            return None
        return json.loads(self.get_bytes(key))

    def put_bytes(
        self, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def put_json(self, key: str, document: Any) -> None:
        data = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False).encode()
        self.put_bytes(key, data, "application/json")

    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Create the object only if the key is free (S3 conditional write); False if taken."""
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, IfNoneMatch="*")
        except ClientError as error:
            if error_code(error) in ("PreconditionFailed", "ConditionalRequestConflict"):
                return False
            raise
        return True

    def copy(self, source_key: str, target_key: str, source_version: str | None = None) -> None:
        source: dict[str, str] = {"Bucket": self.bucket, "Key": source_key}
        if source_version:
            source["VersionId"] = source_version
        self.client.copy_object(Bucket=self.bucket, Key=target_key, CopySource=source)

    def delete_version(self, key: str, version_id: str) -> None:
        """Delete exactly one version; a newer upload under the same key is left alone."""
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key, VersionId=version_id)
        except ClientError as error:
            if error_code(error) not in ("NoSuchVersion", "NoSuchKey", "404"):
                raise

    def delete_versions(self, versions: list[tuple[str, str]]) -> None:
        """Delete exact (key, version id) pairs, up to 1,000 per request."""
        for start in range(0, len(versions), 1000):
            chunk = versions[start : start + 1000]
            response = self.client.delete_objects(
                Bucket=self.bucket,
                Delete={
                    "Objects": [{"Key": key, "VersionId": version} for key, version in chunk],
                    "Quiet": True,
                },
            )
            errors = [
                e for e in response.get("Errors", []) if e.get("Code") not in ("NoSuchVersion",)
            ]
            if errors:
                raise RuntimeError(f"could not delete {len(errors)} object versions: {errors[:3]}")

    def list_keys(self, prefix: str) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for entry in page.get("Contents", []):
                yield entry["Key"]

    def list_current_versions(self, prefix: str) -> Iterator[ObjectVersion]:
        """The current version of every object under a prefix (keys whose latest entry is a
        delete marker are not current), each with the ids of its older versions."""
        latest: dict[str, ObjectVersion] = {}
        older: dict[str, list[str]] = {}
        paginator = self.client.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for entry in page.get("Versions", []):
                version = entry.get("VersionId")
                version = None if version in (None, "null") else version
                if entry.get("IsLatest"):
                    latest[entry["Key"]] = ObjectVersion(
                        key=entry["Key"],
                        version_id=version,
                        size=int(entry.get("Size", 0)),
                        etag=str(entry.get("ETag", "")).strip('"'),
                    )
                elif version:
                    older.setdefault(entry["Key"], []).append(version)
            for marker in page.get("DeleteMarkers", []):
                if not marker.get("IsLatest") and marker.get("VersionId") not in (None, "null"):
                    older.setdefault(marker["Key"], []).append(marker["VersionId"])
        for key in sorted(latest):
            current = latest[key]
            yield ObjectVersion(
                current.key, current.version_id, current.size, current.etag,
                tuple(older.get(key, ())),
            )  # fmt: skip
