"""The lifecycle's selection metrics: hand-worked cases, and scikit-learn's own functions
computed side by side on the same predictions."""

from __future__ import annotations

import random

import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score
from sklearn.preprocessing import MultiLabelBinarizer

from lambdas.comprehend_model_lifecycle.metrics import METRICS, Evaluation, evaluate


def sets(*labels: str) -> list[frozenset[str]]:
    """One label set per argument; `AB` is {A, B}, `-` the empty set."""
    return [frozenset(group.replace("-", "")) for group in labels]


def test_multi_class_hand_worked() -> None:
    # A: tp 1, fp 1, fn 1 -> P 1/2, R 1/2, F1 1/2
    # B: tp 1, fp 1, fn 0 -> P 1/2, R 1,   F1 2/3
    # C: tp 0, fp 0, fn 1 -> P 0,   R 0,   F1 0
    result = evaluate(sets("A", "A", "B", "C"), sets("A", "B", "B", "A"))
    assert result.accuracy == pytest.approx(2 / 4)
    assert result.precision == pytest.approx((1 / 2 + 1 / 2 + 0) / 3)
    assert result.recall == pytest.approx((1 / 2 + 1 + 0) / 3)
    assert result.f1 == pytest.approx((1 / 2 + 2 / 3 + 0) / 3)
    assert result.documents == 4


def test_multi_label_hand_worked() -> None:
    # A: tp 2, fp 0, fn 0 -> P 1, R 1, F1 1
    # B: tp 0, fp 1, fn 2 -> P 0, R 0, F1 0
    # No document has exactly its labels predicted.
    result = evaluate(sets("AB", "A", "B"), sets("A", "AB", "-"))
    assert (result.accuracy, result.precision, result.recall, result.f1) == (0.0, 0.5, 0.5, 0.5)


def test_a_label_only_ever_predicted_counts_against_the_macro_averages() -> None:
    # A: P 1, R 1/2, F1 2/3; B (never true): P 0, R 0, F1 0.
    result = evaluate(sets("A", "A"), sets("A", "B"))
    assert result.precision == pytest.approx(0.5)
    assert result.recall == pytest.approx(0.25)
    assert result.f1 == pytest.approx(1 / 3)


def test_the_F1_is_the_mean_of_per_label_F1_not_F1_of_the_means() -> None:
    result = evaluate(sets("A", "A", "A", "B"), sets("A", "B", "B", "B"))
    # A: P 1, R 1/3, F1 1/2; B: P 1/3, R 1, F1 1/2.
    assert result.f1 == pytest.approx(0.5)
    mean_precision, mean_recall = (1 + 1 / 3) / 2, (1 / 3 + 1) / 2
    assert 2 * mean_precision * mean_recall / (mean_precision + mean_recall) != pytest.approx(0.5)


def test_perfect_predictions_score_one_everywhere() -> None:
    truth = sets("A", "BC", "C")
    assert evaluate(truth, truth) == Evaluation(1.0, 1.0, 1.0, 1.0, 3)


def _random_case(seed: int, multi_label: bool) -> tuple[list[frozenset[str]], list[frozenset[str]]]:
    rng = random.Random(seed)
    labels = [f"L{i}" for i in range(rng.randint(2, 6))]
    documents = rng.randint(1, 60)

    def draw(allow_empty: bool) -> frozenset[str]:
        if not multi_label:
            return frozenset([rng.choice(labels)])
        low = 0 if allow_empty else 1
        return frozenset(rng.sample(labels, rng.randint(low, len(labels))))

    truth = [draw(allow_empty=False) for _ in range(documents)]
    # Mostly right, so that every kind of count occurs.
    predicted = [t if rng.random() < 0.5 else draw(allow_empty=True) for t in truth]
    return truth, predicted


@pytest.mark.parametrize("seed", range(40))
def test_multi_class_metrics_equal_scikit_learns(seed: int) -> None:
    truth, predicted = _random_case(seed, multi_label=False)
    y_true = [next(iter(t)) for t in truth]
    y_pred = [next(iter(p)) for p in predicted]
    labels = sorted(set(y_true) | set(y_pred))
    result = evaluate(truth, predicted)
    assert result.accuracy == pytest.approx(accuracy_score(y_true, y_pred))
    for ours, theirs in (
        (result.precision, precision_score),
        (result.recall, recall_score),
        (result.f1, f1_score),
    ):
        expected = theirs(y_true, y_pred, labels=labels, average="macro", zero_division=0)
        assert ours == pytest.approx(expected)


@pytest.mark.parametrize("seed", range(40))
def test_multi_label_metrics_equal_scikit_learns(seed: int) -> None:
    truth, predicted = _random_case(seed, multi_label=True)
    binarizer = MultiLabelBinarizer(classes=sorted(set().union(*truth, *predicted)))
    y_true = binarizer.fit_transform(truth)
    y_pred = binarizer.transform(predicted)
    result = evaluate(truth, predicted)
    assert result.accuracy == pytest.approx(accuracy_score(y_true, y_pred))  # exact match
    for ours, theirs in (
        (result.precision, precision_score),
        (result.recall, recall_score),
        (result.f1, f1_score),
    ):
        assert ours == pytest.approx(theirs(y_true, y_pred, average="macro", zero_division=0))


def test_value_names_each_metric_and_refuses_others() -> None:
    result = Evaluation(accuracy=0.1, precision=0.2, recall=0.3, f1=0.4, documents=7)
    assert [result.value(m) for m in METRICS] == [0.1, 0.2, 0.3, 0.4]
    with pytest.raises(ValueError) as error:
        result.value("F2")
    assert str(error.value) == "unknown metric 'F2'; choose from Accuracy, Precision, Recall, F1"


def test_as_dict_rounds_to_four_places_like_comprehend() -> None:
    result = Evaluation(accuracy=2 / 3, precision=1 / 3, recall=0.123456, f1=1.0, documents=3)
    assert result.as_dict() == {
        "Accuracy": 0.6667,
        "Precision": 0.3333,
        "Recall": 0.1235,
        "F1": 1.0,
        "documents": 3,
    }


def test_predictions_must_match_the_truth_one_to_one() -> None:
    with pytest.raises(ValueError, match="2 true label sets but 1 predictions"):
        evaluate(sets("A", "B"), sets("A"))
    with pytest.raises(ValueError, match="the test set is empty"):
        evaluate([], [])
