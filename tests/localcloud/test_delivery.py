"""The local cloud delivers events the way AWS does, measured on a small probe stack."""

from __future__ import annotations

import json
from typing import Any

import pytest

from localcloud.cloud import LocalCloud

pytestmark = [pytest.mark.workflow, pytest.mark.xdist_group("probe")]


def _queue_url(cloud: LocalCloud, stack: Any, prefix: str) -> str:
    (name,) = [
        state.attributes["QueueName"]
        for logical_id, state in stack.resources_of_type("AWS::SQS::Queue").items()
        if logical_id.startswith(prefix)
    ]
    return str(cloud.client("sqs").get_queue_url(QueueName=name)["QueueUrl"])


def _bodies(cloud: LocalCloud, queue_url: str) -> list[str]:
    messages = cloud.client("sqs").receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
    )
    return sorted(m["Body"] for m in messages.get("Messages", []))


def _invocations(cloud: LocalCloud, logical_prefix: str) -> list[tuple[Any, Any]]:
    return [
        (event, result)
        for name, event, result in cloud.runtime.invocations
        if cloud.runtime.functions[name].logical_id.startswith(logical_prefix)
    ]


def test_partial_batch_failures_are_retried_then_dead_lettered(probe: Any) -> None:
    cloud, stack = probe
    work = _queue_url(cloud, stack, "Work")
    sqs = cloud.client("sqs")
    for body in ("one", "fail-two", "three"):
        sqs.send_message(QueueUrl=work, MessageBody=body)
    cloud.settle()

    received = [
        record["body"]
        for event, _ in _invocations(cloud, "Consumer")
        for record in event["Records"]
    ]
    assert received.count("one") == 1 and received.count("three") == 1
    assert received.count("fail-two") == 2  # maxReceiveCount
    assert _bodies(cloud, _queue_url(cloud, stack, "DeadLetters")) == ["fail-two"]
    records = [r for e, _ in _invocations(cloud, "Consumer") for r in e["Records"]]
    second = [r for r in records if r["body"] == "fail-two"][1]
    assert second["attributes"]["ApproximateReceiveCount"] == "2"
    assert second["eventSource"] == "aws:sqs"


def test_a_crashing_batch_is_redelivered_whole(probe: Any) -> None:
    cloud, stack = probe
    work = _queue_url(cloud, stack, "Work")
    sqs = cloud.client("sqs")
    lambda_client = cloud.client("lambda")
    (mapping,) = lambda_client.list_event_source_mappings(
        EventSourceArn=sqs.get_queue_attributes(QueueUrl=work, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
    )["EventSourceMappings"]
    # SQS may hand a batch's messages to separate receives: with the mapping paused while they
    # are sent, the first poll takes both.
    lambda_client.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
    sqs.send_message_batch(
        QueueUrl=work,
        Entries=[{"Id": "a", "MessageBody": "crash"}, {"Id": "b", "MessageBody": "innocent"}],
    )
    lambda_client.update_event_source_mapping(UUID=mapping["UUID"], Enabled=True)
    cloud.settle()
    first = _invocations(cloud, "Consumer")[0][0]
    assert sorted(record["body"] for record in first["Records"]) == ["crash", "innocent"]
    # Nothing of the failed batch was deleted: both messages came back. SQS does not promise
    # to hand them back together, so "innocent" either shared every delivery with "crash" (and
    # was dead-lettered with it) or was received alone once and processed.
    invocations = _invocations(cloud, "Consumer")
    with_innocent = [
        result
        for event, result in invocations
        if "innocent" in [record["body"] for record in event["Records"]]
    ]
    assert len(with_innocent) >= 2
    dead = _bodies(cloud, _queue_url(cloud, stack, "DeadLetters"))
    assert dead in (["crash"], ["crash", "innocent"])
    assert ("innocent" in dead) == all(result.failed for result in with_innocent)
    assert all(
        result.failed
        for event, result in invocations
        if "crash" in [record["body"] for record in event["Records"]]
    )


def test_asynchronous_failures_retry_twice_then_reach_the_destination(probe: Any) -> None:
    cloud, stack = probe
    function = stack.physical_id(
        next(k for k in stack.resources_of_type("AWS::Lambda::Function") if k.startswith("Async"))
    )
    lambda_client = cloud.client("lambda")
    lambda_client.invoke(
        FunctionName=function, InvocationType="Event", Payload=json.dumps({"fail": True})
    )
    lambda_client.invoke(FunctionName=function, InvocationType="Event", Payload=b"{}")
    cloud.settle()

    attempts = [event for event, _ in _invocations(cloud, "Async")]
    assert attempts.count({"fail": True}) == 3 and attempts.count({}) == 1
    (record,) = [json.loads(b) for b in _bodies(cloud, _queue_url(cloud, stack, "AsyncFailures"))]
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestPayload"] == {"fail": True}
    assert record["responsePayload"]["errorType"] == "ProbeError"


def test_sns_and_eventbridge_deliver_to_lambda(probe: Any) -> None:
    cloud, stack = probe
    (topic,) = [
        state
        for logical_id, state in stack.resources_of_type("AWS::SNS::Topic").items()
        if logical_id.startswith("Topic")
    ]
    cloud.client("sns").publish(TopicArn=topic.ref, Message="hello", Subject="greeting")
    cloud.client("events").put_events(
        Entries=[{"Source": "probe.test", "DetailType": "Probe", "Detail": '{"n": 1}'}]
    )
    cloud.client("events").put_events(
        Entries=[{"Source": "other.source", "DetailType": "Probe", "Detail": "{}"}]
    )
    cloud.settle()

    events = [event for event, _ in _invocations(cloud, "Recorder")]
    (sns_event,) = [e for e in events if "Records" in e]
    assert sns_event["Records"][0]["Sns"]["Message"] == "hello"
    assert sns_event["Records"][0]["Sns"]["TopicArn"] == topic.ref
    (rule_event,) = [e for e in events if "detail" in e]
    assert rule_event["source"] == "probe.test" and rule_event["detail"] == {"n": 1}


def test_schedules_fire_on_the_local_clock_and_waits_are_compressed(probe: Any) -> None:
    cloud, stack = probe
    sfn = cloud.client("stepfunctions")
    (machine,) = stack.resources_of_type("AWS::StepFunctions::StateMachine").values()
    cloud.clock.advance(3600)  # the hourly schedule comes due
    cloud.settle(timeout=30)
    executions = sfn.list_executions(stateMachineArn=machine.ref)["executions"]
    assert len(executions) >= 1
    described = sfn.describe_execution(executionArn=executions[0]["executionArn"])
    assert described["status"] == "SUCCEEDED"
    # A ten-minute Wait, in well under a second of real time.
    assert json.loads(described["output"]) == {"waited": True}
