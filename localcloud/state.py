"""The deployed stacks' data on disk: what `python -m localcloud serve --state DIR` keeps.

On a clean stop, `export_state` writes, for the resources of every deployed stack:

* S3: every object (its latest version) of every `AWS::S3::Bucket`, with its content type and
  user metadata, under `DIR/s3/<bucket>/` (the bytes, and `objects.json` naming each file's key),
  and how many versions each key has had (`DIR/s3-versions.json`), so that version ids, which
  the local cloud derives from the key and that count (`localcloud.core.s3_versions`), are never
  given twice: a restored object is a new version with a new id;
* DynamoDB: every item of every `AWS::DynamoDB::Table` (`DIR/dynamodb/<table>.json`);
* SSM Parameter Store: every parameter of the account but the CDK bootstrap version, with its
  type and value (`DIR/ssm.json`);
* SQS: the messages waiting on every `AWS::SQS::Queue` (body, message attributes, FIFO group)
  (`DIR/sqs/<queue>.json`).

After the next start's deployment, `import_state` puts them back through the same APIs. Objects
are restored with the bucket's event notifications set aside, so a restore does not start the
workflows again; restored messages are delivered as any waiting message is (to their queue's
consumer). Resource names are deterministic, so the same stacks find their data again.

Not kept: Step Functions executions and their history, the engines' state (Comprehend
classifiers and endpoints, the Custom Labels model, A2I human loops, Glue runs, SageMaker models
and endpoints, the DuckDB warehouse behind Redshift Data, Firehose buffers), Lambda logs, API
Gateway key values (new after a restart; `GetApiKey` shows them),
object versions other than the latest, and messages in flight (received, not yet deleted) at the
stop, which are kept as waiting messages.
"""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

_BINARY = "__base64__"


def _resources(cloud: LocalCloud, resource_type: str) -> Iterator[str]:
    for deployed in cloud.stacks.values():
        for state in deployed.resources_of_type(resource_type).values():
            yield str(state.ref)


