"""Shared fixtures: one synthesized cloud assembly per test session, and local clouds on it."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
ASSEMBLY_DIR = REPO_ROOT / "build" / "test-assembly"
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "1")

# Stacks the suite deploys: the app's own stack with its defaults, and the same stack class
# configured so every batch goes through batch translation jobs with a short poll budget.
DEFAULT_STACK = "CaptionTranslation-test"
BATCH_STACK = "CaptionTranslation-batchjobs"


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
    app.synth()


def _sources_digest() -> str:
    """Everything synthesis reads: a changed file means a new assembly."""
    digest = hashlib.sha256()
    roots = ["app.py", "cdk.json", "tests/conftest.py", "stacks", "lambdas", "statemachines"]
    for root in roots:
        path = REPO_ROOT / root
        files = [path] if path.is_file() else sorted(path.rglob("*"))
        for file in files:
            if file.is_file() and "__pycache__" not in file.parts:
                digest.update(str(file.relative_to(REPO_ROOT)).encode())
                digest.update(file.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="session")
def assembly_dir() -> Path:
    """Synthesize once for the current sources, shared by xdist workers and concurrent runs:
    under a file lock, into a fresh directory that replaces the old one only when complete."""
    ASSEMBLY_DIR.parent.mkdir(parents=True, exist_ok=True)
    wanted = _sources_digest()
    marker = ASSEMBLY_DIR / ".sources-digest"
    with open(ASSEMBLY_DIR.parent / "test-assembly.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not marker.exists() or marker.read_text() != wanted:
            staging = ASSEMBLY_DIR.with_name("test-assembly.staging")
            shutil.rmtree(staging, ignore_errors=True)
            synthesize(staging)
            (staging / ".sources-digest").write_text(wanted)
            shutil.rmtree(ASSEMBLY_DIR, ignore_errors=True)
            staging.rename(ASSEMBLY_DIR)
    return ASSEMBLY_DIR


@pytest.fixture
def cloud(assembly_dir: Path, tmp_path: Path) -> Iterator[object]:
    from localcloud.cloud import LocalCloud

    with LocalCloud(assembly_dir, work_dir=tmp_path / "localcloud") as local:
        yield local
