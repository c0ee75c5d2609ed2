"""Reading Comprehend's classification job output, and deciding between the live model and the
candidate, with a dictionary standing in for the bucket and the state table."""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import replace
from typing import Any

import pytest

from lambdas.comprehend_model_lifecycle.evaluation import (
    EvaluationError,
    JobResult,
    decide,
    evaluate_round,
    read_predictions,
)
from lambdas.comprehend_model_lifecycle.metrics import Evaluation
from lambdas.comprehend_model_lifecycle.settings import LifecycleSettings

BUCKET = "training"
SETTINGS = LifecycleSettings(
    bucket=BUCKET,
    table="state",
    mode="MULTI_CLASS",
    label_delimiter="|",
    metric="F1",
    test_percent=10,
    allowed_labels=(),
    retain_models=2,
    min_improvement_per_mille=0,
    classifier_name="cml-test",
    state_machine_arn=None,
)


class FakeStore:
    """The part of `ObjectStore` the evaluation uses, over a dictionary."""

    def __init__(self, objects: dict[str, bytes] | None = None) -> None:
        self.bucket = BUCKET
        self.objects = dict(objects or {})

    def get_bytes(self, key: str, version_id: str | None = None) -> bytes:
        return self.objects[key]

    def get_json(self, key: str) -> Any:
        return json.loads(self.objects[key]) if key in self.objects else None

    def put_json(self, key: str, document: Any) -> None:
        self.objects[key] = json.dumps(document).encode()


class FakeDynamoDB:
    """BatchWriteItem that leaves the first chunk's last item unprocessed once."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.calls = 0

    def batch_write_item(self, **call: Any) -> dict[str, Any]:
        self.calls += 1
        ((table, requests),) = call["RequestItems"].items()
        assert table == "state" and len(requests) <= 25
        done, left = (requests[:-1], requests[-1:]) if self.calls == 1 else (requests, [])
        for request in done:
            item = request["PutRequest"]["Item"]
            self.items[(item["pk"]["S"], item["sk"]["S"])] = item
        return {"UnprocessedItems": {table: left} if left else {}}


def archive(records: list[dict[str, Any]], name: str = "predictions.jsonl") -> bytes:
    """A job's `output.tar.gz` as Comprehend writes it."""
    payload = "".join(json.dumps(r) + "\n" for r in records).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()


def classes(line: int, *scored: tuple[str, float]) -> dict[str, Any]:
    return {
        "File": "test-documents.txt",
        "Line": str(line),
        "Classes": [{"Name": name, "Score": score} for name, score in scored],
    }


def labels(line: int, *scored: tuple[str, float]) -> dict[str, Any]:
    record = classes(line, *scored)
    record["Labels"] = record.pop("Classes")
    return record


OUTPUT_KEY = "rounds/r1/jobs/candidate/123456789012-CLN-abc/output/output.tar.gz"
OUTPUT_URI = f"s3://{BUCKET}/{OUTPUT_KEY}"


# --- Reading predictions ---------------------------------------------------------------------


def test_multi_class_predictions_take_the_best_class_whatever_the_order() -> None:
    store = FakeStore({OUTPUT_KEY: archive([
        classes(1, ("Sports", 0.2), ("World", 0.7), ("Business", 0.1)),
        classes(0, ("SciTech", 0.9), ("World", 0.1)),
    ])})  # fmt: skip
    predictions = read_predictions(store, OUTPUT_URI, 2, multi_label=False)
    assert [chosen for chosen, _ in predictions] == [{"SciTech"}, {"World"}]
    assert [s["Name"] for s in predictions[1][1]] == ["World", "Sports", "Business"]


def test_multi_label_predictions_take_every_label_scoring_half_or_more() -> None:
    store = FakeStore({OUTPUT_KEY: archive([
        labels(0, ("Business", 0.91), ("Sports", 0.5), ("World", 0.49)),
        labels(1, ("World", 0.3)),
        {"File": "test-documents.txt", "Line": "2", "Labels": []},
    ])})  # fmt: skip
    predictions = read_predictions(store, OUTPUT_URI, 3, multi_label=True)
    assert [chosen for chosen, _ in predictions] == [{"Business", "Sports"}, set(), set()]


