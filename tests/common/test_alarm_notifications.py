"""Every alarm of every synthesized template reaches a topic CloudWatch may publish to.

The topic policies (and KMS key policies) are evaluated with the local cloud's resource-policy
evaluator for the request CloudWatch makes when the alarm fires, not matched as strings.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_kms as kms

from localcloud.core.assembly import CloudAssembly
from localcloud.core.delivery import TOPIC_KEY_ACTIONS, service_request_context
from localcloud.core.policies import Caller, Decision, evaluate_resource_policy
from localcloud.core.template import ResourceState, StackContext, resolve
from stacks.constructs.topic import NotificationTopic

pytestmark = pytest.mark.synth

ACCOUNT, REGION = "123456789012", "us-east-1"
CLOUDWATCH = Caller.of_service("cloudwatch.amazonaws.com")


class _AnyAttribute(dict[str, Any]):
    """Attributes of a resource the check does not care about: any name, a placeholder."""

    def __init__(self, logical_id: str, **known: Any) -> None:
        super().__init__(known)
        self.logical_id = logical_id

    def __contains__(self, key: object) -> bool:
        return True

    def __missing__(self, key: str) -> str:
        return f"{self.logical_id}.{key}"


def _rendered(template: dict[str, Any]) -> StackContext:
    """The template's resources with the physical ids and ARNs CloudFormation would give them
    (names are the logical ids), so intrinsic functions resolve to comparable ARNs."""
    ctx = StackContext(stack_name="Checked", account_id=ACCOUNT, region=REGION)
    for logical_id, resource in template["Resources"].items():
        kind = resource["Type"]
        if kind == "AWS::SNS::Topic":
            arn = f"arn:aws:sns:{REGION}:{ACCOUNT}:{logical_id}"
            state = ResourceState(logical_id, kind, arn, _AnyAttribute(logical_id, TopicArn=arn))
        elif kind == "AWS::CloudWatch::Alarm":
            arn = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{logical_id}"
            state = ResourceState(logical_id, kind, logical_id, _AnyAttribute(logical_id, Arn=arn))
        elif kind == "AWS::KMS::Key":
            arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{logical_id}"
            state = ResourceState(logical_id, kind, logical_id, _AnyAttribute(logical_id, Arn=arn))
        else:
            state = ResourceState(logical_id, kind, logical_id, _AnyAttribute(logical_id))
        ctx.resources[logical_id] = state
    return ctx


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def unreachable_alarms(template: dict[str, Any]) -> list[str]:
    """Alarms with no action CloudWatch may carry out: each problem, named."""
    ctx = _rendered(template)
    topic_policies: dict[str, dict[str, Any]] = {}
    for policy in _of_type(template, "AWS::SNS::TopicPolicy").values():
        props = resolve(policy["Properties"], ctx)
        for topic_arn in props["Topics"]:
            assert topic_arn not in topic_policies, f"two policies for {topic_arn}: one replaces"
            topic_policies[topic_arn] = props["PolicyDocument"]
    keys = {}  # a key named by its id or its ARN -> (ARN, key policy)
    for k, v in _of_type(template, "AWS::KMS::Key").items():
        arn = ctx.resources[k].attributes["Arn"]
        keys[arn] = keys[ctx.resources[k].ref] = (arn, resolve(v["Properties"]["KeyPolicy"], ctx))
    topic_keys = {
        ctx.resources[k].ref: resolve(v.get("Properties", {}).get("KmsMasterKeyId"), ctx)
        for k, v in _of_type(template, "AWS::SNS::Topic").items()
    }
    problems = []
    for logical_id, alarm in _of_type(template, "AWS::CloudWatch::Alarm").items():
        alarm_arn = ctx.resources[logical_id].attributes["Arn"]
        context = service_request_context("cloudwatch.amazonaws.com", alarm_arn, ACCOUNT)
        actions = resolve(alarm["Properties"].get("AlarmActions", []), ctx)
        reasons = []
        for topic in actions:
            if topic not in topic_policies:
                reasons.append(f"{topic} has no topic policy of the stack's")
                continue
            decision, _ = evaluate_resource_policy(
                topic_policies[topic], "sns:Publish", topic, CLOUDWATCH, context
            )
            if decision is not Decision.ALLOW:
                reasons.append(f"the policy of {topic}: {decision.value}")
                continue
            key = topic_keys.get(topic)
            if key is not None:
                key_arn, policy = keys.get(key, (key, None))
                allowed = policy is not None and all(
                    evaluate_resource_policy(policy, action, key_arn, CLOUDWATCH, context)[0]
                    is Decision.ALLOW
                    for action in TOPIC_KEY_ACTIONS
                )
                if not allowed:
                    reasons.append(f"the key {key} of {topic} does not let CloudWatch use it")
                    continue
            break  # this action reaches its topic
        else:
            problems.append(f"{logical_id}: " + ("; ".join(reasons) or "no alarm action"))
    return problems


def foreign_alarms_allowed(template: dict[str, Any]) -> list[str]:
    """Topic policies that let CloudWatch publish for alarms other than the stack's own."""
    ctx = _rendered(template)
    strangers = [
        (f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:someone-elses-alarm", ACCOUNT),
        (f"arn:aws:cloudwatch:{REGION}:999999999999:alarm:cross-account", "999999999999"),
    ]
    found = []
    for policy in _of_type(template, "AWS::SNS::TopicPolicy").values():
        props = resolve(policy["Properties"], ctx)
        for topic in props["Topics"]:
            for source, account in strangers:
                context = service_request_context("cloudwatch.amazonaws.com", source, account)
                decision, _ = evaluate_resource_policy(
                    props["PolicyDocument"], "sns:Publish", topic, CLOUDWATCH, context
                )
                if decision is Decision.ALLOW:
                    found.append(f"{topic} accepts {source}")
    return found


def _templates(assembly_dir: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    for artifact in CloudAssembly(assembly_dir).stacks():
        yield artifact.stack_name, artifact.template


def test_every_alarm_of_every_stack_notifies_a_topic_cloudwatch_may_publish_to(
    assembly_dir: Path,
) -> None:
    problems, alarms = [], 0
    for name, template in _templates(assembly_dir):
        alarms += len(_of_type(template, "AWS::CloudWatch::Alarm"))
        problems += [f"{name}/{p}" for p in unreachable_alarms(template)]
    assert alarms >= 11  # the dead-letter and workflow-failure alarms of the six workflows
    assert problems == [], "\n".join(problems)


def test_alarm_topics_accept_only_their_own_alarms(assembly_dir: Path) -> None:
    problems = []
    for name, template in _templates(assembly_dir):
        problems += [f"{name}: {p}" for p in foreign_alarms_allowed(template)]
    assert problems == []


def _tls_only_topic(alarm_action: bool) -> dict[str, Any]:
    """What `enforce_ssl=True` alone gives a topic: a policy holding only the TLS Deny."""
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:Topic"
    return {
        "Resources": {
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {}},
            "TopicPolicy": {
                "Type": "AWS::SNS::TopicPolicy",
                "Properties": {
                    "Topics": [{"Ref": "Topic"}],
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "AllowPublishThroughSSLOnly",
                                "Effect": "Deny",
                                "Principal": "*",
                                "Action": "sns:Publish",
                                "Resource": topic,
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        ],
                    },
                },
            },
            "Alarm": {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {"AlarmActions": [{"Ref": "Topic"}] if alarm_action else []},
            },
        }
    }


