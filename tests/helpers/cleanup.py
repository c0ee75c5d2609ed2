"""The stack-deletion cleanup resource of a synthesized template, read for stack tests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

CLEANUP_TYPE = "Custom::RuntimeCleanup"


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def arn_text(value: Any) -> str:
    """An ARN from the template as text, intrinsic functions flattened into it."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        return "".join(arn_text(part) for part in value["Fn::Join"][1])
    if value == {"Ref": "AWS::Partition"}:
        return "aws"
    return json.dumps(value, sort_keys=True)


@dataclass
class Cleanup:
    logical_id: str
    properties: dict[str, Any]
    grants: dict[str, set[str]]  # action -> resources (as text) of the function's role

    def protects(self, template: dict[str, Any], logical_id: str) -> bool:
        """`logical_id` is deleted before the cleanup runs (it depends on it)."""
        depends = _list(template["Resources"][logical_id].get("DependsOn", []))
        return self.logical_id in depends


def cleanup(template: dict[str, Any]) -> Cleanup:
    (logical_id,) = [k for k, v in template["Resources"].items() if v["Type"] == CLEANUP_TYPE]
    properties = template["Resources"][logical_id]["Properties"]
    function_id = properties["ServiceToken"]["Fn::GetAtt"][0]
    role_id = template["Resources"][function_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    grants: dict[str, set[str]] = {}
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        if {"Ref": role_id} not in resource["Properties"]["Roles"]:
            continue
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            for action in _list(statement["Action"]):
                grants.setdefault(action, set()).update(
                    arn_text(r) for r in _list(statement["Resource"])
                )
    return Cleanup(logical_id, properties, grants)
