"""S3 version ids in the local cloud: derived from bucket, key and ordinal, never given twice."""

from __future__ import annotations

import re
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from localcloud.core.moto_hooks import Patches, _patch_s3_version_ids, require
from localcloud.core.s3_versions import VersionIds, version_id

BUCKET = "versioned-bucket"


@pytest.fixture
def ids() -> VersionIds:
    return VersionIds()


@pytest.fixture
def s3(ids: VersionIds, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        patches = Patches()
        _patch_s3_version_ids(SimpleNamespace(s3_version_ids=ids), patches)  # type: ignore[arg-type]
        try:
            client = boto3.client("s3", region_name="us-east-1")
            client.create_bucket(Bucket=BUCKET)
            client.put_bucket_versioning(
                Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"}
            )
            yield client
        finally:
            patches.undo()


def _versions(s3: Any, key: str) -> list[str]:
    listed = s3.list_object_versions(Bucket=BUCKET, Prefix=key)
    entries = listed.get("Versions", []) + listed.get("DeleteMarkers", [])
    return [v["VersionId"] for v in sorted(entries, key=lambda v: v["LastModified"])]


def test_a_keys_versions_are_numbered_and_their_ids_derived(s3: Any) -> None:
    first = s3.put_object(Bucket=BUCKET, Key="train/a.csv", Body=b"1")["VersionId"]
    second = s3.put_object(Bucket=BUCKET, Key="train/a.csv", Body=b"2")["VersionId"]
    other = s3.put_object(Bucket=BUCKET, Key="train/b.csv", Body=b"1")["VersionId"]

    assert first == version_id(BUCKET, "train/a.csv", 1)
    assert second == version_id(BUCKET, "train/a.csv", 2)
    assert other == version_id(BUCKET, "train/b.csv", 1)
    assert re.fullmatch(r"[A-Za-z0-9._]{32}", first)
    assert s3.get_object(Bucket=BUCKET, Key="train/a.csv", VersionId=first)["Body"].read() == b"1"


def test_an_id_is_never_given_twice_after_deletes(s3: Any) -> None:
    given = [s3.put_object(Bucket=BUCKET, Key="k", Body=b"1")["VersionId"]]
    given.append(s3.delete_object(Bucket=BUCKET, Key="k")["VersionId"])  # a delete marker
    for version in list(given):
        s3.delete_object(Bucket=BUCKET, Key="k", VersionId=version)
    assert _versions(s3, "k") == []

    again = s3.put_object(Bucket=BUCKET, Key="k", Body=b"2")["VersionId"]

    assert given == [version_id(BUCKET, "k", 1), version_id(BUCKET, "k", 2)]
    assert again == version_id(BUCKET, "k", 3)


def test_copies_and_multipart_uploads_get_the_next_id(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="source", Body=b"x")
    copied = s3.copy_object(Bucket=BUCKET, Key="copy", CopySource=f"{BUCKET}/source")
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="copy")["UploadId"]
    part = s3.upload_part(Bucket=BUCKET, Key="copy", UploadId=upload, PartNumber=1, Body=b"y")
    completed = s3.complete_multipart_upload(
        Bucket=BUCKET, Key="copy", UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )  # fmt: skip

    assert copied["VersionId"] == version_id(BUCKET, "copy", 1)
    assert completed["VersionId"] == version_id(BUCKET, "copy", 2)


def test_an_unversioned_bucket_keeps_null_versions(s3: Any) -> None:
    s3.create_bucket(Bucket="plain")
    s3.put_object(Bucket="plain", Key="k", Body=b"1")
    listed = s3.list_object_versions(Bucket="plain")["Versions"]
    assert [v["VersionId"] for v in listed] == ["null"]


def test_saved_ordinals_continue_on_a_restart(ids: VersionIds, s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"1")
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"2")
    saved = ids.ordinals([BUCKET, "elsewhere"])
    assert saved == {BUCKET: {"k": 2}}

    restarted = VersionIds()
    restarted.restore(saved)

    assert restarted.next_id(BUCKET, "k") == version_id(BUCKET, "k", 3)
    assert restarted.next_id(BUCKET, "new") == version_id(BUCKET, "new", 1)


def test_undo_gives_moto_its_random_ids_back(ids: VersionIds, monkeypatch: Any) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        patches = Patches()
        _patch_s3_version_ids(SimpleNamespace(s3_version_ids=ids), patches)  # type: ignore[arg-type]
        patches.undo()
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        given = client.put_object(Bucket=BUCKET, Key="k", Body=b"1")["VersionId"]
    assert given != version_id(BUCKET, "k", 1)


def test_a_hook_whose_target_changed_fails_the_start() -> None:
    class Target:
        def __init__(self, name: str) -> None:
            self.name = name

    assert require(Target, "__init__", ("name",)) is Target.__dict__["__init__"]
    with pytest.raises(RuntimeError, match="no longer takes version_id"):
        require(Target, "__init__", ("name", "version_id"))
    with pytest.raises(RuntimeError, match="is gone"):
        require(Target, "missing")
