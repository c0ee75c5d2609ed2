"""Every workflow under chaos ends with the same outputs as without it.

Each demo runs once calm and once per seed with a share of every AWS call failing (throttling,
internal errors, and some failures after the call took effect); the outputs themselves (the
files a person would open) are compared, not the workflows' counters. Inputs are small so the
runs stay short; the caption and ticket workflows are covered in test_chaos.py.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from localcloud.cloud import REPO_ROOT
from localcloud.core.chaos import ChaosSettings
from tests.helpers.chaos import under_chaos, under_each_seed

pytestmark = [pytest.mark.workflow]

# What differs between any two runs: when something happened, the run's id, S3 object versions,
# and the Custom Labels model the demo trains each time (its version ARN holds its creation time,
# and its held-out split, hence its confidences, is drawn from that ARN).
VARYING = frozenset(
    {"labelledAt", "uploadedAt", "quarantinedAt", "eventTime", "time", "run_id", "versionId",
     "model", "confidence"}
)  # fmt: skip


def _timeless(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _timeless(v) for k, v in value.items() if k not in VARYING}
    if isinstance(value, list):
        return [_timeless(v) for v in value]
    return value


def _tree(root: Path, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every file under `root` a person would open (JSON without what varies between runs)."""
    tree: dict[str, Any] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if not path.is_file() or relative.startswith((".", *skip)) or "/." in relative:
            continue
        data = path.read_bytes()
        tree[relative] = _timeless(json.loads(data)) if path.suffix == ".json" else data
    return tree


def _same_outputs(
    calm: tuple[Any, dict[str, Any]], stormy: tuple[Any, dict[str, Any]], failures: dict[str, int]
) -> None:
    assert sum(failures.values()) > 0, "chaos failed no call"
    assert stormy[0]["items"] == calm[0]["items"]
    assert calm[0]["items"]["lost"] == calm[0]["items"]["duplicated"] == 0
    assert calm[0]["items"]["unexpected"] == 0
    assert stormy[1] == calm[1]


# Calm runs, once per process: xdist may tear a module's fixtures down between two of its tests.
_CALM: dict[str, Any] = {}


def _calm_and_stormy(
    name: str,
    factory: pytest.TempPathFactory,
    chaos: ChaosSettings,
    run: Callable[[Path, ChaosSettings | None], Any],
) -> tuple[Any, Any]:
    """A workflow's outputs calm (run once a process) and under `chaos`, checked to be the same;
    `run` writes them under the folder it is given and answers them with the calls chaos failed."""
    if name not in _CALM:
        calm, no_failures = run(factory.mktemp(f"calm-{name}"), None)
        assert no_failures == {}
        _CALM[name] = calm
    stormy, failures = run(factory.mktemp(f"stormy-{name}"), chaos)
    _same_outputs(_CALM[name], stormy, failures)
    return _CALM[name], stormy


# Custom Labels: a few images and two that cannot be labelled ------------------------------------
LABEL_IMAGES = REPO_ROOT / "samples" / "custom_labels_batch"


def _labels(assembly_dir: Path, out: Path, chaos: ChaosSettings | None) -> Any:
    from localcloud.demos import custom_labels_batch as demo

    images = out / "images"
    images.mkdir(parents=True)
    for name in ("incoming/bottle-01.jpeg", "incoming/mug-02.png", "incoming/plant-01.png",
                 "poison/truncated.jpg", "poison/gif-named.png"):  # fmt: skip
        shutil.copy(LABEL_IMAGES / name, images / Path(name).name)
    result, failures = under_chaos(chaos, lambda: demo.run(assembly_dir, out / "run", images, []))
    return (result, _tree(out / "run")), failures


@pytest.mark.xdist_group("chaos-labels")
@under_each_seed
def test_custom_labels_under_chaos_labels_every_image_once(
    assembly_dir: Path, tmp_path_factory: pytest.TempPathFactory, chaos: ChaosSettings
) -> None:
    run = partial(_labels, assembly_dir)
    calm, stormy = _calm_and_stormy("labels", tmp_path_factory, chaos, run)
    assert calm[0]["items"] == {
        "itemsIn": 5, "outputs": 3, "quarantined": 2, "lost": 0, "duplicated": 0,
        "unexpected": 0,
    }  # fmt: skip
    assert any(key.startswith("labels/") for key in calm[1])
    assert stormy[0]["model_status_after"] == "STOPPED"  # nothing left billing


