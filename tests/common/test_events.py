"""The test events under events/: one or more for every Lambda entry point of every stack, each
shaped like the event AWS delivers to that function in the deployed stack, naming the local
cloud's resources of the default stage."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes import (
    APIGatewayProxyEvent,
    CloudFormationCustomResourceEvent,
    EventBridgeEvent,
    S3Event,
    SQSEvent,
)

from localcloud.core.provision import generated_name

REPO_ROOT = Path(__file__).resolve().parents[2]
EVENTS = REPO_ROOT / "events"
STAGE = "test"

pytestmark = pytest.mark.synth


@dataclass
class Entry:
    """A Lambda entry point of a stack and what triggers it there."""

    stack: str
    logical_id: str
    slug: str
    module: str
    queues: list[str] = field(default_factory=list)  # logical ids of its event source queues
    api: bool = False
    custom_resource: bool = False
    rule: bool = False
    payloads: list[dict[str, Any]] = field(default_factory=list)  # Step Functions Payloads


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(node=value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _target(value: Any) -> str | None:
    """The logical id a `Ref` or `Fn::GetAtt` names."""
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            return str(value["Fn::GetAtt"][0])
    return None


def entries(assembly_dir: Path) -> dict[tuple[str, str], Entry]:
    found: dict[tuple[str, str], Entry] = {}
    for path in sorted(assembly_dir.glob(f"*-{STAGE}.template.json")):
        stack = path.name.removesuffix(".template.json")
        resources: dict[str, Any] = json.loads(path.read_text())["Resources"]
        by_logical: dict[str, Entry] = {}
        for logical_id, resource in resources.items():
            handler = resource.get("Properties", {}).get("Handler", "")
            if resource["Type"] == "AWS::Lambda::Function" and handler.startswith("lambdas."):
                _, slug, module, _ = handler.split(".")
                entry = Entry(stack, logical_id, slug, module)
                by_logical[logical_id] = found[(slug, module)] = entry
        for resource in resources.values():
            props = resource.get("Properties", {})
            kind = resource["Type"]
            if kind == "AWS::Lambda::EventSourceMapping":
                entry = by_logical.get(_target(props["FunctionName"]) or "")
                if entry:
                    entry.queues.append(str(_target(props["EventSourceArn"])))
            elif kind == "AWS::ApiGateway::Method":
                uri = json.dumps(props.get("Integration", {}).get("Uri", ""))
                for logical_id, entry in by_logical.items():
                    entry.api = entry.api or f'"{logical_id}"' in uri
            elif kind.startswith("Custom::") or kind == "AWS::CloudFormation::CustomResource":
                entry = by_logical.get(_target(props.get("ServiceToken")) or "")
                if entry:
                    entry.custom_resource = True
            elif kind == "AWS::Events::Rule":
                for target in props.get("Targets", []):
                    entry = by_logical.get(_target(target["Arn"]) or "")
                    if entry:
                        entry.rule = True
            elif kind == "AWS::StepFunctions::StateMachine":
                for node in _walk(props.get("Definition", {})):
                    entry = by_logical.get(_target(node.get("FunctionName")) or "")
                    if entry and isinstance(node.get("Payload"), dict):
                        entry.payloads.append(node["Payload"])
    return found


def event_files(slug: str, module: str) -> list[Path]:
    return sorted((EVENTS / slug / module).glob("*.json"))


def queue_name(stack: str, logical_id: str) -> str:
    return generated_name(stack, logical_id, 80)  # as localcloud.core.provision names queues


def bucket_name(stack: str, logical_id: str) -> str:
    return generated_name(stack, logical_id, 63, lower=True)  # and buckets


def function_name(stack: str, logical_id: str) -> str:
    return generated_name(stack, logical_id, 64)  # and functions


def test_every_handler_module_of_every_stack_has_an_event(assembly_dir: Path) -> None:
    found = entries(assembly_dir)
    assert len(found) >= 16  # the five workflows' entry points
    missing = [f"{slug}/{module}" for slug, module in found if not event_files(slug, module)]
    assert missing == []


def test_every_event_file_belongs_to_a_handler(assembly_dir: Path) -> None:
    found = entries(assembly_dir)
    strays = [
        str(path.relative_to(EVENTS))
        for path in EVENTS.glob("*/*/*.json")
        if (path.parent.parent.name, path.parent.name) not in found
    ]
    assert strays == []


def _check_sqs(entry: Entry, event: dict[str, Any], resources: dict[str, Any]) -> None:
    sqs = SQSEvent(event)
    records = list(sqs.records)
    assert records, "an SQS event has records"
    for record in records:
        assert record.event_source == "aws:sqs"
        assert record.message_id and record.receipt_handle and record.attributes.sent_timestamp
        queue = record.event_source_arn.rsplit(":", 1)[-1]
        assert queue in [queue_name(entry.stack, q) for q in entry.queues]
        body = json.loads(record.body)
        if body.get("Event") == "s3:TestEvent":
            continue
        # S3 notifications to SQS carry S3's event in the body; the bucket is the one whose
        # notification configuration names this queue.
        notifying = [
            _target(r["Properties"]["BucketName"])
            for r in resources.values()
            if r["Type"] == "Custom::S3BucketNotifications"
            and any(
                _target(c["QueueArn"]) in entry.queues
                for c in r["Properties"]["NotificationConfiguration"].get("QueueConfigurations", [])
            )
        ]
        if not notifying:
            # A queue no bucket notifies carries the function's own messages (queued tickets).
            assert isinstance(body, dict) and body
            continue
        s3 = S3Event(body)
        for s3_record in s3.records:
            assert s3_record.event_name.startswith("ObjectCreated:")
            assert s3_record.s3.get_object.key and s3_record.s3.get_object.size >= 0
            bucket = s3_record.s3.bucket.name
            assert bucket in [bucket_name(entry.stack, str(b)) for b in notifying]
            assert s3_record.s3.bucket.arn == f"arn:aws:s3:::{bucket}"


def cases() -> list[Path]:
    return sorted(EVENTS.glob("*/*/*.json"))


@pytest.mark.parametrize("path", cases(), ids=lambda p: str(p.relative_to(EVENTS)))
def test_event_has_the_shape_its_trigger_delivers(assembly_dir: Path, path: Path) -> None:
    entry = entries(assembly_dir)[(path.parent.parent.name, path.parent.name)]
    event: dict[str, Any] = json.loads(path.read_text())
    resources = json.loads((assembly_dir / f"{entry.stack}.template.json").read_text())["Resources"]
    if entry.queues and "Records" in event:
        _check_sqs(entry, event, resources)
    elif entry.api:
        api = APIGatewayProxyEvent(event)
        assert api.http_method == "POST" and api.path and api.resource
        assert api.request_context.request_id and api.request_context.stage
        assert api.headers.get("Content-Type") == "application/json"
        assert isinstance(api.json_body, dict)
    elif entry.custom_resource:
        request = CloudFormationCustomResourceEvent(event)
        assert request.request_type in ("Create", "Update", "Delete")
        assert request.response_url and request.stack_id and request.logical_resource_id
        assert request.resource_type.startswith("Custom::")
        own = function_name(entry.stack, entry.logical_id)
        assert request.service_token.rsplit(":", 1)[-1] == own
        assert request.resource_properties
    elif entry.rule:
        bridge = EventBridgeEvent(event)
        assert bridge.get_id and bridge.source and bridge.detail_type and bridge.region
        assert bridge.account and bridge.time and isinstance(bridge.detail, dict)
    elif entry.payloads:
        # A Step Functions task receives its state's Payload: every key it names must be there.
        keys = [{k.removesuffix(".$") for k in payload} for payload in entry.payloads]
        assert any(required <= event.keys() for required in keys), keys
    else:
        # Invoked directly (by a user or another function): a JSON object.
        assert isinstance(event, dict) and event
