"""Comparing the live model and the candidate on the round's held-out documents.

Each model's classification job output (`output.tar.gz` holding `predictions.jsonl`) is read,
every prediction stored in the state table under its job (`pk = "job#<id>"`, one item per
document line), and the selected metric computed by this module from the predictions and the
true labels — not taken from Comprehend's own autosplit metrics, which are computed on different
documents for each model.

The metric is computed twice: on all of the round's test documents, and on its trusted ones,
those the ground truth already holds with the same labels. The candidate must win on the first
and must not lose on the second, so a batch of wrong labels cannot promote a model that learned
them (it would win on its own wrongly labelled test documents).
"""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import dataclass
from typing import Any

from lambdas.comprehend_model_lifecycle import layout
from lambdas.comprehend_model_lifecycle.metrics import Evaluation, evaluate
from lambdas.comprehend_model_lifecycle.rounds import write_all
from lambdas.comprehend_model_lifecycle.settings import LifecycleSettings
from lambdas.shared.s3 import ObjectStore

MULTI_LABEL_THRESHOLD = 0.5


class EvaluationError(Exception):
    """A job's output does not cover the test documents."""


@dataclass(frozen=True)
class JobResult:
    role: str  # "candidate" or "current"
    model_arn: str
    job_id: str
    output_uri: str


def read_predictions(
    store: ObjectStore, output_uri: str, documents: int, multi_label: bool
) -> list[tuple[frozenset[str], list[dict[str, Any]]]]:
    """(predicted labels, scores) per document line, from a job's output archive."""
    bucket, _, key = output_uri.removeprefix("s3://").partition("/")
    if bucket != store.bucket:
        raise EvaluationError(f"job output {output_uri} is outside the training bucket")
    by_line: dict[int, tuple[frozenset[str], list[dict[str, Any]]]] = {}
    with tarfile.open(fileobj=io.BytesIO(store.get_bytes(key)), mode="r:gz") as archive:
        lines = [
            raw
            for member in archive.getmembers()
            if member.isfile() and member.name.endswith(".jsonl")
            for raw in _member_text(archive, member).splitlines()
        ]
    for raw in lines:
        if not raw.strip():
            continue
        record = json.loads(raw)
        if "Error" in record or "ErrorCode" in record:
            raise EvaluationError(f"line {record.get('Line')} failed: {record}")
        scores = record.get("Labels") if multi_label else record.get("Classes")
        scores = sorted(scores or [], key=lambda s: -float(s["Score"]))
        if multi_label:
            chosen = frozenset(
                s["Name"] for s in scores if float(s["Score"]) >= MULTI_LABEL_THRESHOLD
            )
        else:
            chosen = frozenset([scores[0]["Name"]]) if scores else frozenset()
        by_line[int(record["Line"])] = (chosen, scores)
    missing = [line for line in range(documents) if line not in by_line]
    if missing:
        raise EvaluationError(
            f"{output_uri} has no prediction for {len(missing)} of {documents} documents"
        )
    return [by_line[line] for line in range(documents)]


def _member_text(archive: tarfile.TarFile, member: tarfile.TarInfo) -> str:
    handle = archive.extractfile(member)
    if handle is None:
        raise EvaluationError(f"{member.name} in the job output cannot be read")
    return handle.read().decode()


def decide(
    metric: str,
    margin: float,
    candidate: Evaluation,
    current: Evaluation | None,
    trusted: tuple[Evaluation, Evaluation] | None = None,
) -> tuple[str, str]:
    """(decision, reason). The candidate must beat the live model on the round's test
    documents by more than `margin`, and must not do worse on the trusted ones (candidate's
    and live model's evaluations there): new labels are not vetted yet, and a candidate that
    learned wrong labels scores well on test documents carrying the same wrong labels."""
    if current is None:
        return "promoted", "there is no live model yet"
    new, old = candidate.value(metric), current.value(metric)
    if new <= old + margin:
        return "kept", f"{metric} {new:.4f} does not beat the live model's {old:.4f}"
    if trusted is not None:
        new_trusted, old_trusted = (evaluation.value(metric) for evaluation in trusted)
        if new_trusted < old_trusted:
            return "kept", (
                f"{metric} improves from {old:.4f} to {new:.4f} overall, but falls from "
                f"{old_trusted:.4f} to {new_trusted:.4f} on the {trusted[0].documents} test "
                "documents of the ground truth"
            )
    return "promoted", f"{metric} improves from {old:.4f} to {new:.4f}"


def evaluate_round(
    round_id: str,
    jobs: list[JobResult],
    settings: LifecycleSettings,
    store: ObjectStore,
    dynamodb: Any,
    rejected: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """Both models' metrics on the round's test documents and the decision; the summary also
    lists the round's rejected uploads, so the round's notification names them."""
    prefix = layout.round_prefix(round_id)
    truth_lists = store.get_json(prefix + "test-labels.json")
    if truth_lists is None:
        raise EvaluationError(f"round {round_id} has no test labels")
    truth = [frozenset(labels) for labels in truth_lists]
    trusted_lines = store.get_json(prefix + "test-trusted.json") or []
    if any(not 0 <= line < len(truth) for line in trusted_lines):
        raise EvaluationError(f"round {round_id} has trusted lines outside its test set")
    results: dict[str, Evaluation] = {}
    on_trusted: dict[str, Evaluation] = {}
    arns: dict[str, str] = {}
    for job in jobs:
        predictions = read_predictions(store, job.output_uri, len(truth), settings.multi_label)
        _persist(dynamodb, settings.table, job, predictions)
        predicted = [labels for labels, _ in predictions]
        results[job.role] = evaluate(truth, predicted)
        if trusted_lines:
            on_trusted[job.role] = evaluate(
                [truth[line] for line in trusted_lines], [predicted[line] for line in trusted_lines]
            )
        arns[job.role] = job.model_arn
    if "candidate" not in results:
        raise EvaluationError("the candidate was not evaluated")
    metric = settings.metric
    current = results.get("current")
    decision, reason = decide(
        metric,
        settings.min_improvement_per_mille / 1000,
        results["candidate"],
        current,
        (on_trusted["candidate"], on_trusted["current"]) if "current" in on_trusted else None,
    )

    def described(role: str) -> dict[str, Any]:
        found: dict[str, Any] = {"modelArn": arns[role], **results[role].as_dict()}
        if role in on_trusted:
            found["groundTruth"] = on_trusted[role].as_dict()
        return found

    summary = {
        "roundId": round_id,
        "metric": metric,
        "decision": decision,
        "reason": reason,
        "candidate": described("candidate"),
        "current": described("current") if current is not None else None,
        "candidateValue": round(results["candidate"].value(metric), 4),
        "currentValue": round(current.value(metric), 4) if current is not None else None,
        "testDocuments": len(truth),
        "groundTruthTestDocuments": len(trusted_lines),
        "rejected": list(rejected or []),
    }
    store.put_json(prefix + "evaluation.json", summary)
    return summary


def _persist(
    dynamodb: Any,
    table: str,
    job: JobResult,
    predictions: list[tuple[frozenset[str], list[dict[str, Any]]]],
) -> None:
    requests = [
        {
            "PutRequest": {
                "Item": {
                    "pk": {"S": f"job#{job.job_id}"},
                    "sk": {"S": f"{line:06d}"},
                    "model": {"S": job.model_arn},
                    "role": {"S": job.role},
                    "predicted": {"L": [{"S": label} for label in sorted(labels)]},
                    "scores": {"S": json.dumps(scores)},
                }
            }
        }
        for line, (labels, scores) in enumerate(predictions)
    ]
    write_all(dynamodb, table, requests)
