"""IAM policy evaluation: wildcards, Not* elements, Deny over Allow and condition operators."""

from __future__ import annotations

from typing import Any

import pytest

from localcloud.core.policies import (
    Decision,
    Statement,
    UnsupportedConditionError,
    action_matches,
    conditions_match,
    evaluate,
    resource_matches,
    statements_of,
    wildcard_match,
)

BUCKET = "arn:aws:s3:::captions"


def _allow(
    action: str | list[str] = "s3:GetObject",
    resource: str | list[str] = f"{BUCKET}/*",
    **extra: Any,
) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def _decide(
    statements: list[dict[str, Any]],
    action: str,
    resource: str,
    context: dict[str, Any] | None = None,
) -> Decision:
    document = {"Version": "2012-10-17", "Statement": statements}
    decision, _ = evaluate(statements_of(document), action, resource, context or {})
    return decision


# --- wildcards -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("s3:GetObject", "s3:GetObject", True),
        ("s3:Get*", "s3:GetObjectVersion", True),
        ("s3:*Object", "s3:PutObject", True),
        ("s3:*Object", "s3:PutObjectAcl", False),
        ("s3:?etObject", "s3:GetObject", True),
        ("s3:?etObject", "s3:GGetObject", False),
        ("*", "sqs:SendMessage", True),
        ("s3:Get*", "sqs:GetQueueUrl", False),
    ],
)
def test_wildcard_patterns(pattern: str, value: str, expected: bool) -> None:
    assert wildcard_match(pattern, value) is expected


def test_regex_characters_in_a_pattern_are_literal() -> None:
    assert wildcard_match("arn:aws:s3:::a.b/(x)+", "arn:aws:s3:::a.b/(x)+")
    assert not wildcard_match("arn:aws:s3:::a.b/*", "arn:aws:s3:::aXb/key")
    assert not wildcard_match("arn:aws:s3:::a[bc]", "arn:aws:s3:::ab")


def test_actions_match_case_insensitively() -> None:
    assert action_matches(["S3:getobject"], "s3:GetObject")
    assert action_matches(["states:start*"], "states:StartExecution")
    assert not action_matches(["s3:PutObject", "s3:DeleteObject"], "s3:GetObject")


def test_resources_match_case_sensitively() -> None:
    assert resource_matches([f"{BUCKET}/input/*"], f"{BUCKET}/input/a.vtt")
    assert not resource_matches([f"{BUCKET}/input/*"], f"{BUCKET}/Input/a.vtt")
    assert not resource_matches([f"{BUCKET}/INPUT/*"], f"{BUCKET}/input/a.vtt")


def test_question_mark_in_a_resource_matches_exactly_one_character() -> None:
    assert resource_matches([f"{BUCKET}/f?.vtt"], f"{BUCKET}/f1.vtt")
    assert not resource_matches([f"{BUCKET}/f?.vtt"], f"{BUCKET}/f12.vtt")
    assert not resource_matches([f"{BUCKET}/f?.vtt"], f"{BUCKET}/f.vtt")


def test_a_star_in_a_resource_crosses_slashes() -> None:
    assert resource_matches([f"{BUCKET}/batches/*/source/*"], f"{BUCKET}/batches/b1/source/x/y")


# --- statements and decisions --------------------------------------------------------------------


def test_an_allowing_statement_allows_and_is_returned() -> None:
    statements = statements_of(
        {"Statement": [_allow(["s3:GetObject", "s3:PutObject"])]}, "FunctionRole/Policy"
    )
    decision, allowing = evaluate(statements, "s3:PutObject", f"{BUCKET}/a", {})
    assert decision is Decision.ALLOW
    assert [s.source for s in allowing] == ["FunctionRole/Policy"]
    assert allowing[0].actions == ("s3:GetObject", "s3:PutObject")


def test_nothing_allowing_is_an_implicit_deny() -> None:
    statements = [_allow("s3:GetObject", f"{BUCKET}/input/*")]
    assert _decide(statements, "s3:GetObject", f"{BUCKET}/output/a") is Decision.NOT_ALLOWED
    assert _decide(statements, "s3:PutObject", f"{BUCKET}/input/a") is Decision.NOT_ALLOWED
    assert _decide([], "s3:GetObject", f"{BUCKET}/input/a") is Decision.NOT_ALLOWED


def test_an_explicit_deny_beats_any_allow() -> None:
    statements = [
        _allow("s3:*", "*"),
        {"Effect": "Deny", "Action": "s3:DeleteObject*", "Resource": f"{BUCKET}/output/*"},
        _allow("s3:DeleteObject", f"{BUCKET}/output/*"),
    ]
    decision, allowing = evaluate(
        statements_of({"Statement": statements}), "s3:DeleteObject", f"{BUCKET}/output/a", {}
    )
    assert (decision, allowing) == (Decision.DENY, [])
    assert _decide(statements, "s3:DeleteObject", f"{BUCKET}/input/a") is Decision.ALLOW


