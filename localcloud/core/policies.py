"""IAM policy evaluation, for identity policies (the least-privilege check) and bucket policies.

Implements the parts of the IAM evaluation logic the project's policies use: Action/NotAction
and Resource/NotResource with `*` and `?` wildcards, explicit Deny over Allow, and condition
operators (String*, Arn*, Bool, Numeric*, with `IfExists` and `ForAnyValue:`/`ForAllValues:`).
A condition key absent from the request context matches only negated operators,
`ForAllValues:` and `...IfExists` (as on AWS). Policy variables (`${aws:username}`) are not
expanded.

Resource-based policies (topic, queue, KMS key and Lambda function policies) are evaluated for
one caller with `evaluate_resource_policy`: statements take part when their Principal names the
caller (`principal_matches`), then the same Deny-over-Allow logic decides.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any


class Decision(Enum):
    ALLOW = "allow"
    DENY = "deny"  # an explicit Deny applies
    NOT_ALLOWED = "not-allowed"  # no statement allows it (implicit deny)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def wildcard_match(pattern: str, value: str, case_sensitive: bool = True) -> bool:
    regex = "^" + re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".") + "$"
    return re.match(regex, value, 0 if case_sensitive else re.IGNORECASE) is not None


def action_matches(patterns: Iterable[str], action: str) -> bool:
    return any(wildcard_match(p, action, case_sensitive=False) for p in patterns)


def resource_matches(patterns: Iterable[str], resource: str) -> bool:
    return any(wildcard_match(p, resource) for p in patterns)


def _values(value: Any) -> list[str]:
    return [str(v).lower() if isinstance(v, bool) else str(v) for v in _as_list(value)]


def _compare(operator: str, expected: list[str], actual: str) -> bool:
    base = operator
    if base in ("StringEquals", "ArnEquals"):
        return actual in expected
    if base in ("StringNotEquals", "ArnNotEquals"):
        return actual not in expected
    if base == "StringEqualsIgnoreCase":
        return actual.lower() in [e.lower() for e in expected]
    if base == "StringNotEqualsIgnoreCase":
        return actual.lower() not in [e.lower() for e in expected]
    if base in ("StringLike", "ArnLike"):
        return any(wildcard_match(e, actual) for e in expected)
    if base in ("StringNotLike", "ArnNotLike"):
        return not any(wildcard_match(e, actual) for e in expected)
    if base == "Bool":
        return actual.lower() in [e.lower() for e in expected]
    if base.startswith("Numeric"):
        try:
            number = float(actual)
        except ValueError:
            return False
        checks = {
            "NumericEquals": lambda e: number == e,
            "NumericNotEquals": lambda e: number != e,
            "NumericLessThan": lambda e: number < e,
            "NumericLessThanEquals": lambda e: number <= e,
            "NumericGreaterThan": lambda e: number > e,
            "NumericGreaterThanEquals": lambda e: number >= e,
        }
        return any(checks[base](float(e)) for e in expected)
    raise UnsupportedConditionError(operator)


class UnsupportedConditionError(ValueError):
    """A condition operator this evaluator does not implement."""


def conditions_match(conditions: Mapping[str, Any] | None, context: Mapping[str, Any]) -> bool:
    context = {key.lower(): value for key, value in context.items()}  # keys are case-insensitive
    for raw_operator, entries in (conditions or {}).items():
        operator = raw_operator
        set_mode = None
        if ":" in operator:
            set_mode, operator = operator.split(":", 1)
        if_exists = operator.endswith("IfExists")
        if if_exists:
            operator = operator[: -len("IfExists")]
        for raw_key, expected_raw in entries.items():
            key = raw_key.lower()
            expected = _values(expected_raw)
            present = key in context and context[key] is not None
            if not present:
                # AWS: an absent key makes ForAllValues true and ForAnyValue false; a plain
                # negated operator (StringNotEquals, ArnNotLike, ...) matches it; `...IfExists`
                # skips the check; anything else does not match.
                if operator == "Null":
                    if "true" in [e.lower() for e in expected]:
                        continue
                    return False
                if set_mode == "ForAllValues" or if_exists:
                    continue
                if set_mode == "ForAnyValue":
                    return False
                if "Not" in operator:
                    continue
                return False
            if operator == "Null":
                if "false" not in [e.lower() for e in expected]:
                    return False
                continue
            actual_values = _values(context[key])
            if set_mode == "ForAllValues":
                if not all(_compare(operator, expected, a) for a in actual_values):
                    return False
            elif not any(_compare(operator, expected, a) for a in actual_values):
                return False
    return True


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...]
    not_actions: tuple[str, ...]
    resources: tuple[str, ...]
    not_resources: tuple[str, ...]
    conditions: Mapping[str, Any] | None
    principal: Any = None
    source: str = ""  # which policy it came from, for reports

    @classmethod
    def parse(cls, statement: Mapping[str, Any], source: str = "") -> Statement:
        return cls(
            effect=str(statement["Effect"]),
            actions=tuple(_as_list(statement.get("Action"))),
            not_actions=tuple(_as_list(statement.get("NotAction"))),
            resources=tuple(str(r) for r in _as_list(statement.get("Resource"))),
            not_resources=tuple(str(r) for r in _as_list(statement.get("NotResource"))),
            conditions=statement.get("Condition"),
            principal=statement.get("Principal"),
            source=source,
        )

    def applies(self, action: str, resource: str, context: Mapping[str, Any]) -> bool:
        if self.actions and not action_matches(self.actions, action):
            return False
        if self.not_actions and action_matches(self.not_actions, action):
            return False
        if self.resources and not resource_matches(self.resources, resource):
            return False
        if self.not_resources and resource_matches(self.not_resources, resource):
            return False
        return conditions_match(self.conditions, context)


def statements_of(document: Mapping[str, Any], source: str = "") -> list[Statement]:
    return [Statement.parse(s, source) for s in _as_list(document.get("Statement"))]


def evaluate(
    statements: Iterable[Statement], action: str, resource: str, context: Mapping[str, Any]
) -> tuple[Decision, list[Statement]]:
    """The decision and the statements that allowed it (empty unless ALLOW)."""
    allowing: list[Statement] = []
    for statement in statements:
        if not statement.applies(action, resource, context):
            continue
        if statement.effect == "Deny":
            return Decision.DENY, []
        allowing.append(statement)
    return (Decision.ALLOW, allowing) if allowing else (Decision.NOT_ALLOWED, [])


# --- resource-based policies ---------------------------------------------------------------------
# A resource-based policy (topic, queue, key, Lambda function policy) names who it applies to in
# its Principal element. The forms and what they match are those of the IAM reference, "AWS JSON
# policy elements: Principal"
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html):
# an account (its 12-digit id or `arn:aws:iam::<id>:root`) delegates to every IAM principal of
# that account; a role ARN matches the role and its sessions; `Service` names a service
# principal; `"*"` and `{"AWS": "*"}` are all principals, services and anonymous callers too.

_ACCOUNT_ID = re.compile(r"^\d{12}$")
_ACCOUNT_ROOT = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):root$")
_ROLE = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/(?:.*/)?([^/]+)$")
_ASSUMED_ROLE = re.compile(r"^arn:aws[a-z-]*:sts::(\d{12}):assumed-role/([^/]+)/[^/]+$")
_IAM_PRINCIPAL = re.compile(r"^arn:aws[a-z-]*:(?:iam|sts)::(\d{12}):")


@dataclass(frozen=True)
class Caller:
    """Who makes a request, as a resource-based policy sees it: an AWS service principal
    (`s3.amazonaws.com`) delivering on a resource's behalf, or an IAM principal ARN."""

    service: str | None = None
    arn: str | None = None

    @classmethod
    def of_service(cls, service_principal: str) -> Caller:
        return cls(service=service_principal)

    @classmethod
    def of_arn(cls, principal_arn: str) -> Caller:
        return cls(arn=principal_arn)

    @property
    def account(self) -> str | None:
        match = _IAM_PRINCIPAL.match(self.arn or "")
        return match.group(1) if match else None

    def __str__(self) -> str:
        return self.service or self.arn or "anonymous"


