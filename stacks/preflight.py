"""Before `cdk deploy`: every stack about to be deployed has a value for each of its parameters.

    python -m stacks.preflight cdk.out --all
    python -m stacks.preflight cdk.out CustomLabelsBatch-dev --parameters ProjectArn=arn:...

Reads the synthesized templates (no AWS call), so a missing value fails in a second with the
parameter's name, what it is, and the context key that supplies it, instead of failing in
CloudFormation after the other stacks were deployed. `--parameters` takes what `cdk deploy
--parameters` takes (`NAME=VALUE` or `STACK:NAME=VALUE`).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stacks.constructs.deploy_input import CONTEXT_HINT_PATTERN


@dataclass(frozen=True)
class MissingValue:
    stack: str
    parameter: str
    description: str

    @property
    def context_key(self) -> str | None:
        found = CONTEXT_HINT_PATTERN.search(self.description)
        return found["key"] if found else None

    def message(self) -> str:
        what = CONTEXT_HINT_PATTERN.sub("", self.description).strip().rstrip(".")
        key = self.context_key
        how = (
            f"set it with -c {key}=<value> (make deploy CONTEXT='-c {key}=<value>') or in "
            "cdk.json's context"
            if key
            else f"pass --parameters {self.stack}:{self.parameter}=<value>"
        )
        return f"{self.stack}: parameter {self.parameter} has no value ({what}); {how}"


def stack_templates(assembly: Path) -> dict[str, dict[str, Any]]:
    manifest_path = assembly / "manifest.json"
    if not manifest_path.is_file():
        raise FileNotFoundError(f"{manifest_path} does not exist: run `cdk synth` first")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    templates = {}
    for name, artifact in manifest.get("artifacts", {}).items():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        template_file = assembly / artifact["properties"]["templateFile"]
        templates[artifact.get("displayName", name)] = json.loads(
            template_file.read_text(encoding="utf-8")
        )
    return templates


def select(templates: dict[str, Any], patterns: list[str]) -> list[str]:
    """Stack names as `cdk deploy` selects them: `--all`, exact names or shell patterns."""
    if not patterns or "--all" in patterns:
        return sorted(templates)
    chosen = []
    for pattern in patterns:
        matched = [name for name in templates if fnmatch.fnmatchcase(name, pattern)]
        if not matched:
            raise KeyError(f"no stack matches {pattern!r}; stacks: {', '.join(sorted(templates))}")
        chosen += [name for name in matched if name not in chosen]
    return chosen


def missing_values(
    templates: dict[str, dict[str, Any]], stacks: list[str], given: list[str]
) -> list[MissingValue]:
    supplied: set[tuple[str | None, str]] = set()
    for item in given:
        name = item.split("=", 1)[0]
        stack, _, parameter = name.rpartition(":")
        supplied.add((stack or None, parameter))
    missing = []
    for stack in stacks:
        for parameter, spec in templates[stack].get("Parameters", {}).items():
            if "Default" in spec:
                continue
            if (None, parameter) in supplied or (stack, parameter) in supplied:
                continue
            missing.append(MissingValue(stack, parameter, str(spec.get("Description", ""))))
    return missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stacks.preflight", description=__doc__)
    parser.add_argument("assembly", type=Path, help="the cloud assembly (cdk.out)")
    parser.add_argument("stacks", nargs="*", help="stack names or patterns, or --all")
    parser.add_argument("--parameters", action="append", default=[], metavar="[STACK:]NAME=VALUE")
    args, extra = parser.parse_known_args(argv)
    patterns = list(args.stacks) + [item for item in extra if item == "--all"]
    try:
        templates = stack_templates(args.assembly)
        stacks = select(templates, patterns)
    except (FileNotFoundError, KeyError) as error:
        print(f"preflight: {error}", file=sys.stderr)
        return 2
    missing = missing_values(templates, stacks, args.parameters)
    for item in missing:
        print(f"preflight: {item.message()}", file=sys.stderr)
    if missing:
        return 1
    print(f"preflight: {len(stacks)} stack(s) have every parameter: {', '.join(stacks)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
