"""The README, run as a newcomer runs it: the `sh` blocks of "Offline, as on AWS", in order, in
one shell, against a freshly started `python -m localcloud serve` with every workflow's stack,
with the real aws CLI. Each workflow's block must end with its visible result.

The README's other fenced shell blocks (`bash`) hold commands that cannot run here: the suite
itself, and commands that need an AWS account. Each is listed below with what covers it, so a
command added to the README is either run here or named here.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from stacks import WORKFLOWS, stack_id
from tests.localcloud.test_server import (
    AWS_CLI,
    REPO_ROOT,
    Server,
    as_run_here,
    cli_environment,
    readme_folder,
    start_server,
)

README = REPO_ROOT / "README.md"
STACKS = [stack_id(slug, "test") for slug in WORKFLOWS]
# What each workflow's block prints last when it worked, in the README's order.
RESULTS = [
    ("health", re.compile(r'"status": ?"ready"')),
    ("translated captions", re.compile(r"\n00:00:01,000 --> 00:00:03,500\n.*·fr")),
    ("image labels", re.compile(r'"labels": \[\n\s+\{\n\s+"name": "')),
    ("endpoint in service", re.compile(r"document-classifier-endpoint/cml-[0-9a-f]+-endpoint")),
    ("classify answer", re.compile(r'\{"label": ?"(World|Sports|Business|SciTech)"')),
    ("feedback accepted", re.compile(r'"feedback accepted for human review"')),
    # The feedback's loop, and the low-confidence answer's if its delivery came first or with it.
    ("human review loop", re.compile(r"\nfb-[0-9a-f]{40}-0(\tfb-[0-9a-f]{40}-0)?\n")),
    ("classified ticket", re.compile(r'\{"TicketId": "T-1001", "Operation": \{"Name"')),
    ("ticket in the warehouse", re.compile(r"\nT-1001\n")),
    ("pipeline message", re.compile(r'\{"workflow": "TestMLWorkflow", .*"status": "SUCCEEDED"')),
]
# Commands of the README's `bash` blocks, and why they do not run here.
NOT_RUN_HERE = {
    "make demo": "runs every demo: tests/<workflow>/ run each demo's code, make test the CLI",
    "make test": "the suite itself (.ci/run)",
    "npx cdk bootstrap": "needs an AWS account",
    "make deploy": "needs an AWS account; tests/common/test_deploy_inputs.py runs its check",
    "make smoke": "needs a deployment; tests/smoke/ runs it on the local cloud",
    "npx cdk destroy": "needs an AWS account; each workflow's destroy test runs the cleanup",
}

pytestmark = [pytest.mark.workflow, pytest.mark.xdist_group("readme-walkthrough")]


def blocks(markdown: str, language: str) -> list[str]:
    """The fenced blocks of `language`, in order."""
    return re.findall(rf"^```{language}\n(.*?)^```", markdown, flags=re.MULTILINE | re.DOTALL)


def test_every_command_of_the_readme_is_run_here_or_named_here() -> None:
    markdown = README.read_text(encoding="utf-8")
    fences = re.findall(r"^```(\w*)", markdown, flags=re.MULTILINE)
    assert set(fences) <= {"sh", "bash", "mermaid", ""}, fences
    commands = []
    for block in blocks(markdown, "bash"):
        for line in re.sub(r"\\\n\s*", " ", block).splitlines():
            command = line.split("#", 1)[0].strip()
            if command:
                commands.append(command)
    for command in commands:
        assert any(command.startswith(known) for known in NOT_RUN_HERE), command
    assert len(blocks(markdown, "sh")) >= 7  # the setup and one block per workflow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, assembly_dir: Path) -> Iterator[Server]:
    if not AWS_CLI.exists():
        pytest.fail(f"{AWS_CLI} is missing: `make awscli` installs it")
    base = tmp_path_factory.mktemp("readme-walkthrough")
    running = start_server(assembly_dir, base / "state", STACKS, base / "server.log")
    try:
        yield running
    finally:
        running.stop()


def test_the_offline_walkthrough_runs_on_a_fresh_server(server: Server, tmp_path: Path) -> None:
    script = as_run_here("\n".join(blocks(README.read_text(encoding="utf-8"), "sh")), server)
    work = readme_folder(tmp_path, server)
    env = cli_environment(work)

    completed = subprocess.run(
        ["bash", "-e", "-c", script], cwd=work, env=env, capture_output=True, text=True,
        timeout=900,
    )  # fmt: skip

    transcript = f"{completed.stdout}\n--- stderr ---\n{completed.stderr[-3000:]}"
    assert completed.returncode == 0, transcript
    position = 0
    for name, result in RESULTS:
        found = result.search(completed.stdout, position)
        assert found, f"no {name} after what came before it:\n{transcript}"
        position = found.end()
