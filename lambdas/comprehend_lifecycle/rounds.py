"""A training round: collect pending uploads, build the candidate's data, and, once the state
machine has trained and evaluated the candidate, promote or keep.

Pending uploads are recorded in the state table by the intake function (`pk = "pending"`), so
uploads arriving while a round runs wait for the next round instead of racing it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from lambdas.comprehend_lifecycle import dataset, layout
from lambdas.comprehend_lifecycle.settings import LifecycleSettings
from lambdas.shared.errors import InputError
from lambdas.shared.s3 import ObjectStore, error_code

_deserialize = TypeDeserializer().deserialize


@dataclass
class PendingUpload:
    sort_key: str
    key: str
    version_id: str | None


@dataclass
class RoundPlan:
    round_id: str
    has_data: bool
    rejected: list[dict[str, str]] = field(default_factory=list)
    reason: str = ""
    new_rows: int = 0
    train_rows: int = 0
    test_rows: int = 0

    def as_dict(self, settings: LifecycleSettings, store: ObjectStore) -> dict[str, Any]:
        prefix = layout.round_prefix(self.round_id)
        return {
            "roundId": self.round_id,
            "versionName": self.round_id,
            "hasData": self.has_data,
            "rejected": self.rejected,
            "rejectedCount": len(self.rejected),
            "reason": self.reason,
            "newRows": self.new_rows,
            "trainRows": self.train_rows,
            "testRows": self.test_rows,
            "trainUri": store.uri(prefix + "train.csv"),
            "testDocumentsUri": store.uri(prefix + "test-documents.txt"),
            "jobsUri": store.uri(prefix + "jobs/"),
        }


def pending_uploads(dynamodb: Any, table: str) -> list[PendingUpload]:
    pending: list[PendingUpload] = []
    arguments: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pending",
        "ExpressionAttributeValues": {":pending": {"S": "pending"}},
        "ConsistentRead": True,
    }
    while True:
        page = dynamodb.query(**arguments)
        for item in page.get("Items", []):
            values = {k: _deserialize(v) for k, v in item.items()}
            pending.append(PendingUpload(values["sk"], values["key"], values.get("versionId")))
        if "LastEvaluatedKey" not in page:
            return pending
        arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def prepare_round(
    round_id: str, settings: LifecycleSettings, store: ObjectStore, dynamodb: Any
) -> RoundPlan:
    """Validate the pending uploads, merge them, and write the round's files."""
    uploads = pending_uploads(dynamodb, settings.table)
    plan = RoundPlan(round_id, has_data=False)
    new_rows: list[dataset.Row] = []
    for upload in uploads:
        name = upload.key.removeprefix(layout.UPLOAD_PREFIX)
        try:
            data = store.get_bytes(upload.key, upload.version_id)
            new_rows += dataset.parse_csv(
                data, name, settings.multi_label, settings.label_delimiter, settings.allowed_labels
            )
        except InputError as error:
            _quarantine(store, upload, name, error)
            plan.rejected.append({"file": name, "error": error.code, "reason": error.reason})
    ground_truth = _stored_rows(store, layout.GROUND_TRUTH, settings)
    carried = _stored_rows(store, layout.CARRIED, settings)
    pending_rows = dataset.merge(carried, new_rows)
    merged = dataset.merge(ground_truth, pending_rows)
    train, test = dataset.split(merged, settings.test_percent)
    plan.new_rows, plan.train_rows, plan.test_rows = len(new_rows), len(train), len(test)
    prefix = layout.round_prefix(round_id)
    store.put_bytes(prefix + "pending.csv", dataset.to_csv(pending_rows, settings.label_delimiter))
    if not uploads:
        plan.reason = "no uploads were waiting"
    elif not new_rows:
        plan.reason = "every upload was rejected"
    elif (problem := dataset.trainability_problem(train, settings.multi_label)) is not None:
        plan.reason = f"not trained: {problem}; the data is kept for the next round"
        store.put_bytes(layout.CARRIED, dataset.to_csv(pending_rows, settings.label_delimiter))
    elif not test:
        plan.reason = "not trained: the held-out test set is empty; upload more data"
        store.put_bytes(layout.CARRIED, dataset.to_csv(pending_rows, settings.label_delimiter))
    else:
        plan.has_data = True
        delimiter = settings.label_delimiter
        store.put_bytes(prefix + "train.csv", dataset.to_csv(train, delimiter), "text/csv")
        store.put_bytes(prefix + "merged.csv", dataset.to_csv(merged, delimiter), "text/csv")
        store.put_bytes(prefix + "test-documents.txt", dataset.documents_file(test), "text/plain")
        store.put_json(prefix + "test-labels.json", [list(row.labels) for row in test])
    _consume(dynamodb, settings.table, uploads)
    return plan


def finish_round(
    round_id: str,
    decision: str,
    settings: LifecycleSettings,
    store: ObjectStore,
) -> None:
    """Promoted: the merged data becomes the ground truth and nothing is carried. Kept or
    failed: the round's carried and new rows wait for the next round."""
    prefix = layout.round_prefix(round_id)
    if decision == "promoted":
        store.copy(prefix + "merged.csv", layout.GROUND_TRUTH)
        store.put_bytes(layout.CARRIED, b"")
    elif decision in ("kept", "failed"):
        store.copy(prefix + "pending.csv", layout.CARRIED)
    else:
        raise ValueError(f"unknown decision {decision!r}")


def _stored_rows(store: ObjectStore, key: str, settings: LifecycleSettings) -> list[dataset.Row]:
    if not store.exists(key):
        return []
    return dataset.from_csv(store.get_bytes(key), settings.multi_label, settings.label_delimiter)


def _quarantine(store: ObjectStore, upload: PendingUpload, name: str, error: InputError) -> None:
    try:
        store.copy(upload.key, layout.failed_key(name), upload.version_id)
    except ClientError as copy_error:
        if error_code(copy_error) not in ("NoSuchKey", "NoSuchVersion", "404"):
            raise  # the upload itself is gone: its reason is still recorded below
    store.put_bytes(
        layout.failed_error_key(name),
        json.dumps({"file": name, **error.as_dict()}, indent=2).encode(),
        "application/json",
    )


def _consume(dynamodb: Any, table: str, uploads: list[PendingUpload]) -> None:
    requests = [
        {"DeleteRequest": {"Key": {"pk": {"S": "pending"}, "sk": {"S": u.sort_key}}}}
        for u in uploads
    ]
    write_all(dynamodb, table, requests)


def write_all(dynamodb: Any, table: str, requests: list[dict[str, Any]]) -> None:
    """BatchWriteItem in chunks of 25, resubmitting unprocessed items (bounded)."""
    for start in range(0, len(requests), 25):
        chunk: list[dict[str, Any]] = requests[start : start + 25]
        for _attempt in range(8):
            response = dynamodb.batch_write_item(RequestItems={table: chunk})
            chunk = response.get("UnprocessedItems", {}).get(table, [])
            if not chunk:
                break
        else:
            raise RuntimeError(f"{len(chunk)} items of {table} stayed unprocessed")
