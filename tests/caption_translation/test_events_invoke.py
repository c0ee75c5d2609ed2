"""The committed test events, invoked as the events README says, on the local cloud as they are:
their resource names are the local cloud's, so nothing needs rewriting."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.caption_translation.helpers import (
    GOOD_SAMPLES,
    caption_outputs,
    deploy,
    samples,
)
from tests.conftest import DEFAULT_STACK

EVENTS = Path(__file__).resolve().parents[2] / "events" / "caption_translation"
pytestmark = [pytest.mark.workflow, pytest.mark.xdist_group("captions")]


def _readme_function(event: str) -> str:
    """The function name the events README's command for this event invokes."""
    readme = (EVENTS.parent / "README.md").read_text()
    command = re.search(
        rf"--function-name (\S+) \\\n[^\n]*fileb://events/caption_translation/{event}", readme
    )
    assert command, f"the README has no command for {event}"
    return command.group(1)


def test_the_start_batch_event_starts_a_batch_that_translates_the_waiting_files(
    cloud: Any,
) -> None:
    stack = deploy(cloud, DEFAULT_STACK)
    event = json.loads((EVENTS / "start_batch" / "trigger_file.json").read_text())
    body = json.loads(event["Records"][0]["body"])
    assert body["Records"][0]["s3"]["bucket"]["name"] == stack.bucket  # the names match as is
    stack.upload(samples(GOOD_SAMPLES[:2]))

    function = _readme_function("start_batch/trigger_file.json")
    response = cloud.client("lambda").invoke(
        FunctionName=function, Payload=json.dumps(event).encode()
    )
    cloud.settle()

    assert "FunctionError" not in response, response["Payload"].read()
    assert json.loads(response["Payload"].read()) == {"batchItemFailures": []}
    (execution,) = stack.executions()
    assert execution["status"] == "SUCCEEDED"
    assert len(caption_outputs(stack.keys("output/"))) == 2 * 2  # two files, es and fr
    assert stack.keys("input/") == []
