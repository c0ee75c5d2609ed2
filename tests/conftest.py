"""Shared fixtures: one synthesized cloud assembly per test session, and local clouds on it."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
ASSEMBLY_DIR = REPO_ROOT / "build" / "test-assembly"
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "20,21")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20,21")

# Stacks the suite deploys: the app's own stack with its defaults, and the same stack class
# configured so every batch goes through batch translation jobs with a short poll budget.
DEFAULT_STACK = "CaptionTranslation-test"
BATCH_STACK = "CaptionTranslation-batchjobs"
GLOSSARY_STACK = "CaptionTranslation-glossary"
GLOSSARY = "caption-glossary"


def synthesize(outdir: Path) -> None:
    from aws_cdk import App

    from app import build_app, cdk_json_context
    from stacks.caption_translation import CaptionTranslationStack
    from stacks.config import CaptionSettings

    context = {**cdk_json_context(), "stage": "test"}
    app = build_app(App(outdir=str(outdir), context=context))
    settings = CaptionSettings.from_context(app.node)
    CaptionTranslationStack(
        app,
        BATCH_STACK,
        settings=replace(
            settings,
            realtime_max_bytes=0,
            target_languages=("es", "fr", "de"),
            poll_interval_seconds=10,
            max_polls=40,
        ),
    )
    CaptionTranslationStack(
        app,
        GLOSSARY_STACK,
        settings=replace(settings, terminology_names=(GLOSSARY,)),
    )
    app.synth()


def _sources_digest(roots: list[str]) -> str:
    """Everything synthesis reads: a changed file means a new assembly."""
    digest = hashlib.sha256()
    for root in roots:
        path = REPO_ROOT / root
        files = [path] if path.is_file() else sorted(path.rglob("*"))
        for file in files:
            if file.is_file() and "__pycache__" not in file.parts:
                digest.update(str(file.relative_to(REPO_ROOT)).encode())
                digest.update(file.read_bytes())
    return digest.hexdigest()


def _synthesized(target: Path, synth: Callable[[Path], None], roots: list[str]) -> Path:
    """Synthesize once for the current sources, shared by xdist workers and concurrent runs:
    under a file lock, into a fresh directory that replaces the old one only when complete."""
    target.parent.mkdir(parents=True, exist_ok=True)
    wanted = _sources_digest(roots)
    marker = target / ".sources-digest"
    with open(target.with_name(target.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not marker.exists() or marker.read_text() != wanted:
            staging = target.with_name(target.name + ".staging")
            shutil.rmtree(staging, ignore_errors=True)
            synth(staging)
            (staging / ".sources-digest").write_text(wanted)
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
    return target


@pytest.fixture(scope="session")
def assembly_dir() -> Path:
    roots = ["app.py", "cdk.json", "tests/conftest.py", "stacks", "lambdas", "statemachines",
             "glue_jobs"]  # fmt: skip
    return _synthesized(ASSEMBLY_DIR, synthesize, roots)


@pytest.fixture(scope="session")
def probe_assembly_dir() -> Path:
    from tests.fixtures.probe_stack import synthesize as synthesize_probe

    return _synthesized(
        REPO_ROOT / "build" / "test-probe-assembly", synthesize_probe, ["tests/fixtures"]
    )


@pytest.fixture
def probe(probe_assembly_dir: Path, tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    """A local cloud with the probe stack (tests/fixtures/probe_stack.py) deployed."""
    from localcloud.cloud import LocalCloud
    from tests.fixtures.probe_stack import PROBE_STACK

    with LocalCloud(probe_assembly_dir, work_dir=tmp_path / "lc") as cloud:
        yield cloud, cloud.deploy(PROBE_STACK)


@pytest.fixture
def cloud(assembly_dir: Path, tmp_path: Path) -> Iterator[object]:
    from localcloud.cloud import LocalCloud

    with LocalCloud(assembly_dir, work_dir=tmp_path / "localcloud") as local:
        yield local
