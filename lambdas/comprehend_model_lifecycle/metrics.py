"""Classification metrics computed from predictions, the way Comprehend defines them:
accuracy is the share of documents whose predicted labels equal the true ones; precision,
recall and F1 are macro averages over the labels present in the truth or the predictions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

METRICS = ("Accuracy", "Precision", "Recall", "F1")


@dataclass(frozen=True)
class Evaluation:
    accuracy: float
    precision: float
    recall: float
    f1: float
    documents: int

    def value(self, metric: str) -> float:
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}; choose from {', '.join(METRICS)}")
        return {"Accuracy": self.accuracy, "Precision": self.precision,
                "Recall": self.recall, "F1": self.f1}[metric]  # fmt: skip

    def as_dict(self) -> dict[str, float | int]:
        return {
            "Accuracy": round(self.accuracy, 4),
            "Precision": round(self.precision, 4),
            "Recall": round(self.recall, 4),
            "F1": round(self.f1, 4),
            "documents": self.documents,
        }


def evaluate(truth: Sequence[frozenset[str]], predicted: Sequence[frozenset[str]]) -> Evaluation:
    if len(truth) != len(predicted):
        raise ValueError(f"{len(truth)} true label sets but {len(predicted)} predictions")
    if not truth:
        raise ValueError("there is nothing to evaluate: the test set is empty")
    labels = sorted(set().union(*truth, *predicted))
    precisions, recalls, f1s = [], [], []
    for label in labels:
        tp = sum(1 for t, p in zip(truth, predicted, strict=True) if label in t and label in p)
        fp = sum(1 for t, p in zip(truth, predicted, strict=True) if label not in t and label in p)
        fn = sum(1 for t, p in zip(truth, predicted, strict=True) if label in t and label not in p)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        precisions.append(precision)
        recalls.append(recall)
        f1s.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    exact = sum(1 for t, p in zip(truth, predicted, strict=True) if t == p)
    return Evaluation(
        accuracy=exact / len(truth),
        precision=sum(precisions) / len(labels),
        recall=sum(recalls) / len(labels),
        f1=sum(f1s) / len(labels),
        documents=len(truth),
    )
