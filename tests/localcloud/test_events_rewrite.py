"""Rewriting a committed test event for a deployed stack, from CloudFormation's answers."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from localcloud.core.provision import generated_name
from localcloud.events import EventRewriteError, rewrite_file, workflow_of

REPO_ROOT = Path(__file__).resolve().parents[2]
EVENT = REPO_ROOT / "events" / "caption_translation" / "start_batch" / "trigger_file.json"
ACCOUNT, REGION = "210987654321", "eu-west-1"
LOCAL_NAME = re.compile(r"-test-[A-Za-z0-9]+-[0-9A-Fa-f]{12}\b")

pytestmark = pytest.mark.synth


def _physical_id(logical_id: str, kind: str) -> str:
    name = f"CaptionTranslation-dev-{logical_id[:20]}-AbCdEf123456"
    if kind == "AWS::SQS::Queue":
        return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"
    if kind == "AWS::S3::Bucket":
        return name.lower()
    if kind == "AWS::SNS::Topic":
        return f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}"
    return name


def _stubbed(assembly_dir: Path) -> tuple[Any, dict[str, str]]:
    template = json.loads((assembly_dir / "CaptionTranslation-test.template.json").read_text())
    client = boto3.client(
        "cloudformation",
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    stubber = Stubber(client)
    stack_arn = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/CaptionTranslation-dev/1a2b"
    stubber.add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackId": stack_arn,
                    "StackName": "CaptionTranslation-dev",
                    "CreationTime": "2026-12-01T10:00:00Z",
                    "StackStatus": "CREATE_COMPLETE",
                }
            ]
        },
        {"StackName": "CaptionTranslation-dev"},
    )
    physical = {
        logical_id: _physical_id(logical_id, resource["Type"])
        for logical_id, resource in template["Resources"].items()
    }
    stubber.add_response(
        "list_stack_resources",
        {
            "StackResourceSummaries": [
                {
                    "LogicalResourceId": logical_id,
                    "PhysicalResourceId": physical_id,
                    "ResourceType": template["Resources"][logical_id]["Type"],
                    "LastUpdatedTimestamp": "2026-12-01T10:00:00Z",
                    "ResourceStatus": "CREATE_COMPLETE",
                }
                for logical_id, physical_id in physical.items()
            ]
        },
        {"StackName": "CaptionTranslation-dev"},
    )
    stubber.activate()
    return client, physical


def test_an_event_names_the_deployed_stacks_resources_account_and_region(
    assembly_dir: Path,
) -> None:
    client, physical = _stubbed(assembly_dir)
    original = EVENT.read_text()
    local_queue = generated_name("CaptionTranslation-test", "TriggerQueueC383F09F", 80)
    assert local_queue in original

    rewritten = json.loads(rewrite_file(EVENT, "dev", client))

    (record,) = rewritten["Records"]
    queue = physical["TriggerQueueC383F09F"].rsplit("/", 1)[-1]
    assert record["eventSourceARN"] == f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}"
    assert record["awsRegion"] == REGION
    (s3_record,) = json.loads(record["body"])["Records"]
    bucket = next(p for logical, p in physical.items() if logical.startswith("CaptionsBucket"))
    assert s3_record["s3"]["bucket"]["name"] == bucket
    assert s3_record["s3"]["bucket"]["arn"] == f"arn:aws:s3:::{bucket}"
    assert s3_record["awsRegion"] == REGION
    assert s3_record["s3"]["object"]["key"] == "input/triggerfile"  # the rest is unchanged
    text = json.dumps(rewritten)
    assert not LOCAL_NAME.search(text) and "123456789012" not in text and "us-east-1" not in text


def test_a_file_outside_events_is_refused(tmp_path: Path) -> None:
    stray = tmp_path / "nowhere" / "x" / "event.json"
    stray.parent.mkdir(parents=True)
    stray.write_text("{}")
    with pytest.raises(EventRewriteError, match="not a test event"):
        workflow_of(stray)
