"""The caption translation handlers, called directly under moto with the local Translate engine.

Each test gets a fresh moto account holding a versioned captions bucket and a state machine that
records executions without running them, the environment the stack gives the functions, and a
boto3 Translate client answered by a `TranslateEngine`. Each handler module gets its clients from
its kit's `clients` cache; every test replaces that cache with an empty one that serves
the engine's Translate client (the handlers would otherwise create a plain
`boto3.client("translate")`, which moto does not answer).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
from moto import mock_aws

from lambdas.caption_translation import (
    layout,
    prepare_batch,
    rebuild_outputs,
    start_batch,
    translate_realtime,
)
from lambdas.shared.aws import STANDARD_RETRIES
from localcloud.core.clock import LocalClock
from localcloud.core.protocol import register_on_client
from localcloud.services.translate.engine import TranslateEngine
from tests.helpers.aws import object_keys
from tests.helpers.handlers import (  # noqa: F401  (re-exported)
    REGION,
    HandlerClients,
    call,
    handler_environment,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
EVENTS = REPO_ROOT / "events" / "caption_translation"
SAMPLES = REPO_ROOT / "samples" / "caption_translation"
GOOD_SAMPLES = sorted(p for p in SAMPLES.iterdir() if p.suffix in (".vtt", ".srt"))
BAD_SAMPLES = sorted((SAMPLES / "bad").iterdir())

ACCOUNT = "123456789012"
TARGET_LANGUAGES = ("es", "fr", "de")
DATA_ACCESS_ROLE = f"arn:aws:iam::{ACCOUNT}:role/TranslateDataAccess"
METRICS_NAMESPACE = "ServerlessMlWorkflows"
HANDLER_MODULES: tuple[ModuleType, ...] = (
    start_batch,
    prepare_batch,
    translate_realtime,
    rebuild_outputs,
)
WORKFLOW_DEFINITION = json.dumps(
    {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}, separators=(",", ":")
)


def load_event(name: str) -> dict[str, Any]:
    """A copy of an event file under events/caption_translation/."""
    document: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return document


# The bucket the event files name: the local cloud's bucket of the default stage.
_TRIGGER_BODY = json.loads(load_event("start_batch/trigger_file.json")["Records"][0]["body"])
BUCKET = str(_TRIGGER_BODY["Records"][0]["s3"]["bucket"]["name"])


def samples(paths: list[Path]) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in paths}


@dataclass(frozen=True)
class Upload:
    key: str
    version_id: str
    size: int
    etag: str


class CaptionsAccount:
    """The moto account the handlers run against, and what a test does to it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, state_machine_arn: str) -> None:
        self.monkeypatch = monkeypatch
        self.bucket = BUCKET
        self.state_machine_arn = state_machine_arn
        self.s3 = boto3.client("s3", region_name=REGION)
        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        self.clock = LocalClock(speed=1_000_000)
        self.engine = TranslateEngine(self.clock, lambda role: self.s3)
        self.translate = boto3.client("translate", region_name=REGION, config=STANDARD_RETRIES)
        register_on_client(self.translate, self.engine)
        self._sequencer = itertools.count(1)

    # environment ---------------------------------------------------------------------------------
    def set_env(self, **values: str | int) -> None:
        for name, value in values.items():
            self.monkeypatch.setenv(name, str(value))

    # objects -------------------------------------------------------------------------------------
    def put(self, key: str, data: bytes) -> Upload:
        response = self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)
        return Upload(key, response["VersionId"], len(data), response["ETag"].strip('"'))

    def upload(self, files: dict[str, bytes]) -> dict[str, Upload]:
        return {
            name: self.put(f"{layout.INPUT_PREFIX}{name}", data) for name, data in files.items()
        }

    def keys(self, prefix: str = "") -> list[str]:
        return object_keys(self.s3, self.bucket, prefix)

    def versions(self, prefix: str) -> list[tuple[str, str]]:
        """(key, version id) of every version under a prefix, delete markers excluded."""
        response = self.s3.list_object_versions(Bucket=self.bucket, Prefix=prefix)
        return sorted((v["Key"], v["VersionId"]) for v in response.get("Versions", []))

    def read(self, key: str, version_id: str | None = None) -> bytes:
        kwargs = {"VersionId": version_id} if version_id else {}
        return bytes(self.s3.get_object(Bucket=self.bucket, Key=key, **kwargs)["Body"].read())

    def read_json(self, key: str) -> Any:
        return json.loads(self.read(key))

    def report(self, name: str) -> Any:
        """The error report of a quarantined file."""
        return self.read_json(f"error-reports/{name}.json")

    # events --------------------------------------------------------------------------------------
    def trigger(self, body: bytes = b"") -> Upload:
        return self.put(f"{layout.INPUT_PREFIX}triggerfile", body)

    def s3_record(self, upload: Upload) -> dict[str, Any]:
        """The S3 notification record for an upload, from the trigger event file."""
        notification = json.loads(load_event("start_batch/trigger_file.json")["Records"][0]["body"])
        record: dict[str, Any] = notification["Records"][0]
        record["s3"]["bucket"]["name"] = self.bucket
        record["s3"]["object"].update(
            key=quote_plus(upload.key, safe="/"),
            size=upload.size,
            eTag=upload.etag,
            versionId=upload.version_id,
            sequencer=f"0066389F2A1D{next(self._sequencer):06X}",
        )
        return record

    def sqs_event(self, *bodies: str) -> dict[str, Any]:
        """An SQS event whose messages carry `bodies`, shaped like the trigger event file."""
        template = load_event("start_batch/trigger_file.json")["Records"][0]
        records = []
        for number, body in enumerate(bodies, start=1):
            records.append(
                {**template, "messageId": f"message-{number}", "body": body, "md5OfBody": ""}
            )
        return {"Records": records}

    def trigger_event(self, *uploads: Upload) -> dict[str, Any]:
        """One SQS message per upload, each holding that upload's S3 notification."""
        return self.sqs_event(
            *(json.dumps({"Records": [self.s3_record(upload)]}) for upload in uploads)
        )

    # batches -------------------------------------------------------------------------------------
    def stage_batch(
        self,
        files: dict[str, bytes],
        batch_id: str | None = None,
        overrides: dict[str, Any] | None = None,
        trigger_error: str | None = None,
    ) -> str:
        """Write a batch's source copies and manifest, as StartBatch leaves them."""
        batch_id = batch_id or load_event("prepare_batch/batch.json")["batchId"]
        entries: list[dict[str, Any]] = []
        for name, data in sorted(files.items()):
            source_key = layout.source_key(batch_id, name)
            self.put(source_key, data)
            entries.append(
                {
                    "name": name,
                    "inputKey": f"{layout.INPUT_PREFIX}{name}",
                    "versionId": f"staged-{len(entries)}",
                    "size": len(data),
                    "sourceKey": source_key,
                }
            )
        manifest = {
            "batchId": batch_id,
            "triggeredAt": "2024-05-06T10:15:30.123Z",
            "trigger": {"key": "input/triggerfile", "versionId": "staged-trigger"},
            "overrides": overrides,
            "triggerError": trigger_error,
            "files": entries,
        }
        self.s3.put_object(
            Bucket=self.bucket,
            Key=layout.manifest_key(batch_id),
            Body=json.dumps(manifest).encode(),
        )
        return batch_id

    def executions(self) -> list[dict[str, Any]]:
        response = self.sfn.list_executions(stateMachineArn=self.state_machine_arn)
        return sorted(response["executions"], key=lambda e: e["name"])

    # translation jobs ----------------------------------------------------------------------------
    def run_job(self, job: dict[str, Any], max_polls: int = 100) -> dict[str, Any]:
        """Start a planned job as the state machine does and wait (on the engine's clock) for
        its end; returns the entry the state machine hands RebuildOutputs."""
        started = self.translate.start_text_translation_job(
            JobName=job["jobName"],
            ClientToken=job["clientToken"],
            InputDataConfig={"S3Uri": job["inputUri"], "ContentType": "text/html"},
            OutputDataConfig={"S3Uri": job["outputUri"]},
            DataAccessRoleArn=DATA_ACCESS_ROLE,
            SourceLanguageCode=job["sourceLanguage"],
            TargetLanguageCodes=job["targetLanguages"],
        )
        job_id = started["JobId"]
        for _ in range(max_polls):
            status = self.translate.describe_text_translation_job(JobId=job_id)[
                "TextTranslationJobProperties"
            ]["JobStatus"]
            if status in ("COMPLETED", "COMPLETED_WITH_ERROR", "FAILED", "STOPPED"):
                break
            self.clock.advance(60)
        else:
            raise AssertionError(f"job {job_id} did not end within {max_polls} polls")
        return {
            "index": job["index"],
            "jobId": job_id,
            "targetLanguages": job["targetLanguages"],
            "status": status,
            "reason": "",
        }


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[CaptionsAccount]:
    handler_environment(
        monkeypatch,
        "caption-translation",
        {
            "BUCKET_NAME": BUCKET,
            "SOURCE_LANGUAGE": "en",
            "TARGET_LANGUAGES": ",".join(TARGET_LANGUAGES),
            "TERMINOLOGY_NAMES": "",
            "TRIGGER_FILE": "triggerfile",
            "REALTIME_MAX_BYTES": "200000",
            "POLL_INTERVAL_SECONDS": "60",
            "MAX_POLLS": "720",
        },
        METRICS_NAMESPACE,
    )
    with mock_aws(config={"stepfunctions": {"execute_state_machine": False}}):
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        machine = boto3.client("stepfunctions", region_name=REGION).create_state_machine(
            name="CaptionTranslation-test-Workflow",
            definition=WORKFLOW_DEFINITION,
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/CaptionTranslation-test-WorkflowRole",
        )
        monkeypatch.setenv("STATE_MACHINE_ARN", machine["stateMachineArn"])
        world = CaptionsAccount(monkeypatch, machine["stateMachineArn"])
        for module in HANDLER_MODULES:
            monkeypatch.setattr(module.kit, "clients", HandlerClients(translate=world.translate))
            # Metrics read their namespace when the module is imported, which may be before
            # this environment exists.
            monkeypatch.setattr(module.kit.metrics.provider, "namespace", METRICS_NAMESPACE)
        yield world
