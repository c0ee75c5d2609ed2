"""Service-to-service deliveries on the local cloud are authorized by the target's resource
policy, as on AWS, and alarms fire on the local clock: measured on the probe stack."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localcloud.cloud import DeployedStack, LocalCloud
from localcloud.core.delivery import wait_until

pytestmark = [pytest.mark.workflow, pytest.mark.xdist_group("probe")]

ACCOUNT, REGION = "123456789012", "us-east-1"


def _resource(stack: DeployedStack, resource_type: str, prefix: str) -> Any:
    (state,) = [
        state
        for logical_id, state in stack.resources_of_type(resource_type).items()
        if logical_id.startswith(prefix)
    ]
    return state


def _queue(cloud: LocalCloud, name: str, policy: dict[str, Any] | None = None) -> tuple[str, str]:
    sqs = cloud.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    if policy is not None:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    return url, f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


def _allow(service: str, action: str, resource: str, source_arn: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": action,
                "Resource": resource,
                "Condition": {"ArnEquals": {"aws:SourceArn": source_arn}},
            }
        ],
    }


def _messages(cloud: LocalCloud, url: str) -> list[dict[str, Any]]:
    response = cloud.client("sqs").receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=10,
        WaitTimeSeconds=0,
        MessageAttributeNames=["All"],
    )
    return list(response.get("Messages", []))


def _denied(cloud: LocalCloud, target: str) -> list[Any]:
    return [d for d in cloud.delivery.denied if d.target == target]


def _recorded(cloud: LocalCloud, stack: DeployedStack) -> list[Any]:
    recorder = _resource(stack, "AWS::Lambda::Function", "Recorder").ref
    return [event for name, event, _ in cloud.runtime.invocations if name == recorder]


def test_s3_notifies_only_destinations_whose_policy_allows_the_bucket(probe: Any) -> None:
    cloud, stack = probe
    s3 = cloud.client("s3")
    for bucket in ("uploads", "elsewhere"):
        s3.create_bucket(Bucket=bucket)
    url, queue = _queue(cloud, "uploads-inbox")
    cloud.client("sqs").set_queue_attributes(
        QueueUrl=url,
        Attributes={
            "Policy": json.dumps(
                _allow("s3.amazonaws.com", "sqs:SendMessage", queue, "arn:aws:s3:::uploads")
            )
        },
    )
    to_queue = {"QueueConfigurations": [{"QueueArn": queue, "Events": ["s3:ObjectCreated:*"]}]}
    s3.put_bucket_notification_configuration(Bucket="uploads", NotificationConfiguration=to_queue)

    # S3 refuses a destination that does not let it deliver, and keeps no such configuration.
    with pytest.raises(ClientError) as refused:
        s3.put_bucket_notification_configuration(
            Bucket="elsewhere", NotificationConfiguration=to_queue
        )
    assert refused.value.response["Error"]["Code"] == "InvalidArgument"
    assert "QueueConfigurations" not in s3.get_bucket_notification_configuration(Bucket="elsewhere")
    recorder = _resource(stack, "AWS::Lambda::Function", "Recorder").attributes["Arn"]
    to_function = {
        "LambdaFunctionConfigurations": [
            {"LambdaFunctionArn": recorder, "Events": ["s3:ObjectCreated:*"]}
        ]
    }
    with pytest.raises(ClientError):  # its permissions name SNS and EventBridge only
        s3.put_bucket_notification_configuration(
            Bucket="elsewhere", NotificationConfiguration=to_function
        )

    s3.put_object(Bucket="uploads", Key="first.txt", Body=b"1")
    bodies = [json.loads(m["Body"]) for m in _messages(cloud, url)]
    assert bodies[0]["Event"] == "s3:TestEvent"
    assert bodies[1]["Records"][0]["s3"]["object"]["key"] == "first.txt"

    # Once the queue admits another bucket only, the next event is dropped, not delivered.
    cloud.client("sqs").set_queue_attributes(
        QueueUrl=url,
        Attributes={
            "Policy": json.dumps(
                _allow("s3.amazonaws.com", "sqs:SendMessage", queue, "arn:aws:s3:::elsewhere")
            )
        },
    )
    cloud.client("sqs").purge_queue(QueueUrl=url)
    s3.put_object(Bucket="uploads", Key="second.txt", Body=b"2")
    assert _messages(cloud, url) == []
    (denied,) = _denied(cloud, queue)
    assert (denied.service, denied.source, denied.action) == (
        "s3.amazonaws.com",
        "arn:aws:s3:::uploads",
        "sqs:SendMessage",
    )


def test_sns_delivers_only_to_subscribers_that_allow_the_topic(probe: Any) -> None:
    cloud, stack = probe
    sns = cloud.client("sns")
    topic = sns.create_topic(Name="elsewhere")["TopicArn"]
    url, queue = _queue(cloud, "subscriber")
    recorder = _resource(stack, "AWS::Lambda::Function", "Recorder").attributes["Arn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue)
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=recorder)

    sns.publish(TopicArn=topic, Message="not for you")
    cloud.settle()
    assert _messages(cloud, url) == []
    assert _recorded(cloud, stack) == []  # its permission names the probe's own topic only
    assert [d.source for d in _denied(cloud, queue)] == [topic]
    assert [d.action for d in _denied(cloud, recorder)] == ["lambda:InvokeFunction"]

    cloud.client("sqs").set_queue_attributes(
        QueueUrl=url,
        Attributes={"Policy": json.dumps(_allow("sns.amazonaws.com", "sqs:*", queue, topic))},
    )
    sns.publish(TopicArn=topic, Message="now allowed")
    (message,) = _messages(cloud, url)
    assert json.loads(message["Body"])["Message"] == "now allowed"


def test_eventbridge_reaches_targets_their_policies_allow_and_dead_letters_the_rest(
    probe: Any,
) -> None:
    cloud, stack = probe
    events = cloud.client("events")
    rule = events.put_rule(Name="other-events", EventPattern='{"source": ["probe.other"]}')[
        "RuleArn"
    ]
    recorder = _resource(stack, "AWS::Lambda::Function", "Recorder").attributes["Arn"]
    target_url, target = _queue(cloud, "rule-target")
    dlq_url, dlq = _queue(
        cloud, "rule-dead-letters", _allow("events.amazonaws.com", "sqs:SendMessage", "*", rule)
    )
    machine = _resource(stack, "AWS::StepFunctions::StateMachine", "Waiter").ref
    function_role = _resource(stack, "AWS::IAM::Role", "RecorderServiceRole").attributes["Arn"]
    events.put_targets(
        Rule="other-events",
        Targets=[
            {"Id": "function", "Arn": recorder, "DeadLetterConfig": {"Arn": dlq}},
            {"Id": "queue", "Arn": target},
            # A role only Lambda may assume: EventBridge cannot use it to start the machine.
            {"Id": "machine", "Arn": machine, "RoleArn": function_role},
        ],
    )

    events.put_events(Entries=[{"Source": "probe.other", "DetailType": "T", "Detail": "{}"}])
    cloud.settle()
    assert _recorded(cloud, stack) == []  # the Lambda permission names another rule
    assert _messages(cloud, target_url) == []  # the queue has no policy at all
    sfn = cloud.client("stepfunctions")
    started = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert [e for e in started if e["name"].startswith("other-events")] == []  # (hourly ones run)
    assert {d.target for d in cloud.delivery.denied} == {recorder, target, machine}
    (refused_role,) = _denied(cloud, machine)
    assert "trust policy" in refused_role.reason
    (dead,) = _messages(cloud, dlq_url)  # sent at once, without retries
    assert json.loads(dead["Body"])["source"] == "probe.other"
    attributes = {k: v["StringValue"] for k, v in dead["MessageAttributes"].items()}
    assert attributes["RULE_ARN"] == rule and attributes["TARGET_ARN"] == recorder

    cloud.client("sqs").set_queue_attributes(
        QueueUrl=target_url,
        Attributes={
            "Policy": json.dumps(_allow("events.amazonaws.com", "sqs:SendMessage", target, rule))
        },
    )
    events.put_events(Entries=[{"Source": "probe.other", "DetailType": "T", "Detail": "{}"}])
    cloud.settle()
    (delivered,) = _messages(cloud, target_url)
    assert json.loads(delivered["Body"])["detail-type"] == "T"


# --- alarms ------------------------------------------------------------------------------------
def _alarm(cloud: LocalCloud, stack: DeployedStack) -> Any:
    return cloud.delivery.alarms.alarms[
        _resource(stack, "AWS::CloudWatch::Alarm", "DeadLettersAlarm").ref
    ]


def _dead_letter_one(cloud: LocalCloud, stack: DeployedStack, body: str) -> None:
    work = _resource(stack, "AWS::SQS::Queue", "Work").ref
    cloud.client("sqs").send_message(QueueUrl=work, MessageBody=body)
    cloud.settle()  # two failed receives, then the dead-letter queue


def _wait_for_state(cloud: LocalCloud, stack: DeployedStack, state: str) -> None:
    alarm = _alarm(cloud, stack)
    cloud.clock.advance(60)  # the next evaluation
    assert wait_until(lambda: alarm.state == state, timeout=10), (alarm.state, alarm.reason)


def _alarm_notices(cloud: LocalCloud, stack: DeployedStack) -> list[dict[str, Any]]:
    operator = _resource(stack, "AWS::SQS::Queue", "Operator").ref
    notices = [json.loads(m["Body"]) for m in _messages(cloud, operator)]
    return [n for n in notices if json.loads(n["Message"])["NewStateValue"] == "ALARM"]


def _drain(cloud: LocalCloud, stack: DeployedStack) -> None:
    dead_letters = _resource(stack, "AWS::SQS::Queue", "DeadLetters").ref
    cloud.client("sqs").purge_queue(QueueUrl=dead_letters)
    _wait_for_state(cloud, stack, "OK")


def test_a_tls_only_topic_policy_silences_the_alarm_and_the_cloudwatch_grant_delivers_it(
    probe: Any,
) -> None:
    cloud, stack = probe
    sns = cloud.client("sns")
    topic = _resource(stack, "AWS::SNS::Topic", "Alarms").ref
    granted = sns.get_topic_attributes(TopicArn=topic)["Attributes"]["Policy"]
    tls_only = json.loads(granted)
    tls_only["Statement"] = [s for s in tls_only["Statement"] if s["Effect"] == "Deny"]
    alarm = _alarm(cloud, stack)

    # What enforce_ssl=True alone leaves: the TLS Deny replaces SNS's default policy.
    sns.set_topic_attributes(
        TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps(tls_only)
    )
    _dead_letter_one(cloud, stack, "fail-1")
    _wait_for_state(cloud, stack, "ALARM")
    assert _alarm_notices(cloud, stack) == []
    denied = [d for d in _denied(cloud, topic) if d.source == alarm.arn]
    assert denied and denied[0].service == "cloudwatch.amazonaws.com"
    assert "does not allow sns:Publish" in denied[0].reason

    _drain(cloud, stack)
    sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=granted)
    _dead_letter_one(cloud, stack, "fail-2")
    _wait_for_state(cloud, stack, "ALARM")
    (notice,) = _alarm_notices(cloud, stack)
    assert notice["Subject"] == f'ALARM: "{alarm.name}" in US East (N. Virginia)'
    message = json.loads(notice["Message"])
    assert message["AlarmArn"] == alarm.arn and message["OldStateValue"] == "OK"
    assert message["Trigger"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert "1 out of the last 1 datapoints" in message["NewStateReason"]
    described = cloud.client("cloudwatch").describe_alarms(AlarmNames=[alarm.name])
    assert described["MetricAlarms"][0]["StateValue"] == "ALARM"


def test_an_encrypted_alarm_topic_needs_a_key_policy_that_lets_cloudwatch_use_it(
    probe: Any,
) -> None:
    cloud, stack = probe
    kms, sns = cloud.client("kms"), cloud.client("sns")
    topic = _resource(stack, "AWS::SNS::Topic", "Alarms").ref
    key = kms.create_key(Description="alarm topic key")["KeyMetadata"]  # default key policy
    sns.set_topic_attributes(
        TopicArn=topic, AttributeName="KmsMasterKeyId", AttributeValue=key["Arn"]
    )

    _dead_letter_one(cloud, stack, "fail-1")
    _wait_for_state(cloud, stack, "ALARM")
    assert _alarm_notices(cloud, stack) == []
    assert any(f"key policy of {key['Arn']}" in d.reason for d in _denied(cloud, topic))

    policy = json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])
    policy["Statement"].append(
        {
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        }
    )
    kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=json.dumps(policy))
    _drain(cloud, stack)
    _dead_letter_one(cloud, stack, "fail-2")
    _wait_for_state(cloud, stack, "ALARM")
    assert len(_alarm_notices(cloud, stack)) == 1