# Model lifecycle: one training round ----------------------------------------------------------
def _lifecycle(assembly_dir: Path, out: Path, chaos: ChaosSettings | None) -> Any:
    from localcloud.demos import comprehend_model_lifecycle as demo

    uploads = [demo.SAMPLES / "initial.csv"]
    result, failures = under_chaos(chaos, lambda: demo.run(assembly_dir, out, uploads))
    return (result, _tree(out)), failures


@pytest.mark.xdist_group("chaos-lifecycle")
@under_each_seed
def test_model_lifecycle_under_chaos_trains_on_every_row_once(
    assembly_dir: Path, tmp_path_factory: pytest.TempPathFactory, chaos: ChaosSettings
) -> None:
    run = partial(_lifecycle, assembly_dir)
    calm, stormy = _calm_and_stormy("lifecycle", tmp_path_factory, chaos, run)
    assert calm[0]["items"]["outputs"] == calm[0]["items"]["itemsIn"] == 320
    assert [r["decision"] for r in calm[0]["rounds"]] == ["promoted"]
    # The same data trains the same model: the round's evaluation is the same.
    assert stormy[0]["rounds"] == calm[0]["rounds"]


# Glue pipeline: the smallest run the 14 classes allow ------------------------------------------
def _pipeline(assembly_dir: Path, out: Path, chaos: ChaosSettings | None) -> Any:
    from localcloud.demos import glue_ml_pipeline as demo

    result, failures = under_chaos(chaos, lambda: demo.run(assembly_dir, out, rows=140))
    return (result, _tree(out)), failures


@pytest.mark.xdist_group("chaos-pipeline")
@under_each_seed
def test_glue_pipeline_under_chaos_completes_with_the_same_channels(
    assembly_dir: Path, tmp_path_factory: pytest.TempPathFactory, chaos: ChaosSettings
) -> None:
    run = partial(_pipeline, assembly_dir)
    calm, stormy = _calm_and_stormy("pipeline", tmp_path_factory, chaos, run)
    assert calm[0]["items"] == {
        "itemsIn": 143, "outputs": 140, "quarantined": 3, "lost": 0, "duplicated": 0,
        "unexpected": 0,
    }  # fmt: skip
    assert set(calm[0]["jobs"].values()) == {"SUCCEEDED"}
    assert set(stormy[0]["jobs"].values()) == {"SUCCEEDED"}
    assert stormy[0]["test_accuracy"] == calm[0]["test_accuracy"]


# Feedback loop: one round of classify traffic, feedback, human review and retraining ----------
def _feedback(assembly: Path, out: Path, chaos: ChaosSettings | None) -> Any:
    from localcloud.demos import comprehend_feedback_loop as demo

    result, failures = under_chaos(
        chaos, lambda: demo.run(out, rounds=1, assembly_dir=assembly, traffic=60)
    )
    return (result, _tree(out, skip=("accuracy.png",))), failures


@pytest.fixture(scope="module")
def feedback_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One synthesis for every run of this process (each xdist worker has its own)."""
    return tmp_path_factory.getbasetemp() / "feedback-assembly"


@pytest.mark.xdist_group("chaos-feedback")
@under_each_seed
def test_feedback_loop_under_chaos_trains_on_every_answer_once(
    tmp_path_factory: pytest.TempPathFactory, feedback_assembly: Path, chaos: ChaosSettings
) -> None:
    # With after-effect failures too: a transformer attempt whose idempotency claim was
    # written though its answer was lost fails, and Lambda's retry a minute later takes the
    # lapsed claim over, so the answers reach this round's training data.
    run = partial(_feedback, feedback_assembly)
    calm, stormy = _calm_and_stormy("feedback", tmp_path_factory, chaos, run)
    assert calm[0]["items"]["itemsIn"] > 0
    assert calm[0]["items"]["quarantined"] == 0
    # The same answers train the same model: the API answers the held-out documents alike.
    assert stormy[0]["accuracy_by_round"] == calm[0]["accuracy_by_round"]
    assert calm[0]["answeredTwice"] == 0
    if not chaos.after_effect:
        # Firehose delivers at least once: a PutRecord whose answer was lost stores a feedback
        # item twice, and a reviewer may see it twice (the training data keeps it once).
        assert stormy[0]["answeredTwice"] == 0