def test_not_action_allows_everything_except_the_listed_actions() -> None:
    statements = [{"Effect": "Allow", "NotAction": ["s3:Delete*"], "Resource": "*"}]
    assert _decide(statements, "s3:GetObject", f"{BUCKET}/a") is Decision.ALLOW
    assert _decide(statements, "sqs:SendMessage", "arn:aws:sqs:x") is Decision.ALLOW
    assert _decide(statements, "s3:DeleteObject", f"{BUCKET}/a") is Decision.NOT_ALLOWED


def test_not_resource_applies_everywhere_except_the_listed_resources() -> None:
    statements = [
        _allow("s3:*", "*"),
        {"Effect": "Deny", "Action": "s3:PutObject", "NotResource": [f"{BUCKET}/output/*"]},
    ]
    assert _decide(statements, "s3:PutObject", f"{BUCKET}/output/de/a.vtt") is Decision.ALLOW
    assert _decide(statements, "s3:PutObject", f"{BUCKET}/input/a.vtt") is Decision.DENY


def test_a_single_action_and_resource_may_be_plain_strings() -> None:
    statement = Statement.parse(_allow("sns:Publish", "arn:aws:sns:us-east-1:1:topic"), "p")
    assert statement.actions == ("sns:Publish",)
    assert statement.resources == ("arn:aws:sns:us-east-1:1:topic",)
    assert statement.source == "p"