def _encode(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return {_BINARY: base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dict):
        return {key: _encode(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [_encode(item) for item in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {_BINARY}:
            return base64.b64decode(value[_BINARY])
        return {key: _decode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode(item) for item in value]
    return value


def _write_json(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_encode(document), indent=1, default=str), encoding="utf-8")


def _read_json(path: Path) -> Any:
    return _decode(json.loads(path.read_text(encoding="utf-8")))


# export ------------------------------------------------------------------------------------------
def export_state(cloud: LocalCloud, state_dir: Path) -> dict[str, int]:
    """Write the deployed stacks' data to `state_dir` (replacing what it held)."""
    staging = state_dir.with_name(state_dir.name + ".saving")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    counts = {
        "s3Objects": _export_s3(cloud, staging / "s3"),
        "dynamodbItems": _export_dynamodb(cloud, staging / "dynamodb"),
        "ssmParameters": _export_ssm(cloud, staging / "ssm.json"),
        "sqsMessages": _export_sqs(cloud, staging / "sqs"),
    }
    buckets = list(_resources(cloud, "AWS::S3::Bucket"))
    _write_json(staging / "s3-versions.json", cloud.s3_version_ids.ordinals(buckets))
    _write_json(staging / "summary.json", counts)
    # Lambda logs and other work files live beside the data; only the data is replaced.
    for name in ("s3", "s3-versions.json", "dynamodb", "ssm.json", "sqs", "summary.json"):
        target = state_dir / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        state_dir.mkdir(parents=True, exist_ok=True)
        if (staging / name).exists():
            (staging / name).rename(target)
    shutil.rmtree(staging, ignore_errors=True)
    return counts


def _export_s3(cloud: LocalCloud, directory: Path) -> int:
    s3 = cloud.deployer_client("s3")
    total = 0
    for bucket in _resources(cloud, "AWS::S3::Bucket"):
        entries: list[dict[str, Any]] = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", []):
                got = s3.get_object(Bucket=bucket, Key=item["Key"])
                file_name = f"{len(entries):06d}"
                (directory / bucket).mkdir(parents=True, exist_ok=True)
                (directory / bucket / file_name).write_bytes(got["Body"].read())
                entries.append(
                    {
                        "key": item["Key"],
                        "file": file_name,
                        "contentType": got.get("ContentType"),
                        "metadata": got.get("Metadata", {}),
                    }
                )
        if entries:
            _write_json(directory / bucket / "objects.json", entries)
            total += len(entries)
    return total


def _export_dynamodb(cloud: LocalCloud, directory: Path) -> int:
    dynamodb = cloud.deployer_client("dynamodb")
    total = 0
    for table in _resources(cloud, "AWS::DynamoDB::Table"):
        items = [
            item
            for page in dynamodb.get_paginator("scan").paginate(TableName=table)
            for item in page.get("Items", [])
        ]
        if items:
            _write_json(directory / f"{table}.json", items)
            total += len(items)
    return total


def _export_ssm(cloud: LocalCloud, path: Path) -> int:
    from localcloud.cloud import BOOTSTRAP_VERSION_PARAMETER

    ssm = cloud.deployer_client("ssm")
    parameters = []
    for page in ssm.get_paginator("describe_parameters").paginate():
        for described in page.get("Parameters", []):
            name = described["Name"]
            if name == BOOTSTRAP_VERSION_PARAMETER:
                continue
            value = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]
            parameters.append({"Name": name, "Type": value["Type"], "Value": value["Value"]})
    _write_json(path, parameters)
    return len(parameters)


def _export_sqs(cloud: LocalCloud, directory: Path) -> int:
    sqs = cloud.deployer_client("sqs")
    total = 0
    for queue_url in _resources(cloud, "AWS::SQS::Queue"):
        messages = []
        while True:
            received = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=600,
                MessageAttributeNames=["All"],
                MessageSystemAttributeNames=["MessageGroupId"],
            ).get("Messages", [])
            if not received:
                break
            for message in received:
                kept: dict[str, Any] = {"MessageBody": message["Body"]}
                if message.get("MessageAttributes"):
                    kept["MessageAttributes"] = message["MessageAttributes"]
                group = message.get("Attributes", {}).get("MessageGroupId")
                if group:
                    kept["MessageGroupId"] = group
                    kept["MessageDeduplicationId"] = message["MessageId"]
                messages.append(kept)
        if messages:
            name = queue_url.rstrip("/").rsplit("/", 1)[-1]
            _write_json(directory / f"{name}.json", messages)
            total += len(messages)
    return total


# import ------------------------------------------------------------------------------------------
def import_state(cloud: LocalCloud, state_dir: Path) -> dict[str, int]:
    """Put back what `export_state` wrote, for the resources deployed now; {} if nothing was."""
    if not (state_dir / "summary.json").is_file():
        return {}
    versions = state_dir / "s3-versions.json"
    if versions.is_file():
        cloud.s3_version_ids.restore(_read_json(versions))
    return {
        "s3Objects": _import_s3(cloud, state_dir / "s3"),
        "dynamodbItems": _import_dynamodb(cloud, state_dir / "dynamodb"),
        "ssmParameters": _import_ssm(cloud, state_dir / "ssm.json"),
        "sqsMessages": _import_sqs(cloud, state_dir / "sqs"),
    }


def _import_s3(cloud: LocalCloud, directory: Path) -> int:
    s3 = cloud.deployer_client("s3")
    total = 0
    for bucket in _resources(cloud, "AWS::S3::Bucket"):
        listing = directory / bucket / "objects.json"
        if not listing.is_file():
            continue
        notifications = s3.get_bucket_notification_configuration(Bucket=bucket)
        notifications.pop("ResponseMetadata", None)
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
        try:
            for entry in _read_json(listing):
                arguments: dict[str, Any] = {
                    "Bucket": bucket,
                    "Key": entry["key"],
                    "Body": (directory / bucket / entry["file"]).read_bytes(),
                    "Metadata": entry.get("metadata") or {},
                }
                if entry.get("contentType"):
                    arguments["ContentType"] = entry["contentType"]
                s3.put_object(**arguments)
                total += 1
        finally:
            s3.put_bucket_notification_configuration(
                Bucket=bucket, NotificationConfiguration=notifications
            )
    return total


def _import_each(
    cloud: LocalCloud,
    resource_type: str,
    path_of: Callable[[str], Path],
    put: Callable[[str, Any], Any],
) -> int:
    """Put back what was exported for each deployed resource of `resource_type`."""
    total = 0
    for ref in _resources(cloud, resource_type):
        path = path_of(ref)
        if not path.is_file():
            continue
        for entry in _read_json(path):
            put(ref, entry)
            total += 1
    return total


def _import_dynamodb(cloud: LocalCloud, directory: Path) -> int:
    dynamodb = cloud.deployer_client("dynamodb")
    return _import_each(
        cloud,
        "AWS::DynamoDB::Table",
        lambda table: directory / f"{table}.json",
        lambda table, item: dynamodb.put_item(TableName=table, Item=item),
    )


def _import_ssm(cloud: LocalCloud, path: Path) -> int:
    if not path.is_file():
        return 0
    ssm = cloud.deployer_client("ssm")
    parameters = _read_json(path)
    for parameter in parameters:
        ssm.put_parameter(
            Name=parameter["Name"],
            Type=parameter["Type"],
            Value=parameter["Value"],
            Overwrite=True,
        )
    return len(parameters)


def _import_sqs(cloud: LocalCloud, directory: Path) -> int:
    sqs = cloud.deployer_client("sqs")
    return _import_each(
        cloud,
        "AWS::SQS::Queue",
        lambda queue_url: directory / f"{queue_url.rstrip('/').rsplit('/', 1)[-1]}.json",
        lambda queue_url, message: sqs.send_message(QueueUrl=queue_url, **message),
    )
