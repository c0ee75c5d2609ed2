"""The whole loop over several rounds, as `python -m localcloud demo comprehend_feedback_loop`
runs it:
classify traffic, feedback, oracle review, part 1 retraining, and accuracy measured through the
API after every round on half of `holdout.csv` (documents no round trains on)."""

from __future__ import annotations

import csv
import itertools
import json
import re
from pathlib import Path

import pytest

from localcloud.demos import comprehend_feedback_loop
from localcloud.demos.review import SAMPLES, labelled_rows

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


def test_the_users_own_sentences_are_classified_reviewed_with_their_labels_and_trained_on(
    tmp_path: Path,
) -> None:
    # Sentences no sample holds (so the reviewer can only know their labels from the file).
    rows = labelled_rows(SAMPLES / "improving.csv")[:40]
    mine = tmp_path / "mine.csv"
    with mine.open("w", newline="", encoding="utf-8") as out:
        csv.writer(out).writerows((label, f"Reported today: {text}") for label, text in rows)
    stream = comprehend_feedback_loop.read_sentences(mine)

    result = comprehend_feedback_loop.run(tmp_path / "run", rounds=1, stream=stream)

    assert result["human_loops"] > 0
    items = result["items"]
    # Every sentence a reviewer labelled reached part 1's training data, none lost or twice.
    assert items["itemsIn"] > 0
    assert (items["outputs"], items["lost"], items["duplicated"]) == (items["itemsIn"], 0, 0)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("Sports,A late goal.\nWeather,Rain tomorrow.\n", "row 2: label 'Weather' is not one of"),
        ("Sports,\n", "row 1: the text is empty"),
        ("", "no label,text rows"),
        ("Sports,A late goal, and a win.\n", "row 1: 3 fields where label,text has 2"),
    ],
)
def test_a_bad_sentences_file_is_refused_naming_the_row(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "sentences.csv"
    path.write_text(content, encoding="utf-8")

    with pytest.raises(ValueError, match=re.escape(message)):
        comprehend_feedback_loop.read_sentences(path)


def test_a_missing_sentences_file_is_refused() -> None:
    with pytest.raises(ValueError, match="no such file"):
        comprehend_feedback_loop.read_sentences(Path("/nonexistent/sentences.csv"))
