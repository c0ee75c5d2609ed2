"""Rewrite a test event under events/ for a deployed stack.

The committed events name the local cloud's resources (stage `test`, account 123456789012,
us-east-1), whose names are deterministic: `<stack>-<logical id>-<12 hex digits>` (see
`localcloud.core.provision.generated_name`). On AWS, CloudFormation generates other names, so

    python -m localcloud event events/ticket_classification/ticket_handler/ticket.json --stage dev

reads the deployed stack's resources (`DescribeStacks`, `ListStackResources`) and prints the
event with each local name replaced by the deployed resource's, and the account, region and
stack name by the deployed stack's. Needs AWS credentials allowed those two read-only calls.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from localcloud.core.provision import generated_name
from stacks import WORKFLOWS, stack_id

LOCAL_STAGE = "test"
LOCAL_ACCOUNT = "123456789012"
LOCAL_REGION = "us-east-1"
SUFFIX_LENGTH = 12  # the hexadecimal suffix `generated_name` ends every name with


class EventRewriteError(ValueError):
    """The event or the deployed stack cannot be used."""


@dataclass(frozen=True)
class StackResources:
    name: str
    account: str
    region: str
    resources: dict[str, str]  # logical id -> the resource's name (from its physical id)


def workflow_of(path: Path) -> str:
    """`events/<slug>/<module>/<case>.json` -> slug."""
    parts = path.resolve().parts
    if len(parts) < 3 or parts[-3] not in WORKFLOWS or path.suffix != ".json":
        raise EventRewriteError(
            f"{path}: not a test event; expected events/<workflow>/<module>/<case>.json with "
            f"a workflow of {', '.join(WORKFLOWS)}"
        )
    return parts[-3]


def resource_name(physical_id: str) -> str:
    """The name inside a physical id: a queue URL's last path part, an ARN's last part."""
    if physical_id.startswith("https://"):
        return urlparse(physical_id).path.rstrip("/").rsplit("/", 1)[-1]
    if physical_id.startswith("arn:"):
        return re.split(r"[:/]", physical_id)[-1]
    return physical_id


def describe(cloudformation: Any, stack_name: str) -> StackResources:
    """The deployed stack's account, region and resource names."""
    try:
        (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except cloudformation.exceptions.ClientError as error:
        raise EventRewriteError(f"stack {stack_name}: {error}") from error
    _, _, _, region, account, _ = stack["StackId"].split(":", 5)
    resources: dict[str, str] = {}
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name):
        for summary in page["StackResourceSummaries"]:
            if summary.get("PhysicalResourceId"):
                resources[summary["LogicalResourceId"]] = resource_name(
                    summary["PhysicalResourceId"]
                )
    return StackResources(stack_name, account, region, resources)


def rewrite(event: str, slug: str, deployed: StackResources) -> str:
    """The event with the local cloud's names replaced by the deployed stack's."""
    local_stack = stack_id(slug, LOCAL_STAGE)
    text = event
    for logical_id, name in deployed.resources.items():
        suffix = generated_name(local_stack, logical_id)[-SUFFIX_LENGTH:]
        # the local name, however the provisioner truncated or lower-cased it
        pattern = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_-]*-(?:{suffix}|{suffix.lower()})\b")
        text = pattern.sub(name.replace("\\", "\\\\"), text)
    text = text.replace(f"{local_stack}", deployed.name)
    # the events use the local account and region for nothing else (ARNs, URLs, fields)
    text = text.replace(LOCAL_ACCOUNT, deployed.account).replace(LOCAL_REGION, deployed.region)
    json.loads(text)  # still a JSON document
    return text


def rewrite_file(path: Path, stage: str, cloudformation: Any) -> str:
    slug = workflow_of(path)
    try:
        event = path.read_text(encoding="utf-8")
        json.loads(event)
    except (OSError, ValueError) as error:
        raise EventRewriteError(f"{path}: {error}") from error
    return rewrite(event, slug, describe(cloudformation, stack_id(slug, stage)))
