"""CloudFormation template evaluation: intrinsic functions, conditions and deployment order.

The local cloud deploys the templates `cdk synth` writes, as CloudFormation would: it resolves
`Ref`, `Fn::GetAtt`, `Fn::Sub`, `Fn::Join` and the other intrinsics against the resources it has
created so far, and creates resources in dependency order.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

NO_VALUE = object()  # AWS::NoValue: the property is removed
SUB_VARIABLE = re.compile(r"\$\{([^}]+)\}")


class TemplateError(ValueError):
    """The template cannot be evaluated (unknown reference, bad intrinsic)."""


@dataclass
class ResourceState:
    """What CloudFormation knows about a created resource: `Ref` value and attributes."""

    logical_id: str
    resource_type: str
    ref: str
    attributes: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass
class StackContext:
    stack_name: str
    account_id: str
    region: str
    parameters: dict[str, Any] = field(default_factory=dict)
    resources: dict[str, ResourceState] = field(default_factory=dict)
    exports: Mapping[str, Any] = field(default_factory=dict)
    conditions: dict[str, bool] = field(default_factory=dict)
    mappings: dict[str, Any] = field(default_factory=dict)
    condition_definitions: dict[str, Any] = field(default_factory=dict)

    def condition(self, name: str) -> bool:
        """A condition's value, evaluated on first use (conditions may refer to others)."""
        if name not in self.conditions:
            if name not in self.condition_definitions:
                raise TemplateError(f"unknown condition {name}")
            self.conditions[name] = bool(resolve(self.condition_definitions[name], self))
        return self.conditions[name]

    @property
    def stack_id(self) -> str:
        return (
            f"arn:aws:cloudformation:{self.region}:{self.account_id}:stack/"
            f"{self.stack_name}/00000000-0000-0000-0000-000000000000"
        )

    def pseudo(self, name: str) -> Any:
        values = {
            "AWS::AccountId": self.account_id,
            "AWS::Region": self.region,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.stack_name,
            "AWS::StackId": self.stack_id,
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }
        if name not in values:
            raise TemplateError(f"unknown pseudo parameter {name}")
        return values[name]


def resolve(node: Any, ctx: StackContext) -> Any:
    """Evaluate every intrinsic function in `node`; AWS::NoValue removes the entry."""
    if isinstance(node, list):
        items = [resolve(item, ctx) for item in node]
        return [item for item in items if item is not NO_VALUE]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        ((key, value),) = node.items()
        handler = _INTRINSICS.get(key)
        if handler is not None:
            return handler(value, ctx)
    resolved = {key: resolve(value, ctx) for key, value in node.items()}
    return {key: value for key, value in resolved.items() if value is not NO_VALUE}


def _ref(name: str, ctx: StackContext) -> Any:
    if name.startswith("AWS::"):
        return ctx.pseudo(name)
    if name in ctx.parameters:
        return ctx.parameters[name]
    if name in ctx.resources:
        return ctx.resources[name].ref
    raise TemplateError(f"Ref to {name}, which is neither a parameter nor a created resource")


def _get_att(value: Any, ctx: StackContext) -> Any:
    if isinstance(value, str):
        logical_id, attribute = value.split(".", 1)
    else:
        logical_id, attribute = value[0], resolve(value[1], ctx)
    state = ctx.resources.get(logical_id)
    if state is None:
        raise TemplateError(f"Fn::GetAtt on {logical_id}, which is not created")
    if attribute not in state.attributes:
        raise TemplateError(
            f"{state.resource_type} {logical_id} has no attribute {attribute} on the local cloud"
        )
    return state.attributes[attribute]


def _join(value: Any, ctx: StackContext) -> str:
    delimiter, items = value
    parts = resolve(items, ctx)
    return str(delimiter).join(str(part) for part in parts)


def _sub(value: Any, ctx: StackContext) -> str:
    if isinstance(value, str):
        text, variables = value, {}
    else:
        text, variables = value[0], resolve(value[1], ctx)

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        if name in variables:
            return str(variables[name])
        if "." in name and not name.startswith("AWS::"):
            return str(_get_att(name, ctx))
        return str(_ref(name, ctx))

    return SUB_VARIABLE.sub(replace, text)


def _select(value: Any, ctx: StackContext) -> Any:
    index, items = value
    items = resolve(items, ctx)
    return items[int(resolve(index, ctx))]


