"""A synthesized stack template read for stack tests: its resources by type, and the function
defaults every workflow's Lambda functions share."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def stack_template(assembly: Path, stack: str) -> dict[str, Any]:
    return dict(json.loads((assembly / f"{stack}.template.json").read_text()))


def resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def only_properties(template: dict[str, Any], resource_type: str) -> dict[str, Any]:
    """The properties of the template's one resource of a type."""
    (resource,) = resources(template, resource_type).values()
    return dict(resource["Properties"])


def assert_function_defaults(props: dict[str, Any]) -> None:
    """The settings the Python function construct gives every function."""
    assert props["Runtime"] == "python3.14"
    assert props["Architectures"] == ["arm64"]
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["LoggingConfig"]["LogFormat"] == "JSON"
