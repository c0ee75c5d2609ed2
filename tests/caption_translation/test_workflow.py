"""End to end on the local cloud: upload, trigger, wait, and check what users find."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from lambdas.caption_translation.captions import parse_captions
from lambdas.caption_translation.captions.reading import ReadingProfile, check_cue
from localcloud.services.translate.engine import JobTimings, TranslateFaults
from tests.caption_translation.helpers import (
    BAD_SAMPLES,
    GOOD_SAMPLES,
    assert_faithful_translation,
    assert_least_privilege,
    caption_outputs,
    deploy,
    parse_output,
    samples,
    trigger_bodies,
)
from tests.conftest import BATCH_STACK, DEFAULT_STACK, GLOSSARY, GLOSSARY_STACK

pytestmark = [pytest.mark.workflow, pytest.mark.xdist_group("captions")]


def test_small_batch_is_translated_in_real_time_with_every_cue_kept(cloud: Any) -> None:
    stack = deploy(cloud, DEFAULT_STACK)
    stack.run(samples(GOOD_SAMPLES))

    (execution,) = stack.executions()
    assert execution["status"] == "SUCCEEDED"
    summary = json.loads(execution["output"])
    assert summary["mode"] == "realtime"
    assert (summary["filesIn"], summary["outputs"], summary["failed"]) == (
        len(GOOD_SAMPLES), 2 * len(GOOD_SAMPLES), 0,
    )  # fmt: skip
    assert summary["cuesOut"] == 2 * summary["cuesIn"]
    for path in GOOD_SAMPLES:
        source = parse_captions(path.read_bytes(), path.name)
        for language in ("es", "fr"):
            assert_faithful_translation(source, parse_output(stack, language, path.name), language)
    assert stack.keys("input/") == []  # every waiting file was taken into the batch
    assert stack.summaries() == [summary]
    assert_least_privilege(cloud)


def test_batch_jobs_survive_merged_dropped_and_reordered_segments(cloud: Any) -> None:
    stack = deploy(cloud, BATCH_STACK)
    cloud.translate.faults = TranslateFaults(modes=frozenset({"merge", "drop", "reorder"}))
    stack.run(samples(GOOD_SAMPLES))

    (execution,) = stack.executions()
    summary = json.loads(execution["output"])
    assert execution["status"] == "SUCCEEDED", execution
    assert summary["mode"] == "batch"
    assert summary["failed"] == 0
    assert summary["outputs"] == 3 * len(GOOD_SAMPLES)
    assert summary["retranslatedCues"] > 0  # the faults really hit, and were repaired
    assert {r.mode for r in cloud.translate.fault_log} == {"merge", "drop", "reorder"}
    for path in GOOD_SAMPLES:
        source = parse_captions(path.read_bytes(), path.name)
        for language in ("es", "fr", "de"):
            assert_faithful_translation(source, parse_output(stack, language, path.name), language)
    job_outputs = [k for k in stack.keys("batches/") if "-TranslateText-" in k]
    assert any(k.split("/")[-1].startswith("de.f0001-p001") for k in job_outputs)
    assert_least_privilege(cloud)


def test_realtime_faults_and_throttling_lose_nothing(cloud: Any) -> None:
    stack = deploy(cloud, DEFAULT_STACK)
    cloud.translate.faults = TranslateFaults(
        modes=frozenset({"merge", "drop", "reorder", "throttle"}), throttle_calls=4
    )
    stack.run(samples(GOOD_SAMPLES))

    (execution,) = stack.executions()
    summary = json.loads(execution["output"])
    assert execution["status"] == "SUCCEEDED"
    assert (summary["outputs"], summary["failed"]) == (2 * len(GOOD_SAMPLES), 0)
    assert summary["retranslatedCues"] > 0
    for path in GOOD_SAMPLES:
        source = parse_captions(path.read_bytes(), path.name)
        assert_faithful_translation(source, parse_output(stack, "fr", path.name), "fr")


def test_bad_files_are_quarantined_with_their_reason_and_good_ones_translated(cloud: Any) -> None:
    stack = deploy(cloud, DEFAULT_STACK)
    files = samples(GOOD_SAMPLES[:2]) | samples(BAD_SAMPLES) | {"notes.txt": b"not captions"}
    stack.run(files)

    (execution,) = stack.executions()
    summary = json.loads(execution["output"])
    bad_names = [p.name for p in BAD_SAMPLES] + ["notes.txt"]
    assert summary["failed"] == len(bad_names)
    assert summary["outputs"] == 2 * 2
    for name in bad_names:
        assert stack.read(f"failed/{name}") == files[name]  # the file itself, unchanged
        error = stack.read_json(f"error-reports/{name}.json")
        assert error["source"]["key"] == f"input/{name}" and error["reason"]
        assert error["details"]["failedLanguages"] == "all"
    codes = {name: stack.read_json(f"error-reports/{name}.json")["error"] for name in bad_names}
    assert codes["notes.txt"] == "unsupported-file-type"
    assert codes["empty.srt"] == "empty-file"
    assert codes["latin1.srt"] == "not-utf8"
    for path in GOOD_SAMPLES[:2]:
        assert f"output/es/{path.name}" in caption_outputs(stack.keys("output/"))
    batch_id = summary["batchId"]
    kept = {k.rsplit("/", 1)[-1] for k in stack.keys(f"batches/{batch_id}/source/")}
    assert kept == set(files)  # every source is kept with its batch
    assert_least_privilege(cloud)


def test_a_redelivered_trigger_event_starts_nothing_twice(cloud: Any) -> None:
    stack = deploy(cloud, DEFAULT_STACK)
    stack.run(samples(GOOD_SAMPLES[:1]))
    outputs_before = {k: stack.read(k) for k in caption_outputs(stack.keys("output/"))}
    trigger_events = trigger_bodies(cloud, stack.stack)
    assert len(trigger_events) == 1
    sqs = cloud.client("sqs")
    queue_url = next(
        sqs.get_queue_url(QueueName=state.attributes["QueueName"])["QueueUrl"]
        for state in stack.stack.resources_of_type("AWS::SQS::Queue").values()
        if "RedrivePolicy" in state.properties
    )
    sqs.send_message(QueueUrl=queue_url, MessageBody=trigger_events[0])
    cloud.settle()

    assert len(stack.executions()) == 1
    assert {k: stack.read(k) for k in caption_outputs(stack.keys("output/"))} == outputs_before
    start_batch_log = "".join(
        line
        for name, log in cloud.runtime.logs.items()
        if "StartBatch" in name
        for line in log.lines
    )
    assert "batch already started" in start_batch_log


def test_concurrent_batches_take_disjoint_files(cloud: Any) -> None:
    stack = deploy(cloud, DEFAULT_STACK)
    first = samples(GOOD_SAMPLES[:2])
    second = samples(GOOD_SAMPLES[2:])
    stack.upload(first)
    stack.trigger()
    uploader = threading.Thread(target=lambda: (stack.upload(second), stack.trigger()))
    uploader.start()
    uploader.join()
    cloud.settle()

    executions = stack.executions()
    assert len(executions) == 2
    assert all(e["status"] == "SUCCEEDED" for e in executions)
    taken: list[str] = []
    for execution in executions:
        summary = json.loads(execution["output"])
        manifest = stack.read_json(f"batches/{summary['batchId']}/manifest.json")
        taken += [f["name"] for f in manifest["files"]]
    assert sorted(taken) == sorted(first | second)  # each file in exactly one batch
    assert len(caption_outputs(stack.keys("output/es/"))) == len(GOOD_SAMPLES)


def test_a_trigger_with_nothing_waiting_says_so(cloud: Any) -> None:
    stack = deploy(cloud, DEFAULT_STACK)
    stack.trigger()
    cloud.settle()

    (summary,) = stack.summaries()
    assert summary["filesIn"] == 0 and summary["mode"] == "none"
    assert "no input files" in summary["subject"]
    assert "no files were waiting" in summary["message"]


def test_an_unsupported_language_in_the_trigger_file_quarantines_the_batch(cloud: Any) -> None:
    stack = deploy(cloud, DEFAULT_STACK)
    stack.run(samples(GOOD_SAMPLES[:1]), trigger=b'{"targetLanguages": ["es", "tlh"]}')

    (summary,) = stack.summaries()
    name = GOOD_SAMPLES[0].name
    assert summary["failed"] == 1 and summary["outputs"] == 0
    error = stack.read_json(f"error-reports/{name}.json")
    assert error["error"] == "invalid-settings" and "tlh" in error["reason"]


def test_trigger_file_chooses_the_batch_languages(cloud: Any) -> None:
    stack = deploy(cloud, DEFAULT_STACK)
    stack.run(samples(GOOD_SAMPLES[:1]), trigger=b'{"targetLanguages": ["de", "ja"]}')

    name = GOOD_SAMPLES[0].name
    assert sorted(caption_outputs(stack.keys("output/"))) == [
        f"output/de/{name}",
        f"output/ja/{name}",
    ]


def test_a_job_that_never_finishes_is_stopped_and_its_files_quarantined(cloud: Any) -> None:
    stack = deploy(cloud, BATCH_STACK)
    cloud.translate.timings = JobTimings(queued_seconds=30, base_seconds=100_000)
    stack.run(samples(GOOD_SAMPLES[:1]))

    (execution,) = stack.executions()
    summary = json.loads(execution["output"])
    assert execution["status"] == "SUCCEEDED"  # the batch ends; nothing is left running
    assert summary["failed"] == 1 and summary["outputs"] == 0
    error = stack.read_json(f"error-reports/{GOOD_SAMPLES[0].name}.json")
    assert "did not finish within 40 polls" in error["reason"]
    assert sorted(error["details"]["failedLanguages"]) == ["de", "es", "fr"]
    jobs = cloud.client("translate").list_text_translation_jobs()[
        "TextTranslationJobPropertiesList"
    ]
    assert {j["JobStatus"] for j in jobs} <= {"STOP_REQUESTED", "STOPPED"}
    assert_least_privilege(cloud)


def test_a_document_the_job_rejects_is_quarantined_for_its_languages(cloud: Any) -> None:
    stack = deploy(cloud, BATCH_STACK)
    big, small = GOOD_SAMPLES[0], GOOD_SAMPLES[1]
    cloud.translate.max_batch_document_bytes = min(len(big.read_bytes()), 400)
    files = {big.name: big.read_bytes() * 3, small.name: small.read_bytes()}
    stack.run(files)

    summary = stack.summaries()[0]
    assert summary["failed"] >= 1
    failed = [f["file"] for f in summary["failures"]]
    for name in failed:
        error = stack.read_json(f"error-reports/{name}.json")
        assert error["error"] == "translation-document-failed"
        assert "Translate returned no output" in error["reason"]
    assert_least_privilege(cloud)


def test_a_failed_batch_can_be_rerun_after_the_outage(cloud: Any) -> None:
    stack = deploy(cloud, DEFAULT_STACK)
    cloud.translate.faults = TranslateFaults(modes=frozenset({"throttle"}), throttle_calls=10_000)
    stack.run(samples(GOOD_SAMPLES[:1]))
    (failed,) = stack.executions()
    assert failed["status"] == "FAILED"
    assert "Caption translation batch failed" in [n["Subject"] for n in cloud.notifications]
    batch_id = json.loads(failed["input"])["batchId"]

    cloud.translate.faults = TranslateFaults()
    cloud.client("stepfunctions").start_execution(
        stateMachineArn=stack.stack.outputs["StateMachineArn"],
        name=f"{batch_id}-rerun-1",
        input=json.dumps({"batchId": batch_id}),
    )
    cloud.settle()
    assert {e["status"] for e in stack.executions()} == {"FAILED", "SUCCEEDED"}
    assert len(caption_outputs(stack.keys("output/"))) == 2


def test_the_custom_terminology_keeps_its_terms(cloud: Any) -> None:
    stack = deploy(cloud, GLOSSARY_STACK)
    cloud.client("translate").import_terminology(
        Name=GLOSSARY,
        MergeStrategy="OVERWRITE",
        TerminologyData={"File": b"en,es\nrailing,barandilla\nlamp,lamp\n", "Format": "CSV"},
    )
    lighthouse = next(p for p in GOOD_SAMPLES if p.name.startswith("lighthouse"))
    stack.run(samples([lighthouse]))

    (execution,) = stack.executions()
    assert execution["status"] == "SUCCEEDED"
    translated = stack.read(f"output/es/{lighthouse.name}").decode()
    assert "Hold the railing" in lighthouse.read_text()
    assert "barandilla" in translated  # the glossary's term, kept verbatim
    assert "railing" not in translated
    # "lamp" is a never-translate term: read from the terminology and checked in the output
    (plan_key,) = [k for k in stack.keys("batches/") if k.endswith("/plan.json")]
    assert json.loads(stack.read(plan_key))["neverTranslate"] == {"es": ["lamp"], "fr": []}
    assert "lamp" in translated
    report = json.loads(stack.read(f"output/es/{lighthouse.name}.report.json"))
    assert report["termsNotKept"] == []
    assert json.loads(execution["output"])["termsNotKept"] == 0


def test_a_missing_terminology_fails_the_batch_with_a_notification(cloud: Any) -> None:
    stack = deploy(cloud, GLOSSARY_STACK)
    stack.run(samples(GOOD_SAMPLES[:1]))

    (execution,) = stack.executions()
    assert execution["status"] == "FAILED"
    (notice,) = [
        n for n in cloud.notifications if n["Subject"] == "Caption translation batch failed"
    ]
    assert "ResourceNotFoundException" in notice["Message"]
    assert caption_outputs(stack.keys("output/")) == []


def test_srt_cues_in_a_vtt_named_file_come_out_as_webvtt_and_the_summary_says_so(
    cloud: Any,
) -> None:
    stack = deploy(cloud, DEFAULT_STACK)
    srt = (
        b"1\n00:00:01,000 --> 00:00:02,000\nGood morning\n\n2\n00:00:03,000 --> 00:00:04,000\nBye\n"
    )
    stack.run({"no-header.vtt": srt})

    (summary,) = stack.summaries()
    assert summary["warnings"] == [
        "no-header.vtt: named .vtt but its content is SRT; translated and written as WebVTT, "
        "as its name says"
    ]
    source = parse_captions(srt, "no-header.vtt")
    for language in ("es", "fr"):
        output = stack.read(f"output/{language}/no-header.vtt")
        assert output.startswith(b"WEBVTT\n\n1\n00:00:01.000 --> 00:00:02.000\n")
        translated = parse_output(stack, language, "no-header.vtt")
        assert_faithful_translation(source, translated, language)


def test_every_translated_cue_fits_the_reading_profile_or_is_in_its_report(cloud: Any) -> None:
    stack = deploy(cloud, DEFAULT_STACK)
    cloud.translate.faults = TranslateFaults(modes=frozenset({"expand"}))
    stack.run(samples(GOOD_SAMPLES))

    (summary,) = stack.summaries()
    assert summary["failed"] == 0
    assert summary["rewrappedCues"] > 0  # the expansion made lines too long
    listed_total = 0
    for path in GOOD_SAMPLES:
        for language in ("es", "fr"):
            output = parse_output(stack, language, path.name)
            report = json.loads(stack.read(f"output/{language}/{path.name}.report.json"))
            profile = ReadingProfile.from_json(report["profile"]).for_language(language)
            listed = {entry["index"]: entry for entry in report["overProfileCues"]}
            for cue in output.cues:
                entry = check_cue(cue, output.format, profile)
                assert (entry is None) == (cue.index not in listed), (path.name, cue.index)
                if entry is not None:
                    assert listed[cue.index]["reasons"] == entry["reasons"]
            listed_total += len(listed)
    assert summary["cuesOverReadingProfile"] == listed_total