# --- condition operators -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("conditions", "context", "expected"),
    [
        ({"StringEquals": {"s3:prefix": "input/"}}, {"s3:prefix": "input/"}, True),
        ({"StringEquals": {"s3:prefix": "input/"}}, {"s3:prefix": "Input/"}, False),
        ({"StringEquals": {"s3:prefix": ["a/", "input/"]}}, {"s3:prefix": "input/"}, True),
        ({"StringNotEquals": {"s3:prefix": "input/"}}, {"s3:prefix": "output/"}, True),
        ({"StringEqualsIgnoreCase": {"k": "Input"}}, {"k": "INPUT"}, True),
        (
            {"StringLike": {"s3:prefix": "batches/*/input/*"}},
            {"s3:prefix": "batches/b1/input/"},
            True,
        ),
        ({"StringLike": {"s3:prefix": "batches/*/input/*"}}, {"s3:prefix": "output/"}, False),
        ({"StringLike": {"s3:prefix": "f?"}}, {"s3:prefix": "f1"}, True),
        ({"StringLike": {"s3:prefix": "f?"}}, {"s3:prefix": "F1"}, False),
        ({"StringNotLike": {"s3:prefix": "input/*"}}, {"s3:prefix": "output/"}, True),
        (
            {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::captions*"}},
            {"aws:SourceArn": "arn:aws:s3:::captions-bucket"},
            True,
        ),
        (
            {"ArnLike": {"aws:SourceArn": "arn:aws:sqs:*:123456789012:*"}},
            {"aws:SourceArn": "arn:aws:sqs:us-east-1:999999999999:q"},
            False,
        ),
        (
            {"ArnEquals": {"aws:SourceArn": "arn:aws:sns:x"}},
            {"aws:SourceArn": "arn:aws:sns:x"},
            True,
        ),
        ({"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": "false"}, True),
        ({"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": True}, False),
        ({"Bool": {"aws:SecureTransport": True}}, {"aws:SecureTransport": "TRUE"}, True),
        ({"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "5"}, True),
        ({"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": 10}, False),
        ({"NumericLessThanEquals": {"s3:max-keys": 10}}, {"s3:max-keys": "10"}, True),
        ({"NumericGreaterThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "10.5"}, True),
    ],
)
def test_condition_operators(
    conditions: dict[str, Any], context: dict[str, Any], expected: bool
) -> None:
    assert conditions_match(conditions, context) is expected


def test_every_operator_and_every_key_must_match() -> None:
    conditions = {
        "StringEquals": {
            "iam:PassedToService": "translate.amazonaws.com",
            "aws:RequestedRegion": "us-east-1",
        },
        "Bool": {"aws:SecureTransport": "true"},
    }
    context = {
        "iam:PassedToService": "translate.amazonaws.com",
        "aws:RequestedRegion": "us-east-1",
        "aws:SecureTransport": "true",
    }
    assert conditions_match(conditions, context)
    assert not conditions_match(conditions, {**context, "aws:RequestedRegion": "eu-west-1"})
    assert not conditions_match(conditions, {**context, "aws:SecureTransport": "false"})


def test_no_conditions_always_match() -> None:
    assert conditions_match(None, {})
    assert conditions_match({}, {"k": "v"})


@pytest.mark.parametrize(
    "conditions",
    [
        {"StringEquals": {"s3:prefix": "input/"}},
        {"StringLike": {"s3:prefix": "*"}},
        {"ArnLike": {"aws:SourceArn": "*"}},
        {"Bool": {"aws:SecureTransport": "true"}},
        {"NumericLessThan": {"s3:max-keys": "10"}},
    ],
)
def test_a_key_missing_from_the_context_does_not_match(conditions: dict[str, Any]) -> None:
    assert conditions_match(conditions, {}) is False
    assert conditions_match(conditions, {"s3:prefix": None, "aws:SourceArn": None}) is False


def test_if_exists_matches_a_missing_key_and_checks_a_present_one() -> None:
    conditions = {"StringEqualsIfExists": {"s3:prefix": "input/"}}
    assert conditions_match(conditions, {})
    assert conditions_match(conditions, {"s3:prefix": "input/"})
    assert not conditions_match(conditions, {"s3:prefix": "output/"})
    numeric = {"NumericLessThanIfExists": {"s3:max-keys": "10"}}
    assert conditions_match(numeric, {})
    assert not conditions_match(numeric, {"s3:max-keys": "50"})


def test_null_checks_whether_a_key_is_present() -> None:
    assert conditions_match({"Null": {"s3:prefix": "true"}}, {})
    assert not conditions_match({"Null": {"s3:prefix": "true"}}, {"s3:prefix": "a"})
    assert conditions_match({"Null": {"s3:prefix": "false"}}, {"s3:prefix": "a"})
    assert not conditions_match({"Null": {"s3:prefix": "false"}}, {})


def test_for_any_value_needs_one_request_value_to_match() -> None:
    conditions = {"ForAnyValue:StringEquals": {"aws:TagKeys": ["team", "stage"]}}
    assert conditions_match(conditions, {"aws:TagKeys": ["owner", "stage"]})
    assert not conditions_match(conditions, {"aws:TagKeys": ["owner", "cost"]})
    assert not conditions_match(conditions, {})


def test_for_all_values_needs_every_request_value_to_match() -> None:
    conditions = {"ForAllValues:StringLike": {"aws:TagKeys": ["team*", "stage"]}}
    assert conditions_match(conditions, {"aws:TagKeys": ["team-a", "stage"]})
    assert not conditions_match(conditions, {"aws:TagKeys": ["team-a", "owner"]})
    assert conditions_match(conditions, {"aws:TagKeys": []})


def test_for_all_values_with_a_negated_operator_matches_a_missing_key() -> None:
    assert conditions_match({"ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"}}, {})


def test_for_all_values_matches_a_key_absent_from_the_request() -> None:
    assert conditions_match({"ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}}, {})


def test_for_any_value_with_a_negated_operator_does_not_match_an_absent_key() -> None:
    assert not conditions_match({"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["team"]}}, {})


def test_a_negated_operator_matches_a_key_absent_from_the_request() -> None:
    statements = [
        _allow("s3:GetObject", f"{BUCKET}/*"),
        {
            "Effect": "Deny",
            "Action": "s3:*",
            "Resource": "*",
            "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-1234"}},
        },
    ]
    assert _decide(statements, "s3:GetObject", f"{BUCKET}/a") is Decision.DENY


def test_string_like_treats_brackets_literally() -> None:
    assert conditions_match(
        {"StringLike": {"s3:prefix": "input/[draft]*"}}, {"s3:prefix": "input/[draft]a"}
    )


def test_a_condition_in_a_statement_limits_where_it_applies() -> None:
    statements = [
        _allow(
            "s3:ListBucket",
            BUCKET,
            Condition={"StringLike": {"s3:prefix": ["batches/*/translate-input/*"]}},
        )
    ]
    allowed = {"s3:prefix": "batches/b1/translate-input/"}
    assert _decide(statements, "s3:ListBucket", BUCKET, allowed) is Decision.ALLOW
    assert _decide(statements, "s3:ListBucket", BUCKET, {"s3:prefix": ""}) is Decision.NOT_ALLOWED
    assert _decide(statements, "s3:ListBucket", BUCKET) is Decision.NOT_ALLOWED


def test_an_unsupported_operator_is_reported() -> None:
    with pytest.raises(UnsupportedConditionError, match="IpAddress"):
        conditions_match(
            {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"aws:SourceIp": "10.1.2.3"}
        )