def test_blank_lines_and_other_files_in_the_archive_are_ignored() -> None:
    payload = archive([classes(0, ("World", 1.0))])
    with tarfile.open(fileobj=io.BytesIO(payload), mode="r:gz") as tar:
        text = tar.extractfile("predictions.jsonl").read()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in (("predictions.jsonl", text + b"\n\n"), ("notes.txt", b"{not json")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    store = FakeStore({OUTPUT_KEY: buffer.getvalue()})
    predictions = read_predictions(store, OUTPUT_URI, 1, multi_label=False)
    assert predictions[0][0] == {"World"}


def test_a_document_without_a_prediction_fails_the_evaluation() -> None:
    store = FakeStore({OUTPUT_KEY: archive([classes(0, ("World", 1.0)), classes(2, ("A", 1))])})
    with pytest.raises(EvaluationError, match="no prediction for 1 of 3 documents"):
        read_predictions(store, OUTPUT_URI, 3, multi_label=False)


def test_a_document_comprehend_could_not_classify_fails_the_evaluation() -> None:
    failed = {"File": "test-documents.txt", "Line": "0", "ErrorCode": "INTERNAL_SERVER_ERROR"}
    store = FakeStore({OUTPUT_KEY: archive([failed])})
    with pytest.raises(EvaluationError, match="line 0 failed"):
        read_predictions(store, OUTPUT_URI, 1, multi_label=False)


def test_output_outside_the_training_bucket_is_refused() -> None:
    with pytest.raises(EvaluationError, match="outside the training bucket"):
        read_predictions(FakeStore(), f"s3://elsewhere/{OUTPUT_KEY}", 1, False)


# --- Deciding --------------------------------------------------------------------------------


def scored(f1: float, documents: int = 10) -> Evaluation:
    return Evaluation(accuracy=f1, precision=f1, recall=f1, f1=f1, documents=documents)


def test_the_first_model_is_promoted() -> None:
    assert decide("F1", 0.0, scored(0.2), None) == ("promoted", "there is no live model yet")


def test_the_candidate_must_beat_the_live_model_by_more_than_the_margin() -> None:
    assert decide("F1", 0.0, scored(0.81), scored(0.8)) == (
        "promoted", "F1 improves from 0.8000 to 0.8100"
    )  # fmt: skip
    assert decide("F1", 0.0, scored(0.8), scored(0.8)) == (
        "kept", "F1 0.8000 does not beat the live model's 0.8000"
    )  # fmt: skip
    assert decide("F1", 0.02, scored(0.81), scored(0.8))[0] == "kept"
    assert decide("F1", 0.02, scored(0.83), scored(0.8))[0] == "promoted"


def test_the_selected_metric_decides() -> None:
    candidate = Evaluation(accuracy=0.9, precision=0.5, recall=0.9, f1=0.6, documents=10)
    current = Evaluation(accuracy=0.8, precision=0.7, recall=0.8, f1=0.7, documents=10)
    assert decide("Accuracy", 0.0, candidate, current)[0] == "promoted"
    assert decide("Recall", 0.0, candidate, current)[0] == "promoted"
    assert decide("Precision", 0.0, candidate, current)[0] == "kept"
    assert decide("F1", 0.0, candidate, current)[0] == "kept"


def test_a_candidate_that_loses_on_the_ground_truth_is_kept_even_if_it_wins_overall() -> None:
    on_truth = (scored(0.79, 48), scored(0.94, 48))
    decision, reason = decide("F1", 0.0, scored(0.65), scored(0.63), on_truth)
    assert decision == "kept"
    assert reason == (
        "F1 improves from 0.6300 to 0.6500 overall, but falls from 0.9400 to 0.7900 on the "
        "48 test documents of the ground truth"
    )
    assert decide("F1", 0.0, scored(0.94), scored(0.81), (scored(0.9), scored(0.9)))[0] == (
        "promoted"
    )


def test_a_round_summary_holds_both_models_the_decision_and_the_rejected_uploads() -> None:
    truth = [["World"], ["Sports"], ["World"], ["Business"]]
    current_key = OUTPUT_KEY.replace("candidate", "current")
    store = FakeStore({
        "rounds/r1/test-labels.json": json.dumps(truth).encode(),
        "rounds/r1/test-trusted.json": b"[0, 1]",
        OUTPUT_KEY: archive([classes(i, (t[0], 0.9)) for i, t in enumerate(truth)]),
        current_key: archive([classes(i, ("World", 0.9)) for i in range(4)]),
    })  # fmt: skip
    jobs = [
        JobResult("candidate", "arn:candidate", "job-1", OUTPUT_URI),
        JobResult("current", "arn:current", "job-2", f"s3://{BUCKET}/{current_key}"),
    ]
    rejected = [{"file": "bad.csv", "error": "invalid-training-data", "reason": "bad.csv ..."}]
    dynamodb = FakeDynamoDB()
    summary = evaluate_round("r1", jobs, SETTINGS, store, dynamodb, rejected)

    assert (summary["roundId"], summary["decision"]) == ("r1", "promoted")
    assert summary["reason"] == "F1 improves from 0.2222 to 1.0000"
    assert summary["candidate"]["modelArn"] == "arn:candidate"
    assert summary["candidateValue"] == 1.0
    # current: World right twice; F1 per label World 2/3, Sports 0, Business 0.
    assert summary["currentValue"] == 0.2222
    assert summary["current"]["groundTruth"] == {
        "Accuracy": 0.5, "Precision": 0.25, "Recall": 0.5, "F1": 0.3333, "documents": 2
    }  # fmt: skip
    assert summary["testDocuments"] == 4 and summary["groundTruthTestDocuments"] == 2
    assert summary["rejected"] == rejected
    assert json.loads(store.objects["rounds/r1/evaluation.json"]) == summary
    # Every prediction is stored under its job, the unprocessed one resubmitted.
    assert sorted(dynamodb.items) == [
        (f"job#{job}", f"{line:06d}") for job in ("job-1", "job-2") for line in range(4)
    ]
    item = dynamodb.items[("job#job-2", "000001")]
    assert item["role"] == {"S": "current"} and item["predicted"] == {"L": [{"S": "World"}]}
    assert item["model"] == {"S": "arn:current"}
    assert json.loads(item["scores"]["S"]) == [{"Name": "World", "Score": 0.9}]


def test_a_first_round_summary_has_no_live_model() -> None:
    store = FakeStore({
        "rounds/r1/test-labels.json": b'[["World"]]',
        OUTPUT_KEY: archive([classes(0, ("World", 0.9))]),
    })  # fmt: skip
    jobs = [JobResult("candidate", "arn:candidate", "job-1", OUTPUT_URI)]
    settings = replace(SETTINGS, metric="Accuracy")
    summary = evaluate_round("r1", jobs, settings, store, FakeDynamoDB())
    assert (summary["decision"], summary["current"], summary["currentValue"]) == (
        "promoted", None, None
    )  # fmt: skip
    assert summary["metric"] == "Accuracy" and summary["rejected"] == []
    assert summary["groundTruthTestDocuments"] == 0


def test_a_round_without_test_labels_or_a_candidate_cannot_be_evaluated() -> None:
    with pytest.raises(EvaluationError, match="has no test labels"):
        evaluate_round("r1", [], SETTINGS, FakeStore(), FakeDynamoDB())
    store = FakeStore({"rounds/r1/test-labels.json": b'[["World"]]'})
    with pytest.raises(EvaluationError, match="the candidate was not evaluated"):
        evaluate_round("r1", [], SETTINGS, store, FakeDynamoDB())


def _round(
    truth: list[str], candidate: list[str], current: list[str], trusted: list[int] | None = None
) -> tuple[FakeStore, list[JobResult]]:
    """A round's test labels, its trusted lines and both models' predictions (one class each)."""
    current_key = OUTPUT_KEY.replace("candidate", "current")
    objects = {
        "rounds/r1/test-labels.json": json.dumps([[label] for label in truth]).encode(),
        OUTPUT_KEY: archive([classes(i, (label, 0.9)) for i, label in enumerate(candidate)]),
        current_key: archive([classes(i, (label, 0.9)) for i, label in enumerate(current)]),
    }
    if trusted is not None:
        objects["rounds/r1/test-trusted.json"] = json.dumps(trusted).encode()
    jobs = [
        JobResult("candidate", "arn:candidate", "job-1", OUTPUT_URI),
        JobResult("current", "arn:current", "job-2", f"s3://{BUCKET}/{current_key}"),
    ]
    return FakeStore(objects), jobs


def test_a_round_whose_candidate_loses_on_the_ground_truth_keeps_the_live_model() -> None:
    truth = ["World", "Sports", "World", "Business", "Sports", "Business"]
    candidate = ["Business", "Business", "World", "Business", "Sports", "Business"]
    current = ["World", "Sports", "World", "World", "World", "World"]
    store, jobs = _round(truth, candidate, current, trusted=[0, 1])
    settings = replace(SETTINGS, metric="Accuracy")
    summary = evaluate_round("r1", jobs, settings, store, FakeDynamoDB())
    assert (summary["decision"], summary["reason"]) == (
        "kept",
        "Accuracy improves from 0.5000 to 0.6667 overall, but falls from 1.0000 to 0.0000 on "
        "the 2 test documents of the ground truth",
    )


@pytest.mark.parametrize(("per_mille", "decision"), [(500, "kept"), (499, "promoted")])
def test_the_minimum_improvement_is_in_thousandths_of_the_metric(
    per_mille: int, decision: str
) -> None:
    store, jobs = _round(["World", "Sports"], ["World", "Sports"], ["World", "World"])
    settings = replace(SETTINGS, metric="Accuracy", min_improvement_per_mille=per_mille)
    assert evaluate_round("r1", jobs, settings, store, FakeDynamoDB())["decision"] == decision


def test_trusted_lines_past_the_test_set_are_refused() -> None:
    store, jobs = _round(["World", "Sports"], ["World", "Sports"], ["World", "World"], [0, 2])
    with pytest.raises(EvaluationError) as error:
        evaluate_round("r1", jobs, SETTINGS, store, FakeDynamoDB())
    assert str(error.value) == "round r1 has trusted lines outside its test set"


def test_a_multi_label_round_is_read_as_labels() -> None:
    store = FakeStore({
        "rounds/r1/test-labels.json": b'[["World", "Sports"]]',
        OUTPUT_KEY: archive([labels(0, ("World", 0.9), ("Sports", 0.6))]),
    })  # fmt: skip
    jobs = [JobResult("candidate", "arn:candidate", "job-1", OUTPUT_URI)]
    settings = replace(SETTINGS, mode="MULTI_LABEL")
    assert evaluate_round("r1", jobs, settings, store, FakeDynamoDB())["candidateValue"] == 1.0


def test_predictions_are_stored_25_at_a_time_and_unprocessed_ones_fail_after_8_tries() -> None:
    store = FakeStore({
        "rounds/r1/test-labels.json": json.dumps([["World"]] * 30).encode(),
        OUTPUT_KEY: archive([classes(i, ("World", 0.9)) for i in range(30)]),
    })  # fmt: skip
    jobs = [JobResult("candidate", "arn:candidate", "job-1", OUTPUT_URI)]
    dynamodb = FakeDynamoDB()
    evaluate_round("r1", jobs, SETTINGS, store, dynamodb)
    assert len(dynamodb.items) == 30 and dynamodb.calls == 3  # 25 (one resubmitted), then 5

    class Throttled:
        calls = 0

        def batch_write_item(self, **call: Any) -> dict[str, Any]:
            self.calls += 1
            return {"UnprocessedItems": call["RequestItems"]}

    throttled = Throttled()
    with pytest.raises(RuntimeError, match=r"^25 items of state stayed unprocessed$"):
        evaluate_round("r1", jobs, SETTINGS, store, throttled)
    assert throttled.calls == 8
