"""The caption translation handlers, called with the events Lambda gives them, under moto."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from lambdas.caption_translation import (
    layout,
    planning,
    prepare_batch,
    rebuild_outputs,
    start_batch,
    translate_realtime,
)
from lambdas.caption_translation.batches import BatchStarted
from lambdas.caption_translation.batches import start_batch as start_batch_from
from lambdas.caption_translation.captions import parse_captions
from lambdas.caption_translation.planning import BatchNotFoundError
from lambdas.caption_translation.settings import CaptionSettings
from lambdas.shared.errors import ConfigurationError
from lambdas.shared.events import S3ObjectEvent, s3_events_from_body
from lambdas.shared.s3 import ObjectStore
from localcloud.services.translate.engine import TranslateFaults
from tests.caption_translation.handler_account import (
    BAD_SAMPLES,
    BUCKET,
    GOOD_SAMPLES,
    REGION,
    SAMPLES,
    CaptionsAccount,
    HandlerClients,
    Upload,
    call,
    load_event,
    samples,
)
from tests.caption_translation.helpers import assert_faithful_translation, caption_outputs

BATCH_ID = load_event("prepare_batch/batch.json")["batchId"]
BATCH_ID_SHAPE = re.compile(r"^20240506T101530Z-[0-9a-f]{10}$")
NO_FAILURES: dict[str, list[dict[str, str]]] = {"batchItemFailures": []}
BAD_FILE_ERRORS = {
    "binary.vtt": "binary-content",
    "empty.srt": "empty-file",
    "end-before-start.vtt": "end-before-start",
    "latin1.srt": "not-utf8",
    "malformed-timestamp.vtt": "malformed-timestamp",
    "no-cues.vtt": "no-cues",
}
TWELVE_LANGUAGES = ("es", "fr", "de", "it", "pt", "nl", "sv", "da", "fi", "pl", "ja", "ko")


def _only_execution(account: CaptionsAccount) -> dict[str, Any]:
    (execution,) = account.executions()
    return execution


def _execution_input(account: CaptionsAccount, execution: dict[str, Any]) -> Any:
    described = account.sfn.describe_execution(executionArn=execution["executionArn"])
    return json.loads(described["input"])


def _two_files() -> dict[str, bytes]:
    return samples([SAMPLES / "garden.srt", SAMPLES / "lighthouse.en.vtt"])


# --- StartBatch ----------------------------------------------------------------------------------


def test_a_trigger_moves_every_waiting_file_into_a_new_batch_and_starts_its_workflow(
    account: CaptionsAccount,
) -> None:
    files = {**samples(GOOD_SAMPLES), "season-2/pilot.vtt": (SAMPLES / "garden.srt").read_bytes()}
    uploads = account.upload(files)
    trigger = account.trigger()

    assert call(start_batch, account.trigger_event(trigger)) == NO_FAILURES

    execution = _only_execution(account)
    batch_id = execution["name"]
    assert BATCH_ID_SHAPE.match(batch_id)
    assert _execution_input(account, execution) == {"batchId": batch_id}
    manifest = account.read_json(layout.manifest_key(batch_id))
    assert manifest == {
        "batchId": batch_id,
        "triggeredAt": "2024-05-06T10:15:30.123Z",
        "trigger": {"key": "input/triggerfile", "versionId": trigger.version_id},
        "overrides": None,
        "triggerError": None,
        "files": [
            {
                "name": name,
                "inputKey": f"input/{name}",
                "versionId": uploads[name].version_id,
                "olderVersionIds": [],
                "size": len(files[name]),
                "sourceKey": f"batches/{batch_id}/source/{name}",
            }
            for name in sorted(files)
        ],
    }
    for name, data in files.items():
        assert account.read(f"batches/{batch_id}/source/{name}") == data
    assert account.versions("input/") == []


def test_a_file_uploaded_again_while_its_batch_is_taken_stays_waiting(
    account: CaptionsAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    uploads = account.upload(_two_files())
    trigger = account.trigger()
    newer: list[Upload] = []

    def upload_newer_version(params: dict[str, Any], **_: Any) -> None:
        # Between the batch's copies and the removal of what it took from input/.
        if params["Key"].endswith("/manifest.json") and not newer:
            newer.append(account.put("input/garden.srt", b"a corrected upload"))

    s3 = boto3.client("s3", region_name=REGION)
    s3.meta.events.register("before-parameter-build.s3.PutObject", upload_newer_version)
    monkeypatch.setattr(start_batch.kit, "clients", HandlerClients(s3=s3))

    assert call(start_batch, account.trigger_event(trigger)) == NO_FAILURES

    batch_id = _only_execution(account)["name"]
    taken = {
        f["name"]: f["versionId"] for f in account.read_json(layout.manifest_key(batch_id))["files"]
    }
    assert taken == {name: upload.version_id for name, upload in uploads.items()}
    assert account.versions("input/") == [("input/garden.srt", newer[0].version_id)]
    assert account.read("input/garden.srt") == b"a corrected upload"


def test_a_file_replaced_before_the_trigger_is_not_waiting_after_its_batch(
    account: CaptionsAccount,
) -> None:
    account.put("input/garden.srt", b"first draft")
    account.put("input/garden.srt", (SAMPLES / "garden.srt").read_bytes())
    trigger = account.trigger()

    assert call(start_batch, account.trigger_event(trigger)) == NO_FAILURES

    assert account.keys("input/") == []
    assert account.versions("input/") == []


def test_a_redelivered_trigger_starts_no_second_execution_and_takes_nothing_new(
    account: CaptionsAccount,
) -> None:
    account.upload(_two_files())
    event = account.trigger_event(account.trigger())
    assert call(start_batch, event) == NO_FAILURES
    batch_id = _only_execution(account)["name"]
    manifest = account.read(layout.manifest_key(batch_id))
    late = account.upload({"late.vtt": (SAMPLES / "lighthouse.en.vtt").read_bytes()})["late.vtt"]

    assert call(start_batch, event) == NO_FAILURES

    assert [e["name"] for e in account.executions()] == [batch_id]
    assert account.read(layout.manifest_key(batch_id)) == manifest
    assert account.versions("input/") == [("input/late.vtt", late.version_id)]
    assert sorted(account.keys(f"batches/{batch_id}/source/")) == [
        f"batches/{batch_id}/source/garden.srt",
        f"batches/{batch_id}/source/lighthouse.en.vtt",
    ]


def test_an_s3_test_event_succeeds_and_changes_nothing(account: CaptionsAccount) -> None:
    account.upload({"garden.srt": (SAMPLES / "garden.srt").read_bytes()})

    assert call(start_batch, load_event("start_batch/s3_test_event.json")) == NO_FAILURES

    assert account.executions() == []
    assert account.keys("batches/") == []
    assert account.keys("input/") == ["input/garden.srt"]


def test_a_malformed_message_fails_alone_while_the_other_record_starts_its_batch(
    account: CaptionsAccount,
) -> None:
    account.upload(_two_files())
    trigger_body = json.dumps({"Records": [account.s3_record(account.trigger())]})
    event = account.sqs_event("{not json", json.dumps({"Message": "hello"}), trigger_body)

    assert call(start_batch, event) == {
        "batchItemFailures": [{"itemIdentifier": "message-1"}, {"itemIdentifier": "message-2"}]
    }

    batch_id = _only_execution(account)["name"]
    assert len(account.read_json(layout.manifest_key(batch_id))["files"]) == 2


def test_an_event_whose_every_record_fails_fails_the_invocation(account: CaptionsAccount) -> None:
    with pytest.raises(BatchProcessingError):
        call(start_batch, account.sqs_event("{not json"))
    assert account.executions() == []


@pytest.mark.parametrize("key", ["input/garden.srt", "input/season-2/triggerfile"])
def test_an_object_other_than_the_trigger_file_is_ignored(
    account: CaptionsAccount, key: str
) -> None:
    upload = account.put(key, (SAMPLES / "garden.srt").read_bytes())

    assert call(start_batch, account.trigger_event(upload)) == NO_FAILURES

    assert account.executions() == []
    assert account.keys("batches/") == []
    assert account.keys("input/") == [key]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (
            b'{"targetLanguages": ["de"], "colour": "blue"}',
            "the trigger file has unknown settings: colour",
        ),
        (b'["de", "fr"]', "the trigger file must hold a JSON object"),
        (b"de,fr", "the trigger file is not valid JSON: Expecting value: line 1 column 1 (char 0)"),
    ],
)
def test_a_trigger_with_unusable_settings_records_the_error_in_the_manifest(
    account: CaptionsAccount, body: bytes, error: str
) -> None:
    account.upload(_two_files())

    assert call(start_batch, account.trigger_event(account.trigger(body))) == NO_FAILURES

    manifest = account.read_json(layout.manifest_key(_only_execution(account)["name"]))
    assert (manifest["triggerError"], manifest["overrides"]) == (error, None)
    assert [f["name"] for f in manifest["files"]] == ["garden.srt", "lighthouse.en.vtt"]


def test_a_trigger_with_language_overrides_records_them(account: CaptionsAccount) -> None:
    account.upload(_two_files())
    body = b'{"sourceLanguage": "en", "targetLanguages": ["ja", "ko"]}'

    assert call(start_batch, account.trigger_event(account.trigger(body))) == NO_FAILURES

    manifest = account.read_json(layout.manifest_key(_only_execution(account)["name"]))
    assert manifest["overrides"] == {"sourceLanguage": "en", "targetLanguages": ["ja", "ko"]}
    assert manifest["triggerError"] is None


# --- two batches claiming the same waiting files -------------------------------------------------


class RecordingStarter:
    """Starts executions by name, once each, like Step Functions."""

    def __init__(self) -> None:
        self.started: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def start(self, name: str, payload: dict[str, Any]) -> bool:
        with self._lock:
            if name in self.started:
                return False
            self.started[name] = payload
            return True


class _ListedTogether:
    """A paginator whose listing returns only once the other racing batch has listed too."""

    def __init__(self, paginator: Any, listed: threading.Barrier) -> None:
        self._paginator = paginator
        self._listed = listed

    def paginate(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        pages = list(self._paginator.paginate(**kwargs))
        self._listed.wait(timeout=30)
        return iter(pages)


class RacingS3:
    """The S3 client of one of two batches started at the same moment.

    Both batches see every waiting file before either claims one. Conditional writes are
    decided one at a time, as S3 decides them (moto checks for the key, then writes it)."""

    def __init__(self, client: Any, listed: threading.Barrier, conditional: threading.Lock):
        self._client = client
        self._listed = listed
        self._conditional = conditional

    def get_paginator(self, name: str) -> Any:
        paginator = self._client.get_paginator(name)
        return (
            _ListedTogether(paginator, self._listed)
            if name == "list_object_versions"
            else paginator
        )

    def put_object(self, **kwargs: Any) -> Any:
        if "IfNoneMatch" not in kwargs:
            return self._client.put_object(**kwargs)
        with self._conditional:
            return self._client.put_object(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def _trigger_event(account: CaptionsAccount, upload: Upload) -> S3ObjectEvent:
    (event,) = s3_events_from_body(json.dumps({"Records": [account.s3_record(upload)]}))
    return event


def _start_together(
    account: CaptionsAccount, triggers: list[S3ObjectEvent], starter: RecordingStarter
) -> list[BatchStarted]:
    """Start one batch per trigger, each in its own thread, as concurrent Lambda invocations."""
    settings = CaptionSettings.from_env()
    listed, conditional = threading.Barrier(len(triggers)), threading.Lock()

    def start(trigger: S3ObjectEvent) -> BatchStarted:
        store = ObjectStore(RacingS3(account.s3, listed, conditional), BUCKET)
        return start_batch_from(trigger, settings, store, starter)

    with ThreadPoolExecutor(max_workers=len(triggers)) as pool:
        return list(pool.map(start, triggers))


def test_two_batches_triggered_at_once_take_every_waiting_file_exactly_once(
    account: CaptionsAccount,
) -> None:
    data = (SAMPLES / "garden.srt").read_bytes()
    for round_number in range(6):
        names = {f"round-{round_number}/file-{n:02d}.srt" for n in range(12)}
        account.upload(dict.fromkeys(names, data))
        triggers = [_trigger_event(account, account.trigger()) for _ in range(2)]
        starter = RecordingStarter()

        results = _start_together(account, triggers, starter)

        taken = [
            {f["name"] for f in account.read_json(layout.manifest_key(r.batch_id))["files"]}
            for r in results
        ]
        assert results[0].batch_id != results[1].batch_id
        assert taken[0].isdisjoint(taken[1]), f"round {round_number}: a file is in both batches"
        assert taken[0] | taken[1] == names
        assert [r.files for r in results] == [len(t) for t in taken]
        assert sorted(starter.started) == sorted(r.batch_id for r in results)
        assert account.versions("input/") == []


class _CopyFailsOnce(ObjectStore):
    """The batch's store, whose first copy fails as an interrupted invocation's would."""

    failed = False

    def copy(self, source_key: str, target_key: str, source_version: str | None = None) -> None:
        if not self.failed:
            self.failed = True
            raise RuntimeError("the invocation stopped here")
        super().copy(source_key, target_key, source_version)


def test_a_trigger_retried_after_its_files_were_claimed_takes_them_all(
    account: CaptionsAccount,
) -> None:
    account.upload(_two_files())
    trigger = _trigger_event(account, account.trigger())
    settings, starter = CaptionSettings.from_env(), RecordingStarter()
    with pytest.raises(RuntimeError, match="stopped here"):
        start_batch_from(trigger, settings, _CopyFailsOnce(account.s3, BUCKET), starter)
    assert starter.started == {}
    # The retry finds the claims its own first attempt wrote, and takes those files.
    started = start_batch_from(trigger, settings, ObjectStore(account.s3, BUCKET), starter)
    assert started.files == 2 and list(starter.started) == [started.batch_id]
    names = [f["name"] for f in account.read_json(layout.manifest_key(started.batch_id))["files"]]
    assert names == ["garden.srt", "lighthouse.en.vtt"]
    assert account.versions("input/") == []


def test_an_unversioned_bucket_is_refused_with_a_clear_error_and_nothing_moves(
    account: CaptionsAccount,
) -> None:
    account.s3.create_bucket(Bucket="captions-unversioned")
    store = ObjectStore(account.s3, "captions-unversioned")
    account.s3.put_object(Bucket="captions-unversioned", Key="input/garden.srt", Body=b"one")
    account.s3.put_object(Bucket="captions-unversioned", Key="input/triggerfile", Body=b"")
    trigger = S3ObjectEvent(
        "captions-unversioned",
        "input/triggerfile",
        None,
        "0066389F2A1D000001",
        "ObjectCreated:Put",
        "2024-05-06T10:15:30.123Z",
        0,
        "",
    )

    with pytest.raises(ConfigurationError, match="must have versioning enabled"):
        start_batch_from(trigger, CaptionSettings.from_env(), store, RecordingStarter())

    listing = account.s3.list_objects_v2(Bucket="captions-unversioned")["Contents"]
    assert sorted(o["Key"] for o in listing) == ["input/garden.srt", "input/triggerfile"]


# --- PrepareBatch --------------------------------------------------------------------------------


def test_bad_files_are_quarantined_with_their_error_and_good_files_are_planned(
    account: CaptionsAccount,
) -> None:
    files = {**samples(GOOD_SAMPLES), **samples(BAD_SAMPLES), "notes.txt": b"call the vet"}
    batch_id = account.stage_batch(files)

    result = call(prepare_batch, load_event("prepare_batch/batch.json"))

    assert result == {
        "batchId": batch_id,
        "mode": "realtime",
        "jobs": [],
        "limits": {"pollSeconds": 60, "maxPolls": 720},
    }
    plan = account.read_json(layout.plan_key(batch_id))
    assert [(f["name"], f["format"], f["cues"]) for f in plan["files"]] == [
        ("bakery-karaoke.vtt", "vtt", 5),
        ("garden.srt", "srt", 4),
        ("lighthouse.en.vtt", "vtt", 5),
        ("really-webvtt.srt", "vtt", 2),
        ("train-station.srt", "srt", 4),
    ]
    assert plan["files"][3]["warnings"] == [
        "really-webvtt.srt: named .srt but its content is WebVTT; translated and written as "
        "SRT, as its name says (cue settings and NOTE/STYLE blocks have no SRT form)"
    ]
    expected_errors = {**BAD_FILE_ERRORS, "notes.txt": "unsupported-file-type"}
    assert {r["name"]: r["error"] for r in plan["rejected"]} == expected_errors
    assert sorted(account.keys("failed/")) == sorted(f"failed/{name}" for name in expected_errors)
    assert sorted(account.keys("error-reports/")) == sorted(
        f"error-reports/{name}.json" for name in expected_errors
    )
    taken = {
        f["name"]: f["versionId"] for f in account.read_json(layout.manifest_key(batch_id))["files"]
    }
    for rejected in plan["rejected"]:
        name = rejected["name"]
        assert account.read(f"failed/{name}") == files[name]
        report = account.report(name)
        assert report == {
            "schemaVersion": 1,
            "workflow": "caption_translation",
            "error": expected_errors[name],
            "reason": rejected["reason"],
            "source": {"bucket": BUCKET, "key": f"input/{name}", "versionId": taken[name]},
            "quarantined": {
                "bucket": BUCKET,
                "key": f"failed/{name}",
                "versionId": account.versions(f"failed/{name}")[0][1],
            },
            "quarantinedAt": report["quarantinedAt"],
            "items": [],
            "details": {"batchId": batch_id, "failedLanguages": "all", "translatedLanguages": []},
        }
    assert account.report("notes.txt")["reason"] == (
        "only .vtt and .srt files are translated; this file was left untranslated"
    )


def test_a_small_batch_is_planned_for_real_time_translation(account: CaptionsAccount) -> None:
    batch_id = account.stage_batch(samples(GOOD_SAMPLES))

    result = call(prepare_batch, load_event("prepare_batch/batch.json"))

    assert (result["mode"], result["jobs"]) == ("realtime", [])
    plan = account.read_json(layout.plan_key(batch_id))
    assert plan["translatableBytes"] == sum(f["htmlBytes"] for f in plan["files"]) * 3
    assert plan["translatableBytes"] <= 200_000
    assert all(f["documents"] == [] for f in plan["files"])
    assert account.keys(layout.translate_input_prefix(batch_id)) == []


def test_a_batch_over_the_real_time_limit_is_planned_as_a_translation_job(
    account: CaptionsAccount,
) -> None:
    account.set_env(REALTIME_MAX_BYTES=0)
    batch_id = account.stage_batch(samples(GOOD_SAMPLES))

    result = call(prepare_batch, load_event("prepare_batch/batch.json"))

    prefix = f"batches/{batch_id}/translate-input/"
    assert result["mode"] == "batch"
    assert result["jobs"] == [
        {
            "index": 0,
            "jobName": f"captions-{batch_id}-0",
            "clientToken": result["jobs"][0]["clientToken"],
            "inputUri": f"s3://{BUCKET}/{prefix}",
            "outputUri": f"s3://{BUCKET}/batches/{batch_id}/translate-output/",
            "sourceLanguage": "en",
            "targetLanguages": ["es", "fr", "de"],
            "terminologyNames": [],
        }
    ]
    plan = account.read_json(layout.plan_key(batch_id))
    assert [f["documents"] for f in plan["files"]] == [[f"f000{n}-p001.html"] for n in range(1, 6)]
    assert sorted(account.keys(prefix)) == [f"{prefix}f000{n}-p001.html" for n in range(1, 6)]
    document = account.s3.get_object(Bucket=BUCKET, Key=f"{prefix}f0002-p001.html")
    assert document["ContentType"] == "text/html"
    html = document["Body"].read().decode()
    assert html.startswith('<html><body><p id="c0">')
    assert html.count("<p id=") == 4  # garden.srt's four cues


def test_a_file_larger_than_one_batch_document_is_split_into_several(
    account: CaptionsAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    account.set_env(REALTIME_MAX_BYTES=0)
    monkeypatch.setattr(planning, "BATCH_DOCUMENT_MAX_BYTES", 300)
    batch_id = account.stage_batch(_two_files())

    call(prepare_batch, load_event("prepare_batch/batch.json"))

    plan = account.read_json(layout.plan_key(batch_id))
    assert [f["documents"] for f in plan["files"]] == [
        ["f0001-p001.html"],
        ["f0002-p001.html", "f0002-p002.html", "f0002-p003.html"],
    ]
    prefix = layout.translate_input_prefix(batch_id)
    parts = [account.read(f"{prefix}{name}") for name in plan["files"][1]["documents"]]
    assert all(len(part) <= 300 for part in parts)
    ids = re.findall(r'<p id="(c\d+)">', b"".join(parts).decode())
    assert ids == ["c0", "c1", "c2", "c3", "c4"]


def test_jobs_hold_at_most_ten_languages_and_their_tokens_follow_the_execution(
    account: CaptionsAccount,
) -> None:
    extra = ("zh", "ru", "tr", "uk", "he", "hi", "vi", "th", "id", "el", "cs")
    languages = [*TWELVE_LANGUAGES, *extra]
    account.set_env(REALTIME_MAX_BYTES=0, TARGET_LANGUAGES=",".join(languages))
    account.stage_batch(_two_files())
    event = load_event("prepare_batch/batch.json")

    first = call(prepare_batch, event)["jobs"]
    again = call(prepare_batch, event)["jobs"]
    rerun_event = {**event, "executionName": f"{event['executionName']}-rerun"}
    rerun = call(prepare_batch, rerun_event)["jobs"]

    assert len(languages) == 23
    assert [job["targetLanguages"] for job in first] == [
        languages[:10],
        languages[10:20],
        languages[20:],
    ]
    assert [job["index"] for job in first] == [0, 1, 2]
    tokens = [job["clientToken"] for job in first]
    assert all(re.fullmatch(r"[0-9a-f]{64}", token) for token in tokens)
    assert len(set(tokens)) == 3
    assert [job["clientToken"] for job in again] == tokens
    assert set(tokens).isdisjoint(job["clientToken"] for job in rerun)


def test_a_cue_over_ten_thousand_bytes_is_rejected_as_too_large(
    account: CaptionsAccount,
) -> None:
    long_cue = "WEBVTT\n\n00:00:01.000 --> 00:00:09.000\n" + "word " * 2_100 + "\n"
    batch_id = account.stage_batch(
        {"speech.vtt": long_cue.encode(), "garden.srt": (SAMPLES / "garden.srt").read_bytes()}
    )

    call(prepare_batch, load_event("prepare_batch/batch.json"))

    plan = account.read_json(layout.plan_key(batch_id))
    assert [f["name"] for f in plan["files"]] == ["garden.srt"]
    assert [(r["name"], r["error"]) for r in plan["rejected"]] == [("speech.vtt", "cue-too-large")]
    error = account.report("speech.vtt")
    assert error["error"] == "cue-too-large"
    assert error["reason"].startswith("cue 1 (starting 00:00:01.000) is ")
    assert "more than the 10000-byte limit of one translation request" in error["reason"]


def test_unsupported_override_languages_reject_every_file_as_invalid_settings(
    account: CaptionsAccount,
) -> None:
    files = _two_files()
    batch_id = account.stage_batch(files, overrides={"targetLanguages": ["de", "xx", "klingon"]})

    result = call(prepare_batch, load_event("prepare_batch/batch.json"))

    reason = "the batch's languages: unsupported target language code(s): xx, klingon"
    assert (result["mode"], result["jobs"]) == ("none", [])
    assert result["summary"]["filesIn"] == 2
    assert (result["summary"]["outputs"], result["summary"]["failed"]) == (0, 2)
    plan = account.read_json(layout.plan_key(batch_id))
    assert plan["files"] == []
    assert [(r["name"], r["error"], r["reason"]) for r in plan["rejected"]] == [
        (name, "invalid-settings", reason) for name in sorted(files)
    ]
    for name in files:
        assert account.report(name)["error"] == "invalid-settings"
    assert account.read_json(layout.summary_key(batch_id)) == result["summary"]


def test_a_trigger_error_rejects_every_file_with_that_error(account: CaptionsAccount) -> None:
    error = "the trigger file has unknown settings: colour"
    batch_id = account.stage_batch(_two_files(), trigger_error=error)

    call(prepare_batch, load_event("prepare_batch/batch.json"))

    plan = account.read_json(layout.plan_key(batch_id))
    assert {(r["error"], r["reason"]) for r in plan["rejected"]} == {("invalid-settings", error)}
    assert len(plan["rejected"]) == 2


def test_override_languages_given_as_text_choose_the_batch_languages(
    account: CaptionsAccount,
) -> None:
    batch_id = account.stage_batch(_two_files(), overrides={"targetLanguages": "ja, ko"})

    call(prepare_batch, load_event("prepare_batch/batch.json"))

    plan = account.read_json(layout.plan_key(batch_id))
    assert (plan["sourceLanguage"], plan["targetLanguages"]) == ("en", ["ja", "ko"])
    assert plan["rejected"] == []


def test_preparing_a_batch_without_a_manifest_fails(account: CaptionsAccount) -> None:
    with pytest.raises(BatchNotFoundError, match=BATCH_ID):
        call(prepare_batch, load_event("prepare_batch/batch.json"))


# --- what an attacker or a careless user uploads -------------------------------------------------


def _run_batch(account: CaptionsAccount, files: dict[str, bytes]) -> tuple[str, dict[str, Any]]:
    """Upload, trigger, and run the batch through PrepareBatch and TranslateRealtime."""
    account.upload(files)
    assert call(start_batch, account.trigger_event(account.trigger())) == NO_FAILURES
    batch_id = _only_execution(account)["name"]
    call(prepare_batch, {"batchId": batch_id, "executionName": batch_id})
    return batch_id, call(translate_realtime, {"batchId": batch_id})


def test_an_uploaded_error_report_never_replaces_the_real_one(account: CaptionsAccount) -> None:
    forged = b'{"error": "none", "reason": "this file is fine"}'
    binary = (SAMPLES / "bad" / "binary.vtt").read_bytes()
    _, summary = _run_batch(
        account,
        {"bad.vtt": binary, "bad.vtt.error.json": forged, **_two_files()},
    )

    assert (summary["outputs"], summary["failed"]) == (6, 2)
    assert account.report("bad.vtt")["error"] == "binary-content"
    assert account.read("failed/bad.vtt") == binary
    # The forged report is quarantined as the upload it is, with a report of its own.
    assert account.read("failed/bad.vtt.error.json") == forged
    assert account.report("bad.vtt.error.json")["error"] == "unsupported-file-type"
    reports = account.keys("error-reports/")
    assert sorted(reports) == [
        "error-reports/bad.vtt.error.json.json",
        "error-reports/bad.vtt.json",
    ]
    assert all(account.read(key) != forged for key in reports)


def test_names_with_path_tricks_are_rejected_and_reach_no_output_key(
    account: CaptionsAccount,
) -> None:
    garden = (SAMPLES / "garden.srt").read_bytes()
    tricks = [
        "../escape.srt",
        "season-1/../../up.srt",
        "/abs.srt",
        "a/./b.srt",
        "unsafe-keys/x.srt",
    ]
    batch_id, summary = _run_batch(
        account, {**{name: garden for name in tricks}, "season-1/fine.srt": garden}
    )

    assert (summary["outputs"], summary["failed"]) == (3, len(tricks))
    assert {f["file"]: f["error"] for f in summary["failures"]} == dict.fromkeys(
        tricks, "unsafe-key"
    )
    written = [key for key in account.keys(prefix="") if not key.startswith("input/")]
    for key in written:
        segments = key.split("/")
        assert ".." not in segments and "." not in segments and "" not in segments, key
    assert sorted(caption_outputs(account.keys("output/es/"))) == ["output/es/season-1/fine.srt"]
    reports = [account.read_json(key) for key in account.keys("error-reports/")]
    assert sorted(r["source"]["key"] for r in reports) == sorted(f"input/{n}" for n in tricks)
    for report in reports:
        assert report["error"] == "unsafe-key"
        assert "rename the file" in report["reason"]
        copy = report["quarantined"]["key"]
        assert copy.startswith("failed/unsafe-keys/") and account.read(copy) == garden
    escape = next(r for r in reports if r["source"]["key"] == "input/../escape.srt")
    assert "a '..' segment" in escape["reason"]
    assert escape["quarantined"]["key"].endswith("/escape.srt")
    assert account.keys("input/") == []  # every upload was taken and is kept
    kept = account.keys(f"batches/{batch_id}/source/")
    assert len(kept) == len(tricks) + 1


# --- TranslateRealtime ---------------------------------------------------------------------------


def _assert_every_output_is_faithful(
    account: CaptionsAccount, files: dict[str, bytes], languages: tuple[str, ...]
) -> None:
    assert sorted(caption_outputs(account.keys("output/"))) == sorted(
        f"output/{language}/{name}" for language in languages for name in files
    )
    for name, data in files.items():
        source = parse_captions(data, name)
        for language in languages:
            output = parse_captions(account.read(f"output/{language}/{name}"), name)
            assert_faithful_translation(source, output, language)


def test_every_file_is_written_in_every_target_language_with_its_cues_and_timings(
    account: CaptionsAccount,
) -> None:
    files = samples(GOOD_SAMPLES)
    batch_id = account.stage_batch(files)
    call(prepare_batch, load_event("prepare_batch/batch.json"))

    summary = call(translate_realtime, load_event("translate_realtime/batch.json"))

    assert summary["batchId"] == batch_id
    assert (summary["mode"], summary["filesIn"], summary["outputs"], summary["failed"]) == (
        "realtime",
        5,
        15,
        0,
    )
    assert (summary["cuesIn"], summary["cuesOut"]) == (20, 60)
    assert summary["failures"] == []
    _assert_every_output_is_faithful(account, files, ("es", "fr", "de"))
    content_types = {
        name: account.s3.head_object(Bucket=BUCKET, Key=f"output/de/{name}")["ContentType"]
        for name in ("garden.srt", "really-webvtt.srt", "lighthouse.en.vtt")
    }
    assert content_types == {
        "garden.srt": "application/x-subrip",
        "really-webvtt.srt": "application/x-subrip",  # written as its name says
        "lighthouse.en.vtt": "text/vtt",
    }
    assert account.read_json(layout.summary_key(batch_id)) == summary


def test_merged_dropped_and_reordered_segments_are_translated_again_exactly(
    account: CaptionsAccount,
) -> None:
    account.engine.faults = TranslateFaults(modes=frozenset({"merge", "drop", "reorder"}))
    files = samples(GOOD_SAMPLES)
    account.stage_batch(files)
    call(prepare_batch, load_event("prepare_batch/batch.json"))

    summary = call(translate_realtime, load_event("translate_realtime/batch.json"))

    assert (summary["outputs"], summary["failed"]) == (15, 0)
    assert summary["retranslatedCues"] > 0
    assert {record.mode for record in account.engine.fault_log} == {"merge", "drop", "reorder"}
    _assert_every_output_is_faithful(account, files, ("es", "fr", "de"))


# --- RebuildOutputs ------------------------------------------------------------------------------


def _prepare_jobs(account: CaptionsAccount, files: dict[str, bytes]) -> list[dict[str, Any]]:
    account.set_env(REALTIME_MAX_BYTES=0)
    account.stage_batch(files)
    plan = call(prepare_batch, load_event("prepare_batch/batch.json"))
    assert plan["mode"] == "batch"
    jobs: list[dict[str, Any]] = plan["jobs"]
    return jobs


def _one_job_of_two_files(account: CaptionsAccount) -> dict[str, Any]:
    """The one translation job (not yet run) planned for two sample files."""
    (job,) = _prepare_jobs(account, _two_files())
    return job


def test_outputs_are_rebuilt_from_a_completed_translation_job(account: CaptionsAccount) -> None:
    files = samples(GOOD_SAMPLES)
    (job,) = _prepare_jobs(account, files)
    finished = account.run_job(job)
    assert finished["status"] == "COMPLETED"

    summary = call(rebuild_outputs, {"batchId": BATCH_ID, "jobs": [finished]})

    assert (summary["mode"], summary["outputs"], summary["failed"]) == ("batch", 15, 0)
    assert (summary["cuesIn"], summary["cuesOut"]) == (20, 60)
    _assert_every_output_is_faithful(account, files, ("es", "fr", "de"))
    assert account.keys("failed/") == []


def test_rebuild_outputs_accepts_the_job_results_the_state_machine_collects(
    account: CaptionsAccount,
) -> None:
    job = _one_job_of_two_files(account)
    finished = account.run_job(job)
    event = load_event("rebuild_outputs/completed_job.json")
    event["jobs"][0].update(jobId=finished["jobId"], status=finished["status"])

    summary = call(rebuild_outputs, event)

    # Two files in the event's languages (the test stage's es and fr; the job also did de).
    assert event["jobs"][0]["targetLanguages"] == ["es", "fr"]
    assert (summary["outputs"], summary["failed"]) == (4, 0)


def test_a_failed_job_quarantines_every_file_for_its_languages(account: CaptionsAccount) -> None:
    account.set_env(TARGET_LANGUAGES=",".join(TWELVE_LANGUAGES))
    files = _two_files()
    first, second = _prepare_jobs(account, files)
    # The second job reads an empty location, so Translate fails it.
    empty = f"s3://{BUCKET}/batches/{BATCH_ID}/nothing-here/"
    finished = [
        account.run_job(first),
        {
            **account.run_job({**second, "inputUri": empty}),
            "reason": "the translation job ended FAILED",
        },
    ]
    assert [job["status"] for job in finished] == ["COMPLETED", "FAILED"]

    summary = call(rebuild_outputs, {"batchId": BATCH_ID, "jobs": finished})

    reason = f"the translation job failed: The input location {empty} contains no documents."
    assert (summary["outputs"], summary["failed"]) == (20, 2)
    assert summary["failures"] == [
        {
            "file": name,
            "stage": "translation",
            "error": "translation-job-failed",
            "languages": ["ja", "ko"],
            "reason": reason,
        }
        for name in sorted(files)
    ]
    for name in files:
        error = account.report(name)
        assert (error["error"], error["reason"]) == ("translation-job-failed", reason)
        assert error["details"]["failedLanguages"] == ["ja", "ko"]
        assert error["details"]["translatedLanguages"] == sorted(TWELVE_LANGUAGES[:10])
        assert account.read(f"failed/{name}") == files[name]
        assert caption_outputs(account.keys(f"output/ja/{name}")) == []
        assert caption_outputs(account.keys(f"output/es/{name}")) == [f"output/es/{name}"]


def test_a_missing_document_output_quarantines_only_that_language(
    account: CaptionsAccount,
) -> None:
    files = _two_files()
    (job,) = _prepare_jobs(account, files)
    finished = account.run_job(job)
    output_prefix = layout.translate_output_prefix(BATCH_ID)
    (lost,) = [k for k in account.keys(output_prefix) if k.endswith("/fr.f0002-p001.html")]
    account.s3.delete_object(Bucket=BUCKET, Key=lost)

    summary = call(rebuild_outputs, {"batchId": BATCH_ID, "jobs": [finished]})

    assert (summary["outputs"], summary["failed"]) == (5, 1)
    assert summary["failures"] == [
        {
            "file": "lighthouse.en.vtt",
            "stage": "translation",
            "error": "translation-document-failed",
            "languages": ["fr"],
            "reason": "Translate returned no output for this file",
        }
    ]
    details = account.report("lighthouse.en.vtt")["details"]
    assert (details["failedLanguages"], details["translatedLanguages"]) == (["fr"], ["de", "es"])
    assert caption_outputs(account.keys("output/fr/")) == ["output/fr/garden.srt"]
    garden = parse_captions(files["garden.srt"], "garden.srt")
    output = parse_captions(account.read("output/fr/garden.srt"), "garden.srt")
    assert_faithful_translation(garden, output, "fr")
    assert sorted(caption_outputs(account.keys("output/"))) == sorted(
        [f"output/{lang}/{name}" for lang in ("es", "de") for name in files]
        + ["output/fr/garden.srt"]
    )


def test_a_document_the_job_could_not_translate_is_quarantined_with_its_error(
    account: CaptionsAccount,
) -> None:
    job = _one_job_of_two_files(account)
    input_prefix = layout.translate_input_prefix(BATCH_ID)
    account.put(f"{input_prefix}f0001-p001.html", b"<html><body>\xff\xfe</body></html>")
    finished = account.run_job(job)
    assert finished["status"] == "COMPLETED_WITH_ERROR"

    summary = call(rebuild_outputs, {"batchId": BATCH_ID, "jobs": [finished]})

    assert (summary["outputs"], summary["failed"]) == (3, 1)
    (failure,) = summary["failures"]
    assert failure == {
        "file": "garden.srt",
        "stage": "translation",
        "error": "translation-document-failed",
        "languages": ["de", "es", "fr"],
        "reason": "Translate returned no output for this file: The document is not valid UTF-8.",
    }
    assert account.report("garden.srt")["details"]["failedLanguages"] == [
        "de",
        "es",
        "fr",
    ]


def test_a_task_input_without_a_field_the_state_machine_sends_is_named() -> None:
    """Invoked by hand without `executionName`, a task says what its input lacks rather
    than failing with a bare KeyError."""
    from lambdas.caption_translation.tasks import BatchTask, TaskInputError

    task = BatchTask({"batchId": "20240101T000000Z-0000000000"})
    assert task.batch_id == "20240101T000000Z-0000000000"
    with pytest.raises(TaskInputError, match="no 'executionName' \\(it has \\['batchId'\\]\\)"):
        _ = task.execution_name
    with pytest.raises(TaskInputError, match="no 'jobs'"):
        _ = task.jobs
