"""The local cloud's least-privilege report read with the names of a stack's resources."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any


def logical_names(*stacks: Any) -> dict[str, str]:
    """ARN -> logical id without its hash suffix (and `Role`/`Function`), for every resource
    of the deployed stacks that has an ARN."""
    return {
        state.attributes["Arn"]: re.sub(r"(Role|Function)?[0-9A-F]{8}$", "", logical_id)
        for stack in stacks
        for logical_id, state in stack.context.resources.items()
        if "Arn" in state.attributes
    }


def named_unused_grants(
    report: Any, names: dict[str, str], unnamed: Callable[[str], str] = str
) -> set[tuple[str, str, str]]:
    """(principal, action, resource) of every grant to a named principal that no recorded call
    used; an ARN that starts with a named one is shortened to its name (the longest that fits),
    any other goes through `unnamed`."""

    def short(arn: str) -> str:
        for full, name in sorted(names.items(), key=lambda item: -len(item[0])):
            if arn.startswith(full):
                return name + arn[len(full) :]
        return unnamed(arn)

    return {
        (short(u.principal), u.action, short(u.resource))
        for u in report.unused
        if u.principal in names
    }
