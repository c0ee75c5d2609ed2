"""Driving the caption translation workflow on the local cloud as a user would."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambdas.caption_translation.captions import CaptionFile, parse_captions, plain_text
from lambdas.shared.events import s3_events_from_body
from localcloud.cloud import DeployedStack, LocalCloud
from localcloud.core.alarms import is_alarm_notification
from localcloud.core.iam_check import check
from localcloud.services.translate.engine import reverse_pseudo_translation
from tests.helpers.aws import object_keys
from tests.helpers.workflow import DeployedWorkflow, StackOutput

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLES = REPO_ROOT / "samples" / "caption_translation"
GOOD_SAMPLES = sorted(p for p in SAMPLES.iterdir() if p.suffix in (".vtt", ".srt"))
BAD_SAMPLES = sorted((SAMPLES / "bad").iterdir())


@dataclass
class CaptionStack(DeployedWorkflow):
    bucket = StackOutput("BucketName")

    def upload(self, files: dict[str, bytes]) -> None:
        for name, data in files.items():
            self.s3.put_object(Bucket=self.bucket, Key=f"input/{name}", Body=data)

    def trigger(self, body: bytes = b"") -> None:
        self.s3.put_object(Bucket=self.bucket, Key="input/triggerfile", Body=body)

    def run(self, files: dict[str, bytes], trigger: bytes = b"") -> None:
        self.upload(files)
        self.trigger(trigger)
        self.cloud.settle()

    def keys(self, prefix: str = "") -> list[str]:
        return object_keys(self.s3, self.bucket, prefix)

    def read(self, key: str) -> bytes:
        return bytes(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def read_json(self, key: str) -> Any:
        return json.loads(self.read(key))

    def summaries(self) -> list[dict[str, Any]]:
        return [
            json.loads(n["Message"])
            for n in self.cloud.notifications
            if n["TopicArn"] == self.stack.outputs["NotificationTopicArn"]
            and n["Message"].startswith("{")
            and not is_alarm_notification(n)  # alarms share the topic
        ]


def trigger_bodies(cloud: LocalCloud, stack: DeployedStack) -> list[str]:
    """The SQS message bodies carrying the trigger file's S3 event, as StartBatch received
    them. A record may share its batch with S3's `s3:TestEvent` message, so records are
    picked one by one."""
    return [
        record["body"]
        for name, event, _ in cloud.runtime.invocations
        if name.startswith(stack.name) and "StartBatch" in name and isinstance(event, dict)
        for record in event.get("Records", [])
        if _is_trigger_notification(record.get("body", ""))
    ]


def _is_trigger_notification(body: str) -> bool:
    return any(event.key == "input/triggerfile" for event in s3_events_from_body(body))


def deploy(cloud: LocalCloud, stack_name: str) -> CaptionStack:
    return CaptionStack(cloud, cloud.deploy(stack_name))


def samples(paths: list[Path]) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in paths}


def assert_faithful_translation(source: CaptionFile, output: CaptionFile, language: str) -> None:
    """Same cues, identifiers, settings, timings and blocks; every cue's words are its own
    source words, pseudo-translated into `language`. A file whose name says another format
    than its content is written in the named format: SRT keeps no cue settings or blocks and
    numbers its cues."""
    expected_format = source.declared_format or source.format
    assert output.format == expected_format
    assert len(output.cues) == len(source.cues)
    converted = expected_format != source.format
    assert output.blocks == (() if converted and expected_format == "srt" else source.blocks)
    for number, (before, after) in enumerate(zip(source.cues, output.cues, strict=True), 1):
        identifier = str(number) if converted and expected_format == "srt" else before.identifier
        settings = "" if converted else before.settings
        assert (after.identifier, after.start_ms, after.end_ms, after.settings) == (
            identifier,
            before.start_ms,
            before.end_ms,
            settings,
        )
        translated = plain_text(after.text, output.format)
        original = plain_text(before.text, source.format)
        if re.search(r"[A-Za-z]", original):
            assert f"·{language}" in translated, f"cue {before.index} was not translated"
        recovered = plain_text(reverse_pseudo_translation(after.text), output.format)
        assert _words(recovered) == _words(original), (
            f"cue {before.index}: {translated!r} is not the translation of {original!r}"
        )


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text)


REPORT_SUFFIX = ".report.json"


def caption_outputs(keys: list[str]) -> list[str]:
    """The translated caption files among output `keys`; each must have its reading report
    beside it, and no report may be without its file."""
    captions = [key for key in keys if not key.endswith(REPORT_SUFFIX)]
    reports = [key for key in keys if key.endswith(REPORT_SUFFIX)]
    assert sorted(reports) == sorted(key + REPORT_SUFFIX for key in captions)
    return captions


def parse_output(stack: CaptionStack, language: str, name: str) -> CaptionFile:
    return parse_captions(stack.read(f"output/{language}/{name}"), name)


def assert_least_privilege(cloud: LocalCloud) -> None:
    report = check(cloud)
    assert report.checked_calls > 0
    assert report.denied == [], report.format()
    assert report.unverifiable == [], report.format()
