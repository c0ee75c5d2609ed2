"""The whole loop over several rounds, as `python -m localcloud demo comprehend_feedback_loop`
runs it:
classify traffic, feedback, oracle review, part 1 retraining, and accuracy measured through the
API after every round on half of `holdout.csv` (documents no round trains on)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from localcloud.demos import comprehend_feedback_loop

pytestmark = [pytest.mark.workflow, pytest.mark.xdist_group("comprehend-feedback-loop-demo")]

# 100 held-out documents: one more or one fewer right answer moves the accuracy by 0.01, and a
# retrained model may trade a few documents for others.
NOISE = 0.03


def test_accuracy_rises_over_the_rounds_and_never_drops_by_more_than_noise(
    tmp_path: Path,
) -> None:
    result = comprehend_feedback_loop.run(tmp_path, rounds=2)

    accuracy = result["accuracy_by_round"]
    assert len(accuracy) == 3  # the first model, then one figure per round
    assert all(0.0 <= value <= 1.0 for value in accuracy)
    for earlier, later in itertools.pairwise(accuracy):
        assert later >= earlier - NOISE, accuracy
    assert accuracy[-1] >= accuracy[0] + 0.1, accuracy
    assert result["human_loops"] > 0
    assert result["feedback_items"] >= result["human_loops"]
    # What the run would have cost: every reviewed loop is one A2I object; training is metered.
    cost = result["costUsd"]["byService"]
    assert cost["a2i"]["items"]["objectReviewed"]["quantity"] == result["human_loops"]
    assert cost["comprehend"]["items"]["customTrainingHour"]["quantity"] > 0
    assert result["costUsd"]["usd"] == pytest.approx(sum(s["usd"] for s in cost.values()))
    plot = Path(result["plot"])
    assert plot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert json.loads(json.dumps(result)) == result  # the demo's last line is this, as JSON
