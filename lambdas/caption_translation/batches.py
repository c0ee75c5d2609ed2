"""Starting a batch: take the files waiting under `input/` into a batch of their own.

A batch is identified by its trigger upload (key + version, or S3's sequencer when the bucket is
not versioned), so a redelivered trigger event maps to the same batch and starts nothing twice.
Each waiting file version is claimed with a conditional write before it is copied, so two
batches triggered at the same time never take the same file. The batch's copies are written and
its manifest recorded before the exact claimed versions are removed from `input/`: at every
moment each file exists in at least one place. A taken file's older versions (replaced before
the trigger) are removed with it, or removing the taken version would make them current and
waiting again; a version uploaded after the batch listed `input/` stays for the next batch.
The bucket must be versioned (the stack creates it so): version ids are what make claims and
removals exact.
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from lambdas.caption_translation import layout
from lambdas.caption_translation.settings import CaptionSettings
from lambdas.shared.errors import ConfigurationError
from lambdas.shared.events import S3ObjectEvent
from lambdas.shared.s3 import ObjectStore, ObjectVersion

MAX_TRIGGER_BYTES = 64 * 1024
COPY_WORKERS = 16


class ExecutionStarter(Protocol):
    def start(self, name: str, payload: dict[str, Any]) -> bool:
        """Start the workflow execution `name`; False if it exists already."""
        ...


@dataclass(frozen=True)
class BatchStarted:
    batch_id: str
    files: int
    execution_started: bool


def is_trigger(event: S3ObjectEvent, settings: CaptionSettings) -> bool:
    return event.key == layout.INPUT_PREFIX + settings.trigger_file


def batch_id_for(trigger: S3ObjectEvent) -> str:
    """Deterministic per trigger upload; valid as a Step Functions execution name."""
    identity = f"{trigger.bucket}/{trigger.key}/{trigger.version_id or trigger.sequencer}"
    digest = hashlib.sha256(identity.encode()).hexdigest()[:10]
    stamp = "".join(ch for ch in trigger.event_time[:19] if ch.isdigit())
    return f"{stamp[:8]}T{stamp[8:14]}Z-{digest}"


def start_batch(
    trigger: S3ObjectEvent,
    settings: CaptionSettings,
    store: ObjectStore,
    starter: ExecutionStarter,
) -> BatchStarted:
    batch_id = batch_id_for(trigger)
    manifest = store.get_json(layout.manifest_key(batch_id))
    if manifest is None:
        manifest = _take_files(batch_id, trigger, settings, store)
    _remove_taken_versions(manifest, store)
    started = starter.start(batch_id, {"batchId": batch_id})
    return BatchStarted(batch_id, len(manifest["files"]), started)


def _take_files(
    batch_id: str, trigger: S3ObjectEvent, settings: CaptionSettings, store: ObjectStore
) -> dict[str, Any]:
    overrides, trigger_error = _read_trigger(trigger, store)
    waiting = [
        version
        for version in store.list_current_versions(layout.INPUT_PREFIX)
        if version.key != trigger.key and not version.key.endswith("/")
    ]
    unversioned = [version.key for version in waiting if version.version_id is None]
    if unversioned:
        raise ConfigurationError(
            f"bucket {store.bucket} must have versioning enabled: {unversioned[0]} has no "
            "version id, so it cannot be claimed and removed exactly"
        )

    def take(version: ObjectVersion) -> dict[str, Any] | None:
        claim = layout.claim_key(version.key, version.version_id)
        claimed = store.put_if_absent(claim, batch_id.encode())
        if not claimed and store.get_bytes(claim).decode() != batch_id:
            return None  # another batch took this version first
        name = layout.input_name(version.key)
        target = layout.source_key(batch_id, name)
        store.copy(version.key, target, version.version_id)
        return {
            "name": name,
            "inputKey": version.key,
            "versionId": version.version_id,
            "olderVersionIds": list(version.older),
            "size": version.size,
            "sourceKey": target,
        }

    # S3 calls are I/O bound: a pool keeps a batch of thousands of files within the timeout.
    with ThreadPoolExecutor(max_workers=COPY_WORKERS) as pool:
        files = [entry for entry in pool.map(take, waiting) if entry is not None]
    manifest = {
        "batchId": batch_id,
        "triggeredAt": trigger.event_time,
        "trigger": {"key": trigger.key, "versionId": trigger.version_id},
        "overrides": overrides,
        "triggerError": trigger_error,
        "files": sorted(files, key=lambda f: str(f["name"])),
    }
    store.put_json(layout.manifest_key(batch_id), manifest)
    return manifest


def _read_trigger(
    trigger: S3ObjectEvent, store: ObjectStore
) -> tuple[dict[str, Any] | None, str | None]:
    """A trigger file may be empty, or hold JSON overriding the batch's languages and reading
    profile: {"sourceLanguage": "en", "targetLanguages": ["de", "ja"],
    "readingProfile": {"maxCharsPerLine": 37}}."""
    if trigger.size == 0:
        return None, None
    if trigger.size > MAX_TRIGGER_BYTES:
        return None, f"the trigger file is {trigger.size} bytes; at most {MAX_TRIGGER_BYTES}"
    body = store.get_bytes(trigger.key, trigger.version_id).decode("utf-8", errors="replace")
    if not body.strip():
        return None, None
    try:
        document = json.loads(body)
    except json.JSONDecodeError as error:
        return None, f"the trigger file is not valid JSON: {error}"
    if not isinstance(document, dict):
        return None, "the trigger file must hold a JSON object"
    unknown = set(document) - {"sourceLanguage", "targetLanguages", "readingProfile"}
    if unknown:
        return None, f"the trigger file has unknown settings: {', '.join(sorted(unknown))}"
    return document, None


def _remove_taken_versions(manifest: dict[str, Any], store: ObjectStore) -> None:
    taken = [(f["inputKey"], f["versionId"]) for f in manifest["files"]]
    for entry in manifest["files"]:
        taken += [(entry["inputKey"], older) for older in entry.get("olderVersionIds", [])]
    trigger = manifest["trigger"]
    if trigger.get("versionId"):
        taken.append((trigger["key"], trigger["versionId"]))
    store.delete_versions(taken)