def _aws_principal_matches(entry: str, caller: Caller) -> bool:
    if entry == "*":
        return True
    if caller.arn is None:  # a service principal is named only by `Service` or "*"
        return False
    root = _ACCOUNT_ROOT.match(entry)
    if _ACCOUNT_ID.match(entry) or root:
        return caller.account == (root.group(1) if root else entry)
    role = _ROLE.match(entry)
    if role:
        if caller.arn == entry:
            return True
        session = _ASSUMED_ROLE.match(caller.arn)
        return bool(session and session.groups() == role.groups())
    return caller.arn == entry


def principal_matches(principal: Any, caller: Caller) -> bool:
    """Whether a statement's Principal (or NotPrincipal) element names the caller."""
    if principal == "*":
        return True
    if isinstance(principal, str):  # a bare account id or ARN, as Lambda writes some
        return _aws_principal_matches(principal, caller)
    if not isinstance(principal, Mapping):
        return False
    for kind, entries in principal.items():
        values = [str(entry) for entry in _as_list(entries)]
        if kind == "AWS" and any(_aws_principal_matches(v, caller) for v in values):
            return True
        service = (caller.service or "").lower()
        if kind == "Service" and service and service in (v.lower() for v in values):
            return True
        # Federated and CanonicalUser principals never make the requests evaluated here.
    return False


def evaluate_resource_policy(
    document: Mapping[str, Any] | None,
    action: str,
    resource: str,
    caller: Caller,
    context: Mapping[str, Any],
    source: str = "",
) -> tuple[Decision, list[Statement]]:
    """Evaluate a resource-based policy for one request: only statements whose Principal names
    the caller (or whose NotPrincipal does not) take part; an explicit Deny wins over any
    Allow; no policy, or no statement that allows, is an implicit deny."""
    relevant: list[Statement] = []
    for raw in _as_list((document or {}).get("Statement")):
        if "NotPrincipal" in raw:
            names_caller = not principal_matches(raw["NotPrincipal"], caller)
        else:
            names_caller = "Principal" in raw and principal_matches(raw["Principal"], caller)
        if names_caller:
            relevant.append(Statement.parse(raw, source))
    return evaluate(relevant, action, resource, context)
