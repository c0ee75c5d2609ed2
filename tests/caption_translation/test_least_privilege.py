"""Least privilege, both ways: no call is denied, and every grant is used by some scenario.

Each stack runs every path its configuration allows (bad files, faults that need re-translation,
a redelivered trigger, a failed job, a job over its poll budget); then the only grants no call
used must be those of the paths the configuration rules out.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from localcloud.core.iam_check import check
from localcloud.services.translate.engine import JobTimings, TranslateFaults
from tests.caption_translation.helpers import (
    BAD_SAMPLES,
    GOOD_SAMPLES,
    CaptionStack,
    deploy,
    samples,
    trigger_bodies,
)
from tests.conftest import BATCH_STACK, DEFAULT_STACK
from tests.helpers.least_privilege import logical_names, named_unused_grants

pytestmark = [pytest.mark.workflow, pytest.mark.xdist_group("captions")]


def _redeliver_last_trigger(stack: CaptionStack) -> None:
    cloud = stack.cloud
    body = trigger_bodies(cloud, stack.stack)[-1]
    sqs = cloud.client("sqs")
    (queue,) = [
        state.attributes["QueueName"]
        for state in stack.stack.resources_of_type("AWS::SQS::Queue").values()
        if "RedrivePolicy" in state.properties
    ]
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=body)
    cloud.settle()


def _unused(cloud: Any, stack: CaptionStack) -> set[tuple[str, str, str]]:
    """(principal, action, resource) of every unused grant, ARNs shortened to logical ids."""
    report = check(cloud)
    assert report.denied == [], report.format()
    return named_unused_grants(report, logical_names(stack.stack))


def test_every_batch_job_grant_is_used_and_none_is_missing(cloud: Any) -> None:
    stack = deploy(cloud, BATCH_STACK)
    cloud.translate.faults = TranslateFaults(modes=frozenset({"merge", "drop"}))
    stack.run(samples(GOOD_SAMPLES[:2]) | samples(BAD_SAMPLES[:1]))
    _redeliver_last_trigger(stack)
    cloud.translate.faults = TranslateFaults()
    cloud.translate.max_batch_document_bytes = 10  # every document fails: the job FAILS
    stack.run(samples(GOOD_SAMPLES[2:3]))
    cloud.translate.max_batch_document_bytes = 20_000_000
    cloud.translate.timings = JobTimings(queued_seconds=30, base_seconds=100_000)
    stack.run(samples(GOOD_SAMPLES[3:4]))

    assert "translation job failed" in json.dumps(stack.summaries())
    # This stack translates nothing in real time (realtimeMaxBytes is 0).
    assert _unused(cloud, stack) == {("Workflow", "lambda:InvokeFunction", "TranslateRealtime")}


def test_every_real_time_grant_is_used_and_none_is_missing(cloud: Any) -> None:
    stack = deploy(cloud, DEFAULT_STACK)
    cloud.translate.faults = TranslateFaults(modes=frozenset({"merge", "drop"}))
    stack.run(samples(GOOD_SAMPLES[:2]) | samples(BAD_SAMPLES[:1]))
    _redeliver_last_trigger(stack)

    assert _unused(cloud, stack) == {
        # Small batches never reach the batch-job path of the state machine.
        ("Workflow", "lambda:InvokeFunction", "RebuildOutputs"),
        ("Workflow", "iam:PassRole", "TranslateDataAccess"),
        ("Workflow", "translate:StartTextTranslationJob", "*"),
        ("Workflow", "translate:DescribeTextTranslationJob", "*"),
        ("Workflow", "translate:StopTextTranslationJob", "*"),
        # Only a file whose text Translate rejects in real time is quarantined from here.
        ("TranslateRealtime", "s3:PutObject", "CaptionsBucket/failed/*"),
        ("TranslateRealtime", "s3:PutObject", "CaptionsBucket/error-reports/*"),
    }
