"""A training round: collect pending uploads, build the candidate's data, and, once the state
machine has trained and evaluated the candidate, promote or keep.

Pending uploads are recorded in the state table by the intake function (`pk = "pending"`), so
uploads arriving while a round runs wait for the next round instead of racing it. A round marks
the uploads it takes with its id (`consumedBy`) rather than deleting them: a redelivered upload
event then finds its upload already recorded and adds nothing, and a retried PrepareRound takes
the same uploads again. Consumed records expire (`expiresAt`) once no event can be redelivered.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from lambdas.comprehend_model_lifecycle import dataset, layout
from lambdas.comprehend_model_lifecycle.settings import LifecycleSettings
from lambdas.shared.errors import InputError
from lambdas.shared.keys import check_name
from lambdas.shared.quarantine import (
    UNREADABLE,
    UNREADABLE_UPLOAD,
    ObjectRef,
    Quarantine,
    Rejection,
)
from lambdas.shared.s3 import ObjectStore, error_code

_deserialize = TypeDeserializer().deserialize
WORKFLOW = "comprehend_model_lifecycle"
# SQS keeps an upload event at most 14 days; after that no redelivery can bring it back.
CONSUMED_RECORD_SECONDS = 14 * 24 * 3600


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


def pending_uploads(dynamodb: Any, table: str, round_id: str) -> list[PendingUpload]:
    """Uploads no round has taken yet, and those this round took on an earlier attempt."""
    pending: list[PendingUpload] = []
    arguments: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pending",
        "FilterExpression": "attribute_not_exists(consumedBy) OR consumedBy = :round",
        "ExpressionAttributeValues": {":pending": {"S": "pending"}, ":round": {"S": round_id}},
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
    round_id: str,
    settings: LifecycleSettings,
    store: ObjectStore,
    dynamodb: Any,
    now: float | None = None,
) -> RoundPlan:
    """Validate the pending uploads, merge them, and write the round's files."""
    uploads = pending_uploads(dynamodb, settings.table, round_id)
    plan = RoundPlan(round_id, has_data=False)
    new_rows: list[dataset.Row] = []
    quarantine = Quarantine(store.client, store.bucket, WORKFLOW)
    for upload in uploads:
        name = upload.key.removeprefix(layout.UPLOAD_PREFIX)
        try:
            check_name(name)
            data = store.get_bytes(upload.key, upload.version_id)
            new_rows += dataset.parse_csv(
                data, name, settings.multi_label, settings.label_delimiter, settings.allowed_labels
            )
        except InputError as error:
            source = ObjectRef(store.bucket, upload.key, upload.version_id)
            quarantine.file(name, source, Rejection.of(error, roundId=round_id))
            plan.rejected.append({"file": name, "error": error.code, "reason": error.reason})
        except ClientError as error:
            # The upload's version is gone (deleted or its event forged) or not readable: the
            # round goes on without it, and it is not taken again, so one such upload cannot
            # fail every later round.
            if error_code(error) not in UNREADABLE:
                raise
            source = ObjectRef(store.bucket, upload.key, upload.version_id)
            reason = quarantine.file_unreadable(name, source, error_code(error), "its round")
            plan.rejected.append({"file": name, "error": UNREADABLE_UPLOAD, "reason": reason})
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
        store.put_json(prefix + "test-trusted.json", trusted_lines(test, ground_truth))
    _consume(dynamodb, settings.table, uploads, round_id, time.time() if now is None else now)
    return plan


def trusted_lines(test: list[dataset.Row], ground_truth: list[dataset.Row]) -> list[int]:
    """The test lines whose document the ground truth holds with the same labels: data the
    live model was accepted on, as opposed to labels not vetted yet."""
    accepted = {row.key: row.labels for row in ground_truth}
    return [line for line, row in enumerate(test) if accepted.get(row.key) == row.labels]


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


def _consume(
    dynamodb: Any, table: str, uploads: list[PendingUpload], round_id: str, now: float
) -> None:
    expires = str(int(now + CONSUMED_RECORD_SECONDS))
    for upload in uploads:
        dynamodb.update_item(
            TableName=table,
            Key={"pk": {"S": "pending"}, "sk": {"S": upload.sort_key}},
            UpdateExpression="SET consumedBy = :round, expiresAt = :expires",
            ExpressionAttributeValues={":round": {"S": round_id}, ":expires": {"N": expires}},
        )


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