def test_the_check_catches_a_tls_only_topic_policy_and_a_missing_action() -> None:
    (blocked,) = unreachable_alarms(_tls_only_topic(alarm_action=True))
    assert "not-allowed" in blocked
    (silent,) = unreachable_alarms(_tls_only_topic(alarm_action=False))
    assert "no alarm action" in silent


def _synth(build: Any) -> dict[str, Any]:
    app = App()
    stack = Stack(app, "Probe")
    build(stack)
    return dict(app.synth().get_stack_by_name("Probe").template)


def _alarm(stack: Stack, construct_id: str) -> cloudwatch.Alarm:
    return cloudwatch.Alarm(
        stack,
        construct_id,
        metric=cloudwatch.Metric(namespace="Probe", metric_name="Errors"),
        threshold=1,
        evaluation_periods=1,
    )


def test_an_encrypted_notification_topic_lets_cloudwatch_use_its_key() -> None:
    def build(stack: Stack) -> None:
        topic = NotificationTopic(stack, "Topic", master_key=kms.Key(stack, "Key"))
        topic.notify_on_alarm(_alarm(stack, "First"))
        topic.notify_on_alarm(_alarm(stack, "Second"))

    template = _synth(build)
    assert unreachable_alarms(template) == []
    assert foreign_alarms_allowed(template) == []

    # Without the key statement, the same topic is unreachable.
    (key,) = _of_type(template, "AWS::KMS::Key").values()
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    key["Properties"]["KeyPolicy"]["Statement"] = [
        s for s in statements if s.get("Sid") != "AllowAlarmNotificationsToEncryptedTopic"
    ]
    problems = unreachable_alarms(template)
    assert len(problems) == 2 and all("does not let CloudWatch use it" in p for p in problems)
