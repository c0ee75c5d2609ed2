"""Resource-based policy evaluation: who a Principal names, and how a service's delivery is
decided by a topic, queue or function policy."""

from __future__ import annotations

from typing import Any

import pytest

from localcloud.core.delivery import service_request_context
from localcloud.core.policies import Caller, Decision, evaluate_resource_policy, principal_matches

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/service-role/Worker"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/Worker/job-42"
USER = f"arn:aws:iam::{ACCOUNT}:user/alice"
CLOUDWATCH = Caller.of_service("cloudwatch.amazonaws.com")
TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:alarms"
ALARM = f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:dead-letters"


@pytest.mark.parametrize(
    ("principal", "caller", "expected"),
    [
        ("*", CLOUDWATCH, True),
        ({"AWS": "*"}, CLOUDWATCH, True),
        ({"AWS": "*"}, Caller.of_arn(USER), True),
        ({"Service": "cloudwatch.amazonaws.com"}, CLOUDWATCH, True),
        ({"Service": ["s3.amazonaws.com", "events.amazonaws.com"]}, CLOUDWATCH, False),
        ({"Service": "cloudwatch.amazonaws.com"}, Caller.of_arn(ROLE), False),
        # An account delegates to its IAM principals, never to a service principal.
        ({"AWS": ACCOUNT}, Caller.of_arn(SESSION), True),
        ({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, Caller.of_arn(USER), True),
        ({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, CLOUDWATCH, False),
        ({"AWS": "arn:aws:iam::999999999999:root"}, Caller.of_arn(USER), False),
        # A role ARN names the role and its sessions (the path is not part of a session ARN).
        ({"AWS": ROLE}, Caller.of_arn(SESSION), True),
        ({"AWS": ROLE}, Caller.of_arn(ROLE), True),
        ({"AWS": f"arn:aws:iam::{ACCOUNT}:role/Other"}, Caller.of_arn(SESSION), False),
        ({"AWS": USER}, Caller.of_arn(f"arn:aws:iam::{ACCOUNT}:user/bob"), False),
        ({"Federated": "cognito-identity.amazonaws.com"}, CLOUDWATCH, False),
    ],
)
def test_principal_elements_name_the_callers_iam_says(
    principal: Any, caller: Caller, expected: bool
) -> None:
    assert principal_matches(principal, caller) is expected


def _topic_policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


TLS_ONLY = {
    "Sid": "AllowPublishThroughSSLOnly",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "sns:Publish",
    "Resource": TOPIC,
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}
ALARMS_ALLOWED = {
    "Effect": "Allow",
    "Principal": {"Service": "cloudwatch.amazonaws.com"},
    "Action": "sns:Publish",
    "Resource": TOPIC,
    "Condition": {
        "ArnEquals": {"aws:SourceArn": [ALARM]},
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
    },
}


def _publish(document: dict[str, Any], source: str = ALARM, account: str = ACCOUNT) -> Decision:
    context = service_request_context("cloudwatch.amazonaws.com", source, account)
    decision, _ = evaluate_resource_policy(document, "SNS:Publish", TOPIC, CLOUDWATCH, context)
    return decision


def test_a_tls_only_topic_policy_lets_no_alarm_publish() -> None:
    assert _publish(_topic_policy(TLS_ONLY)) is Decision.NOT_ALLOWED


def test_a_cloudwatch_grant_lets_exactly_its_alarms_publish() -> None:
    policy = _topic_policy(TLS_ONLY, ALARMS_ALLOWED)
    assert _publish(policy) is Decision.ALLOW
    assert _publish(policy, source=f"{ALARM}-other") is Decision.NOT_ALLOWED
    other_account = "arn:aws:cloudwatch:us-east-1:999999999999:alarm:dead-letters"
    assert _publish(policy, source=other_account, account="999999999999") is Decision.NOT_ALLOWED


def test_snss_default_policy_admits_services_acting_for_the_owner_account() -> None:
    default = _topic_policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": ["SNS:Publish", "SNS:Subscribe"],
            "Resource": TOPIC,
            "Condition": {"StringEquals": {"AWS:SourceOwner": ACCOUNT}},
        }
    )
    context = service_request_context("cloudwatch.amazonaws.com", ALARM, ACCOUNT)
    decision, _ = evaluate_resource_policy(
        default, "sns:Publish", TOPIC, CLOUDWATCH, {**context, "aws:SourceOwner": ACCOUNT}
    )
    assert decision is Decision.ALLOW
    # S3 does not set the legacy key: the default policy does not admit bucket notifications.
    s3 = service_request_context("s3.amazonaws.com", "arn:aws:s3:::uploads", ACCOUNT)
    decision, _ = evaluate_resource_policy(
        default, "sns:Publish", TOPIC, Caller.of_service("s3.amazonaws.com"), s3
    )
    assert decision is Decision.NOT_ALLOWED


def test_an_explicit_deny_wins_and_not_principal_spares_the_named() -> None:
    deny_others = {
        "Effect": "Deny",
        "NotPrincipal": {"Service": "cloudwatch.amazonaws.com"},
        "Action": "sns:Publish",
        "Resource": TOPIC,
    }
    everyone = {"Effect": "Allow", "Principal": "*", "Action": "sns:Publish", "Resource": TOPIC}
    policy = _topic_policy(everyone, deny_others)
    assert _publish(policy) is Decision.ALLOW
    s3 = service_request_context("s3.amazonaws.com", "arn:aws:s3:::uploads", ACCOUNT)
    decision, _ = evaluate_resource_policy(
        policy, "sns:Publish", TOPIC, Caller.of_service("s3.amazonaws.com"), s3
    )
    assert decision is Decision.DENY


def test_a_lambda_permission_checks_the_source_arn_lambda_writes() -> None:
    # What AddPermission stores for Principal=events.amazonaws.com with a SourceArn.
    function = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:recorder"
    rule = f"arn:aws:events:us-east-1:{ACCOUNT}:rule/probe"
    policy = {
        "Statement": [
            {
                "Sid": "allow-rule",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "lambda:InvokeFunction",
                "Resource": function,
                "Condition": {"ArnLike": {"AWS:SourceArn": rule}},
            }
        ]
    }
    events = Caller.of_service("events.amazonaws.com")
    for source, expected in ((rule, Decision.ALLOW), (f"{rule}-2", Decision.NOT_ALLOWED)):
        context = service_request_context("events.amazonaws.com", source, ACCOUNT)
        decision, _ = evaluate_resource_policy(
            policy, "lambda:InvokeFunction", function, events, context
        )
        assert decision is expected
    assert evaluate_resource_policy(None, "lambda:InvokeFunction", function, events, {})[0] is (
        Decision.NOT_ALLOWED
    )
