"""events/README.md, run as a user runs it: every `sh` block in order against a fresh
`python -m localcloud serve`, with the real aws CLI.

The committed events name the server's resources and its address (`http://localhost:4566`);
here the server listens on a free port, so the commands and the events run from a copy of
events/ with that address replaced. Each `aws lambda invoke` must answer without a
FunctionError and, for a queue's batch, without a failed record; each custom-resource
request must have been answered SUCCESS at its ResponseURL.
"""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from stacks import WORKFLOWS, stack_id
from tests.localcloud.test_server import (
    AWS_CLI,
    EVENTS,
    Server,
    as_run_here,
    cli_environment,
    readme_folder,
    start_server,
)

README = EVENTS / "README.md"
# The Glue pipeline has no Lambda handler of its own, so no committed event.
STACKS = [stack_id(slug, "test") for slug in WORKFLOWS if slug != "glue_ml_pipeline"]

pytestmark = [pytest.mark.workflow, pytest.mark.xdist_group("events-walkthrough")]


def commands_in(markdown: str, language: str) -> list[str]:
    """The commands of the fenced blocks of `language` (indented under a list item or not), in
    order, each with its continuation lines joined."""
    commands = []
    pattern = rf"^( *)```{language}\n(.*?)^\1```"
    for _, block in re.findall(pattern, markdown, flags=re.MULTILINE | re.DOTALL):
        for command in re.sub(r"\\\n\s*", " ", block).splitlines():
            if command.strip() and not command.lstrip().startswith("#"):
                commands.append(command.strip())
    return commands


def test_the_readme_invokes_every_event() -> None:
    markdown = README.read_text(encoding="utf-8")
    runnable = " ".join(commands_in(markdown, "sh"))
    # Every event is invoked by a block that runs as committed on a fresh server.
    for event in sorted(EVENTS.glob("*/*/*.json")):
        assert f"fileb://events/{event.relative_to(EVENTS)}" in runnable, event
    assert runnable.count("fileb://events/") >= 21


@pytest.fixture(scope="module")
def walk(
    tmp_path_factory: pytest.TempPathFactory, assembly_dir: Path
) -> Iterator[tuple[Server, Path]]:
    if not AWS_CLI.exists():
        pytest.fail(f"{AWS_CLI} is missing: `make awscli` installs it")
    base = tmp_path_factory.mktemp("events-walkthrough")
    server = start_server(assembly_dir, base / "state", STACKS, base / "server.log")
    work = readme_folder(base / "work", server)
    try:
        yield server, work
    finally:
        server.stop()


def test_every_command_of_the_events_readme_runs_on_a_fresh_server(
    walk: tuple[Server, Path],
) -> None:
    server, work = walk
    env = cli_environment(work)
    failures = []
    for written in commands_in(README.read_text(encoding="utf-8"), "sh"):
        command = as_run_here(written, server)
        out = work / "out.json"
        out.unlink(missing_ok=True)
        completed = subprocess.run(
            ["bash", "-c", command], cwd=work, env=env, capture_output=True, text=True,
            timeout=300,
        )  # fmt: skip
        problem = _problem(command, completed, out)
        if problem:
            failures.append(f"{command}\n  -> {problem}")
    assert failures == [], "\n".join(failures)
    # Each custom-resource request was answered at its ResponseURL, the server's.
    for event in sorted((work / "events").glob("*/*/*.json")):
        request = json.loads(event.read_text())
        if isinstance(request, dict) and "ResponseURL" in request:
            with urllib.request.urlopen(request["ResponseURL"], timeout=30) as response:
                answer = json.loads(response.read())
            assert answer["Status"] == "SUCCESS", (event.name, answer)
            assert answer["RequestId"] == request["RequestId"]


def _problem(command: str, completed: subprocess.CompletedProcess[str], out: Path) -> str:
    if completed.returncode != 0:
        return f"exit {completed.returncode}: {completed.stderr[-1500:]}"
    if " lambda invoke " not in f" {command} ":
        return ""
    answer = json.loads(completed.stdout)
    payload = out.read_text() if out.exists() else ""
    if "FunctionError" in answer:
        return f"FunctionError: {payload[:1500]}"
    result = json.loads(payload) if payload.strip() else None
    if isinstance(result, dict) and result.get("batchItemFailures"):
        return f"failed records: {result['batchItemFailures']}"
    return ""
