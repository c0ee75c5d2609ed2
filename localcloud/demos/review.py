"""Reviewers for the local A2I engine's pending human loops.

`OracleReviewer` stands in for people in unattended runs (tests, demos): it answers each item
with the sample dataset's true label (`samples/comprehend_model_lifecycle/`, whose generator
knows every
document's class), or "none of these" for a text it does not know. The review portal
(`localcloud.demos.review_portal`) is the interactive counterpart.

Loops are completed through the engine's `complete`, exactly as a portal submission is, so the
output object and the status event are the same either way.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localcloud.cloud import REPO_ROOT

SAMPLES = REPO_ROOT / "samples" / "comprehend_model_lifecycle"
# degrading.csv carries deliberately wrong labels: it is not ground truth. holdout.csv measures
# the models: the oracle abstains on its texts (their low-confidence answers still reach review)
# so that no model ever trains on the documents it is scored on.
TRUTH_FILES = ("initial.csv", "improving.csv")
SKIP = "__skip__"  # the task UI's "none of these / cannot tell" value


def text_key(text: str) -> str:
    return " ".join(text.split()).casefold()


def labelled_rows(path: Path) -> list[tuple[str, str]]:
    """(label, text) of every line of a Comprehend CSV file."""
    reader = csv.reader(io.StringIO(path.read_text(encoding="utf-8")))
    return [(row[0], row[1]) for row in reader if len(row) == 2]


def sample_truth(files: Iterable[str] = TRUTH_FILES) -> dict[str, str]:
    truth: dict[str, str] = {}
    for name in files:
        for label, text in labelled_rows(SAMPLES / name):
            truth[text_key(text)] = label
    return truth


def answer_field(index: int) -> str:
    return f"label-{index}"


@dataclass
class OracleReviewer:
    truth: dict[str, str]
    reviewed_loops: int = 0
    answered_items: int = 0
    skipped_items: int = 0
    answers: list[dict[str, Any]] = field(default_factory=list)
    # The texts given a label: each should reach the training data once.
    answered_texts: list[str] = field(default_factory=list)

    def review(self, a2i: Any) -> int:
        """Complete every pending loop; returns how many were completed."""
        completed = 0
        for loop in a2i.pending():
            content: dict[str, Any] = {}
            for item in loop.input["items"]:
                label = self.truth.get(text_key(item["text"]))
                if label is None or label not in loop.input["categories"]:
                    self.skipped_items += 1
                    label = SKIP
                else:
                    self.answered_items += 1
                    self.answered_texts.append(item["text"])
                content[answer_field(int(item["index"]))] = label
            a2i.complete(loop.name, content, worker_id="oracle")
            self.answers.append(content)
            completed += 1
        self.reviewed_loops += completed
        return completed