def _split(value: Any, ctx: StackContext) -> list[str]:
    delimiter, text = value
    return str(resolve(text, ctx)).split(delimiter)


def _if(value: Any, ctx: StackContext) -> Any:
    condition, when_true, when_false = value
    return resolve(when_true if ctx.condition(condition) else when_false, ctx)


def _equals(value: Any, ctx: StackContext) -> bool:
    left, right = (resolve(v, ctx) for v in value)
    return bool(left == right)


def _not(value: Any, ctx: StackContext) -> bool:
    return not _condition_value(value[0], ctx)


def _and(value: Any, ctx: StackContext) -> bool:
    return all(_condition_value(v, ctx) for v in value)


def _or(value: Any, ctx: StackContext) -> bool:
    return any(_condition_value(v, ctx) for v in value)


def _condition_value(value: Any, ctx: StackContext) -> bool:
    if isinstance(value, dict) and set(value) == {"Condition"}:
        return ctx.condition(value["Condition"])
    return bool(resolve(value, ctx))


def _import_value(value: Any, ctx: StackContext) -> Any:
    name = resolve(value, ctx)
    if name not in ctx.exports:
        raise TemplateError(f"Fn::ImportValue {name}: no deployed stack exports it")
    return ctx.exports[name]


def _find_in_map(value: Any, ctx: StackContext) -> Any:
    name, top, second = (resolve(v, ctx) for v in value)
    return ctx.mappings[name][top][second]


def _base64(value: Any, ctx: StackContext) -> str:
    return base64.b64encode(str(resolve(value, ctx)).encode()).decode()


def _get_azs(value: Any, ctx: StackContext) -> list[str]:
    return [f"{ctx.region}{suffix}" for suffix in "abc"]


def _contains(value: Any, ctx: StackContext) -> bool:
    items, item = (resolve(v, ctx) for v in value)
    return item in items


_INTRINSICS: dict[str, Callable[[Any, StackContext], Any]] = {
    "Ref": _ref,
    "Fn::GetAtt": _get_att,
    "Fn::Join": _join,
    "Fn::Sub": _sub,
    "Fn::Select": _select,
    "Fn::Split": _split,
    "Fn::If": _if,
    "Fn::Equals": _equals,
    "Fn::Not": _not,
    "Fn::And": _and,
    "Fn::Or": _or,
    "Fn::ImportValue": _import_value,
    "Fn::FindInMap": _find_in_map,
    "Fn::Base64": _base64,
    "Fn::GetAZs": _get_azs,
    "Fn::Contains": _contains,
}


def references(node: Any) -> set[str]:
    """Logical ids a template fragment refers to (Ref, GetAtt, Sub variables)."""
    found: set[str] = set()
    if isinstance(node, list):
        for item in node:
            found |= references(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str) and not value.startswith("AWS::"):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value.split(".")[0] if isinstance(value, str) else value[0])
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                bound = set() if isinstance(value, str) else set(value[1])
                for name in SUB_VARIABLE.findall(text):
                    if not name.startswith(("AWS::", "!")) and name not in bound:
                        found.add(name.split(".")[0])
                if not isinstance(value, str):
                    found |= references(value[1])
            else:
                found |= references(value)
    return found


def deployment_order(resources: Mapping[str, Any]) -> list[str]:
    """Logical ids in an order that creates every resource after what it references."""
    dependencies: dict[str, set[str]] = {}
    for logical_id, resource in resources.items():
        depends_on = resource.get("DependsOn", [])
        if isinstance(depends_on, str):
            depends_on = [depends_on]
        refs = references(resource.get("Properties", {})) | set(depends_on)
        dependencies[logical_id] = {r for r in refs if r in resources}
    ordered: list[str] = []
    done: set[str] = set()
    visiting: set[str] = set()

    def visit(logical_id: str) -> None:
        if logical_id in done:
            return
        if logical_id in visiting:
            raise TemplateError(f"circular dependency through {logical_id}")
        visiting.add(logical_id)
        for dependency in sorted(dependencies[logical_id]):
            visit(dependency)
        visiting.discard(logical_id)
        done.add(logical_id)
        ordered.append(logical_id)

    for logical_id in resources:
        visit(logical_id)
    return ordered
