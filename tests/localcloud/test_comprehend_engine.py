"""The local Comprehend engine, driven through real boto3 clients; data and outputs on moto's S3."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import re
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core.config import DefaultConfig, default_user_config

from localcloud.core.clock import LocalClock
from localcloud.core.protocol import register_on_client
from localcloud.services.comprehend.engine import ComprehendEngine, ComprehendTimings
from tests.helpers.engines import REGION, SESSION, cbor_client, fake_credentials

BUCKETS = ("data-bucket", "out-bucket")
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/ComprehendDataAccess"
TIMINGS = ComprehendTimings(
    classifier_queued_seconds=60,
    training_base_seconds=240,
    training_seconds_per_document=0.5,
    validation_seconds=30,
    stop_seconds=30,
    classifier_delete_seconds=60,
    job_queued_seconds=30,
    job_base_seconds=120,
    job_seconds_per_character=0.001,
    endpoint_create_seconds=300,
    endpoint_update_seconds=300,
    endpoint_delete_seconds=120,
)
PAST_THE_END = 7200.0  # virtual seconds: long enough for anything in these tests
SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "comprehend_model_lifecycle"
NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})


class DeniedS3:
    """A role's S3 client for a role that may not read the training bucket."""

    def get_paginator(self, name: str) -> Any:
        raise ClientError(
            {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "ListObjectsV2"
        )


@pytest.fixture(autouse=True)
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    fake_credentials(monkeypatch)
    # moto has a partial Comprehend of its own; passing it through leaves every Comprehend
    # call to the engine (the local cloud's dispatcher does the same).
    config: DefaultConfig = {
        "core": {**default_user_config["core"], "passthrough": {"services": ["comprehend"]}}
    }
    with mock_aws(config=config):
        yield


@pytest.fixture
def roles(s3: Any) -> list[str]:
    """The role ARNs the engine asked S3 clients for, in order."""
    return []


@pytest.fixture
def engine(clock: LocalClock, s3: Any, roles: list[str]) -> ComprehendEngine:
    def s3_for_role(role_arn: str) -> Any:
        roles.append(role_arn)
        return s3

    return ComprehendEngine(clock, s3_for_role, timings=TIMINGS)


def _client(engine: ComprehendEngine, config: Config | None = None) -> Any:
    client = SESSION.client("comprehend", config=config or NO_RETRIES)
    register_on_client(client, engine)
    return client


@pytest.fixture
def comprehend(engine: ComprehendEngine) -> Any:
    return _client(engine)


# --- helpers ----------------------------------------------------------------------------------

VOCABULARY = {
    "World": ("election", "minister", "treaty", "border", "embassy", "parliament"),
    "Sports": ("goal", "match", "coach", "league", "striker", "stadium"),
    "Business": ("shares", "profit", "merger", "investor", "revenue", "bank"),
    "SciTech": ("rocket", "software", "genome", "satellite", "chip", "robot"),
    "Positive": ("wonderful", "delightful", "great", "superb", "lovely", "brilliant"),
    "Negative": ("awful", "dreadful", "poor", "terrible", "broken", "boring"),
}


def _corpus(labels: list[str], per_label: int, start: int = 0) -> list[tuple[str, str]]:
    """(label, text) rows: distinct short documents built from each label's words."""
    rows = []
    for label in labels:
        words = VOCABULARY[label]
        for i in range(start, start + per_label):
            first, second = words[i % len(words)], words[(i * 7 + 3) % len(words)]
            rows.append((label, f"Report {i}: the {first} and the {second} made the news"))
    return rows


def _csv(rows: list[tuple[str, str]] | list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode("utf-8")


def _sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def _create(comprehend: Any, name: str, s3_uri: str, **overrides: Any) -> str:
    request: dict[str, Any] = {
        "DocumentClassifierName": name,
        "DataAccessRoleArn": ROLE,
        "InputDataConfig": {"S3Uri": s3_uri},
        "LanguageCode": "en",
        **overrides,
    }
    return str(comprehend.create_document_classifier(**request)["DocumentClassifierArn"])


def _classifier(comprehend: Any, arn: str) -> dict[str, Any]:
    response = comprehend.describe_document_classifier(DocumentClassifierArn=arn)
    return dict(response["DocumentClassifierProperties"])


def _trained(comprehend: Any, clock: LocalClock, arn: str) -> dict[str, Any]:
    clock.advance(PAST_THE_END)
    props = _classifier(comprehend, arn)
    assert props["Status"] == "TRAINED", props.get("Message")
    return props


def _train_corpus(
    comprehend: Any, s3: Any, clock: LocalClock, name: str, labels: list[str], per_label: int = 50
) -> str:
    s3.put_object(
        Bucket="data-bucket", Key=f"{name}/train.csv", Body=_csv(_corpus(labels, per_label))
    )
    arn = _create(comprehend, name, f"s3://data-bucket/{name}/train.csv")
    _trained(comprehend, clock, arn)
    return arn


def _archive(s3: Any, uri: str) -> dict[str, bytes]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
        return {
            member.name: archive.extractfile(member).read()  # type: ignore[union-attr]
            for member in archive.getmembers()
        }


def _keys(s3: Any, bucket: str = "out-bucket") -> list[str]:
    return sorted(item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def _start_job(comprehend: Any, classifier_arn: str, input_uri: str, **overrides: Any) -> str:
    request: dict[str, Any] = {
        "DocumentClassifierArn": classifier_arn,
        "InputDataConfig": {"S3Uri": input_uri, "InputFormat": "ONE_DOC_PER_LINE"},
        "OutputDataConfig": {"S3Uri": "s3://out-bucket/jobs/"},
        "DataAccessRoleArn": ROLE,
        **overrides,
    }
    return str(comprehend.start_document_classification_job(**request)["JobId"])


def _job(comprehend: Any, job_id: str) -> dict[str, Any]:
    response = comprehend.describe_document_classification_job(JobId=job_id)
    return dict(response["DocumentClassificationJobProperties"])


def _predictions(s3: Any, job: dict[str, Any]) -> list[dict[str, Any]]:
    files = _archive(s3, job["OutputDataConfig"]["S3Uri"])
    assert list(files) == ["predictions.jsonl"]
    return [json.loads(line) for line in files["predictions.jsonl"].decode().splitlines()]


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = exc.value.response["Error"]
    return error["Code"], error["Message"]


# --- classifier training ----------------------------------------------------------------------


def test_classifier_trains_on_the_local_clock_with_real_metrics(
    comprehend: Any, engine: ComprehendEngine, clock: LocalClock, s3: Any, roles: list[str]
) -> None:
    s3.put_object(Bucket="data-bucket", Key="news/initial.csv", Body=_sample("initial.csv"))
    arn = _create(
        comprehend,
        "news",
        "s3://data-bucket/news/initial.csv",
        VersionName="v1",
        OutputDataConfig={"S3Uri": "s3://out-bucket/training"},
        Tags=[{"Key": "team", "Value": "ml"}],
    )
    assert arn == f"arn:aws:comprehend:{REGION}:{ACCOUNT}:document-classifier/news/version/v1"

    submitted = _classifier(comprehend, arn)
    assert submitted["Status"] == "SUBMITTED"
    assert submitted["Mode"] == "MULTI_CLASS"
    assert submitted["VersionName"] == "v1"
    assert submitted["InputDataConfig"] == {
        "DataFormat": "COMPREHEND_CSV",
        "S3Uri": "s3://data-bucket/news/initial.csv",
    }
    assert "TrainingStartTime" not in submitted and "ClassifierMetadata" not in submitted
    output_uri = submitted["OutputDataConfig"]["S3Uri"]
    assert re.fullmatch(
        rf"s3://out-bucket/training/{ACCOUNT}-CLR-[0-9a-f]{{32}}/output/output\.tar\.gz",
        output_uri,
    )
    assert roles == []  # nothing is read before training starts

    clock.advance(TIMINGS.classifier_queued_seconds)
    training = _classifier(comprehend, arn)
    assert training["Status"] == "TRAINING"
    assert training["TrainingStartTime"] > training["SubmitTime"]
    assert "ClassifierMetadata" not in training and _keys(s3) == []
    assert roles == [ROLE]  # the data is read with the data access role

    clock.advance(PAST_THE_END)
    trained = _classifier(comprehend, arn)
    assert trained["Status"] == "TRAINED"
    documents = len(_rows("initial.csv"))
    expected_seconds = (
        TIMINGS.training_base_seconds + documents * TIMINGS.training_seconds_per_document
    )
    duration = trained["TrainingEndTime"] - trained["TrainingStartTime"]
    assert duration.total_seconds() == pytest.approx(expected_seconds, abs=0.01)
    assert trained["EndTime"] == trained["TrainingEndTime"]
    assert engine.usage.training_seconds == pytest.approx(expected_seconds, abs=0.01)

    metadata = trained["ClassifierMetadata"]
    # Autosplit: 10% of the 320 documents are held out for evaluation.
    assert documents == 320
    assert metadata["NumberOfLabels"] == 4
    assert metadata["NumberOfTrainedDocuments"] == 288
    assert metadata["NumberOfTestDocuments"] == 32
    metrics = metadata["EvaluationMetrics"]
    assert set(metrics) == {
        "Accuracy",
        "Precision",
        "Recall",
        "F1Score",
        "MicroPrecision",
        "MicroRecall",
        "MicroF1Score",
        "HammingLoss",
    }
    assert all(0.0 <= value <= 1.0 for value in metrics.values())
    assert 0.5 < metrics["Accuracy"] < 1.0  # learnt something, but the samples are ambiguous

    files = _archive(s3, output_uri)
    assert list(files) == ["confusion_matrix.json"]
    confusion = json.loads(files["confusion_matrix.json"])
    assert confusion["type"] == "multi_class"
    assert (
        confusion["labels"]
        == confusion["all_labels"]
        == [
            "Business",
            "SciTech",
            "Sports",
            "World",
        ]
    )
    matrix = confusion["confusion_matrix"]  # rows: actual label, columns: predicted label
    total = sum(map(sum, matrix))
    assert total == 32
    correct = sum(matrix[i][i] for i in range(4))
    assert metrics["Accuracy"] == round(correct / total, 4)
    assert metrics["MicroPrecision"] == metrics["MicroRecall"] == metrics["Accuracy"]
    assert metrics["HammingLoss"] == round(1 - correct / total, 4)
    precisions, recalls, f1s = [], [], []
    for i in range(4):
        predicted = sum(row[i] for row in matrix)
        actual = sum(matrix[i])
        if predicted == 0 and actual == 0:
            continue
        p = matrix[i][i] / predicted if predicted else 0.0
        r = matrix[i][i] / actual if actual else 0.0
        precisions.append(p)
        recalls.append(r)
        f1s.append(2 * p * r / (p + r) if p + r else 0.0)
    assert metrics["Precision"] == round(sum(precisions) / len(precisions), 4)
    assert metrics["Recall"] == round(sum(recalls) / len(recalls), 4)
    assert metrics["F1Score"] == round(sum(f1s) / len(f1s), 4)  # mean of per-label F1


def test_names_versions_and_client_request_tokens(comprehend: Any, s3: Any) -> None:
    s3.put_object(
        Bucket="data-bucket", Key="train.csv", Body=_csv(_corpus(["World", "Sports"], 50))
    )
    uri = "s3://data-bucket/train.csv"
    first = _create(comprehend, "topics", uri, ClientRequestToken="token-1")
    assert _create(comprehend, "topics", uri, ClientRequestToken="token-1") == first
    with pytest.raises(comprehend.exceptions.InvalidRequestException, match="token-1"):
        _create(comprehend, "topics", uri, ClientRequestToken="token-1", LanguageCode="de")
    with pytest.raises(comprehend.exceptions.ResourceInUseException, match="topics"):
        _create(comprehend, "topics", uri)
    second = _create(comprehend, "topics", uri, VersionName="v2")
    assert second == first + "/version/v2"
    with pytest.raises(comprehend.exceptions.ResourceInUseException):
        _create(comprehend, "topics", uri, VersionName="v2")
    listed = comprehend.list_document_classifiers()["DocumentClassifierPropertiesList"]
    assert [props["DocumentClassifierArn"] for props in listed] == [first, second]


def test_list_classifiers_filters_and_pages(comprehend: Any, clock: LocalClock, s3: Any) -> None:
    s3.put_object(
        Bucket="data-bucket", Key="train.csv", Body=_csv(_corpus(["World", "Sports"], 50))
    )
    uri = "s3://data-bucket/train.csv"
    alpha = _create(comprehend, "alpha", uri)
    clock.advance(PAST_THE_END)
    beta = _create(comprehend, "beta", uri)
    clock.advance(1)
    beta_v2 = _create(comprehend, "beta", uri, VersionName="v2")

    page = comprehend.list_document_classifiers(MaxResults=2)
    assert [p["DocumentClassifierArn"] for p in page["DocumentClassifierPropertiesList"]] == [
        alpha,
        beta,
    ]
    rest = comprehend.list_document_classifiers(MaxResults=2, NextToken=page["NextToken"])
    assert [p["DocumentClassifierArn"] for p in rest["DocumentClassifierPropertiesList"]] == [
        beta_v2
    ]
    assert "NextToken" not in rest

    def arns(**filters: Any) -> list[str]:
        listed = comprehend.list_document_classifiers(Filter=filters)
        return [p["DocumentClassifierArn"] for p in listed["DocumentClassifierPropertiesList"]]

    assert arns(DocumentClassifierName="beta") == [beta, beta_v2]
    assert arns(Status="TRAINED") == [alpha]
    assert arns(Status="SUBMITTED") == [beta, beta_v2]
    submitted = _classifier(comprehend, beta)["SubmitTime"]
    assert arns(SubmitTimeBefore=submitted) == [alpha]
    with pytest.raises(comprehend.exceptions.InvalidFilterException):
        arns(Status="TRAINED", DocumentClassifierName="alpha")


def test_stop_training(
    comprehend: Any, engine: ComprehendEngine, clock: LocalClock, s3: Any
) -> None:
    s3.put_object(
        Bucket="data-bucket", Key="train.csv", Body=_csv(_corpus(["World", "Sports"], 50))
    )
    running = _create(comprehend, "running", "s3://data-bucket/train.csv")
    queued = _create(comprehend, "queued", "s3://data-bucket/train.csv")
    comprehend.stop_training_document_classifier(DocumentClassifierArn=queued)
    clock.advance(TIMINGS.classifier_queued_seconds + 10)
    assert _classifier(comprehend, running)["Status"] == "TRAINING"
    assert _classifier(comprehend, queued)["Status"] == "STOPPED"

    comprehend.stop_training_document_classifier(DocumentClassifierArn=running)
    assert _classifier(comprehend, running)["Status"] == "STOP_REQUESTED"
    clock.advance(TIMINGS.stop_seconds)
    stopped = _classifier(comprehend, running)
    assert stopped["Status"] == "STOPPED"
    assert "ClassifierMetadata" not in stopped and "TrainingEndTime" not in stopped
    assert engine.usage.training_seconds == pytest.approx(10 + TIMINGS.stop_seconds, abs=0.01)
    clock.advance(PAST_THE_END)
    assert _classifier(comprehend, running)["Status"] == "STOPPED"
    comprehend.stop_training_document_classifier(DocumentClassifierArn=running)  # no effect
    with pytest.raises(comprehend.exceptions.ResourceUnavailableException, match="STOPPED"):
        comprehend.create_endpoint(EndpointName="nope", ModelArn=running, DesiredInferenceUnits=1)


def test_delete_classifier(comprehend: Any, clock: LocalClock, s3: Any) -> None:
    s3.put_object(
        Bucket="data-bucket", Key="train.csv", Body=_csv(_corpus(["World", "Sports"], 50))
    )
    arn = _create(comprehend, "short-lived", "s3://data-bucket/train.csv")
    with pytest.raises(comprehend.exceptions.ResourceUnavailableException, match="SUBMITTED"):
        comprehend.delete_document_classifier(DocumentClassifierArn=arn)
    _trained(comprehend, clock, arn)
    comprehend.delete_document_classifier(DocumentClassifierArn=arn)
    assert _classifier(comprehend, arn)["Status"] == "DELETING"
    with pytest.raises(comprehend.exceptions.ResourceInUseException):
        _create(comprehend, "short-lived", "s3://data-bucket/train.csv")
    clock.advance(TIMINGS.classifier_delete_seconds)
    with pytest.raises(comprehend.exceptions.ResourceNotFoundException):
        _classifier(comprehend, arn)
    assert comprehend.list_document_classifiers()["DocumentClassifierPropertiesList"] == []
    assert _create(comprehend, "short-lived", "s3://data-bucket/train.csv") == arn


TWO_CLASSES = _corpus(["World", "Sports"], 50)
BAD_TRAINING_DATA: dict[str, tuple[dict[str, bytes], dict[str, Any], str]] = {
    # case: (objects under s3://data-bucket/bad/, extra InputDataConfig, expected message)
    "not UTF-8": (
        {"bad/train.csv": _csv(TWO_CLASSES) + "World,caf\xe9 au lait\n".encode("latin-1")},
        {},
        r"s3://data-bucket/bad/train\.csv is not valid UTF-8",
    ),
    "empty file": ({"bad/train.csv": b""}, {}, "contains no documents"),
    "nothing at the location": ({}, {}, "No data was found at s3://data-bucket/bad/"),
    "three columns": (
        {"bad/train.csv": _csv(TWO_CLASSES) + b"Sports,a match, unquoted comma\n"},
        {},
        r"Line 101 of s3://data-bucket/bad/train\.csv has 3 column\(s\)",
    ),
    "one column": (
        {"bad/train.csv": b"Sports\n" + _csv(TWO_CLASSES)},
        {},
        r"Line 1 of s3://data-bucket/bad/train\.csv has 1 column\(s\)",
    ),
    "unterminated quote": (
        {"bad/train.csv": _csv(TWO_CLASSES) + b'World,"a quote that never ends\n'},
        {},
        "is not valid CSV",
    ),
    "empty label": (
        {"bad/train.csv": _csv(TWO_CLASSES) + b",a document without a label\n"},
        {},
        r"Line 101 .* has an empty label",
    ),
    "a single class": (
        {"bad/train.csv": _csv(_corpus(["World"], 60))},
        {},
        r"1 distinct label\(s\) \(World\); a classifier needs at least 2",
    ),
    "too few documents per class": (
        {"bad/train.csv": _csv(_corpus(["World"], 50) + _corpus(["Sports"], 49))},
        {},
        r"at least 50 training documents in MULTI_CLASS mode; too few .* Sports \(49\)",
    ),
    "test labels absent from training": (
        {
            "bad/train.csv": _csv(TWO_CLASSES),
            "test/test.csv": _csv(_corpus(["World", "Sports", "Business"], 2)),
        },
        {"TestS3Uri": "s3://data-bucket/test/test.csv"},
        "labels that are not in the training data: Business",
    ),
    "test set missing a training label": (
        {"bad/train.csv": _csv(TWO_CLASSES), "test/test.csv": _csv(_corpus(["World"], 3))},
        {"TestS3Uri": "s3://data-bucket/test/test.csv"},
        "at least one example of each training label; it has none for: Sports",
    ),
}


@pytest.mark.parametrize("case", list(BAD_TRAINING_DATA))
def test_training_data_breaking_the_requirements_ends_in_error(
    case: str, comprehend: Any, clock: LocalClock, s3: Any
) -> None:
    objects, extra_config, message = BAD_TRAINING_DATA[case]
    for key, body in objects.items():
        s3.put_object(Bucket="data-bucket", Key=key, Body=body)
    arn = _create(
        comprehend,
        "bad",
        "s3://data-bucket/bad/",
        InputDataConfig={"S3Uri": "s3://data-bucket/bad/", **extra_config},
        OutputDataConfig={"S3Uri": "s3://out-bucket/training/"},
    )
    clock.advance(TIMINGS.classifier_queued_seconds)
    assert _classifier(comprehend, arn)["Status"] == "TRAINING"
    clock.advance(TIMINGS.validation_seconds)
    props = _classifier(comprehend, arn)
    assert props["Status"] == "IN_ERROR"
    assert re.search(message, props["Message"]), props["Message"]
    assert "ClassifierMetadata" not in props and "TrainingEndTime" not in props
    assert _keys(s3) == []
    with pytest.raises(comprehend.exceptions.ResourceUnavailableException, match="IN_ERROR"):
        _start_job(comprehend, arn, "s3://data-bucket/bad/")
    comprehend.delete_document_classifier(DocumentClassifierArn=arn)


def test_unreadable_training_data_and_the_training_fault(clock: LocalClock, s3: Any) -> None:
    engine = ComprehendEngine(clock, lambda role_arn: DeniedS3(), timings=TIMINGS)
    comprehend = _client(engine)
    denied = _create(comprehend, "denied", "s3://data-bucket/train.csv")
    engine.fail_next_training("The training instance ran out of memory.")
    faulty = _create(comprehend, "faulty", "s3://data-bucket/train.csv")
    clock.advance(PAST_THE_END)
    assert _classifier(comprehend, denied)["Message"] == (
        f"Amazon Comprehend could not read s3://data-bucket/train.csv with the data access role "
        f"{ROLE}: AccessDenied."
    )
    failed = _classifier(comprehend, faulty)
    assert failed["Status"] == "IN_ERROR"
    assert failed["Message"] == "The training instance ran out of memory."


def test_multi_label_mode_with_a_label_delimiter(
    comprehend: Any, clock: LocalClock, s3: Any
) -> None:
    rows = []
    for i in range(60):
        labels = ["Positive" if i % 2 else "Negative"] + (["World"] if i % 3 == 0 else [])
        words = [VOCABULARY[label][(i // 2 + k) % 6] for label in labels for k in (0, 2)]
        rows.append((";".join(labels), f"Item {i}: {' '.join(words)} today"))
    s3.put_object(Bucket="data-bucket", Key="multi/train.csv", Body=_csv(rows))
    arn = _create(
        comprehend,
        "multi",
        "s3://data-bucket/multi/train.csv",
        Mode="MULTI_LABEL",
        InputDataConfig={"S3Uri": "s3://data-bucket/multi/train.csv", "LabelDelimiter": ";"},
        OutputDataConfig={"S3Uri": "s3://out-bucket/multi"},
    )
    props = _trained(comprehend, clock, arn)
    assert props["Mode"] == "MULTI_LABEL"
    metadata = props["ClassifierMetadata"]
    assert metadata["NumberOfLabels"] == 3  # Negative, Positive, World: ";" split the labels
    assert metadata["NumberOfTestDocuments"] == 6
    assert all(0.0 <= value <= 1.0 for value in metadata["EvaluationMetrics"].values())
    confusion = json.loads(
        _archive(s3, props["OutputDataConfig"]["S3Uri"])["confusion_matrix.json"]
    )
    assert confusion["type"] == "multi_label"
    assert confusion["labels"] == ["Negative", "Positive", "World"]
    # One [[TN, FP], [FN, TP]] matrix per label over the 6 test documents.
    assert [sum(map(sum, matrix)) for matrix in confusion["confusion_matrix"]] == [6, 6, 6]

    s3.put_object(
        Bucket="data-bucket",
        Key="multi-input/docs.txt",
        Body=b"wonderful delightful minister embassy today\nawful dreadful boring today\n",
    )
    job_id = _start_job(comprehend, arn, "s3://data-bucket/multi-input/")
    clock.advance(PAST_THE_END)
    predictions = _predictions(s3, _job(comprehend, job_id))
    assert [(p["File"], p["Line"]) for p in predictions] == [("docs.txt", "0"), ("docs.txt", "1")]
    for prediction in predictions:
        assert "Classes" not in prediction
        scores = [entry["Score"] for entry in prediction["Labels"]]
        assert len(scores) == 3 and scores == sorted(scores, reverse=True)
    # Labels are independent: each has its own probability, 0.5 or more means present.
    predicted = [
        {entry["Name"] for entry in prediction["Labels"] if entry["Score"] >= 0.5}
        for prediction in predictions
    ]
    assert predicted == [{"Positive", "World"}, {"Negative"}]

    # With the default delimiter "|", labels joined by ";" stay one combined label each.
    s3.put_object(Bucket="data-bucket", Key="pipes/train.csv", Body=_csv(rows))
    piped = _create(comprehend, "pipes", "s3://data-bucket/pipes/train.csv", Mode="MULTI_LABEL")
    combined = _trained(comprehend, clock, piped)
    assert combined["ClassifierMetadata"]["NumberOfLabels"] == 4
    assert combined["OutputDataConfig"] == {}  # none was asked for


# --- classification jobs ----------------------------------------------------------------------


def test_classification_job_writes_the_documented_output(
    comprehend: Any, engine: ComprehendEngine, clock: LocalClock, s3: Any
) -> None:
    arn = _train_corpus(comprehend, s3, clock, "topics", ["World", "Sports", "Business"])
    lines = "the election and the treaty\n\nthe striker scored a goal\nshares and profit rose\n"
    s3.put_object(Bucket="data-bucket", Key="inbox/batch-1.txt", Body=lines.encode())
    s3.put_object(Bucket="data-bucket", Key="inbox/", Body=b"")  # a folder placeholder
    request = {
        "JobName": "nightly",
        "DocumentClassifierArn": arn,
        "InputDataConfig": {"S3Uri": "s3://data-bucket/inbox/", "InputFormat": "ONE_DOC_PER_LINE"},
        "OutputDataConfig": {"S3Uri": "s3://out-bucket/jobs"},
        "DataAccessRoleArn": ROLE,
        "ClientRequestToken": "job-token",
    }
    started = comprehend.start_document_classification_job(**request)
    job_id = started["JobId"]
    assert re.fullmatch(r"[0-9a-f]{32}", job_id)
    assert started["JobStatus"] == "SUBMITTED"
    assert started["JobArn"] == (
        f"arn:aws:comprehend:{REGION}:{ACCOUNT}:document-classification-job/{job_id}"
    )
    again = comprehend.start_document_classification_job(**request)
    assert again["JobId"] == job_id
    # The id follows from the token (a fresh engine gives the same one), so the output's key
    # is known before the job starts.
    assert job_id == engine.job_id_for("job-token") != engine.job_id_for("other-token")
    output_uri = f"s3://out-bucket/jobs/{ACCOUNT}-CLN-{job_id}/output/output.tar.gz"

    submitted = _job(comprehend, job_id)
    assert submitted["JobStatus"] == "SUBMITTED"
    assert submitted["OutputDataConfig"] == {"S3Uri": output_uri}
    clock.advance(TIMINGS.job_queued_seconds)
    assert _job(comprehend, job_id)["JobStatus"] == "IN_PROGRESS"
    assert _keys(s3) == []
    clock.advance(PAST_THE_END)
    done = _job(comprehend, job_id)
    assert done["JobStatus"] == "COMPLETED"
    assert done["JobName"] == "nightly"
    assert done["DocumentClassifierArn"] == arn
    assert done["InputDataConfig"] == {
        "S3Uri": "s3://data-bucket/inbox/",
        "InputFormat": "ONE_DOC_PER_LINE",
    }
    duration = done["EndTime"] - done["SubmitTime"]
    expected = TIMINGS.job_queued_seconds + TIMINGS.job_base_seconds
    assert duration.total_seconds() == pytest.approx(
        expected + len(lines) * TIMINGS.job_seconds_per_character, abs=0.01
    )
    assert _keys(s3) == [f"jobs/{ACCOUNT}-CLN-{job_id}/output/output.tar.gz"]

    predictions = _predictions(s3, done)
    # One object per non-blank line; Line is the zero-based input line, as a string.
    assert [(p["File"], p["Line"]) for p in predictions] == [
        ("batch-1.txt", "0"),
        ("batch-1.txt", "2"),
        ("batch-1.txt", "3"),
    ]
    assert [p["Classes"][0]["Name"] for p in predictions] == ["World", "Sports", "Business"]
    for prediction in predictions:
        scores = [entry["Score"] for entry in prediction["Classes"]]
        assert len(scores) == 3 and scores == sorted(scores, reverse=True)
        assert set(prediction) == {"File", "Line", "Classes"}
    characters = sum(len(line) for line in lines.splitlines())
    assert engine.usage.batch_characters == characters
    assert engine.usage.realtime_characters == 0

    with pytest.raises(comprehend.exceptions.InvalidRequestException, match="job-token"):
        _start_job(comprehend, arn, "s3://data-bucket/other/", ClientRequestToken="job-token")


def test_one_document_per_file_and_job_listing(comprehend: Any, clock: LocalClock, s3: Any) -> None:
    arn = _train_corpus(comprehend, s3, clock, "topics", ["World", "Sports"])
    s3.put_object(Bucket="data-bucket", Key="docs/a.txt", Body=b"The election.\nThe treaty.\n")
    s3.put_object(Bucket="data-bucket", Key="docs/sub/b.txt", Body=b"The goal and the match.")
    per_file = _start_job(
        comprehend,
        arn,
        "s3://data-bucket/docs",
        JobName="per-file",
        InputDataConfig={"S3Uri": "s3://data-bucket/docs", "InputFormat": "ONE_DOC_PER_FILE"},
    )
    clock.advance(PAST_THE_END)
    predictions = _predictions(s3, _job(comprehend, per_file))
    assert [(p["File"], p["Classes"][0]["Name"]) for p in predictions] == [
        ("a.txt", "World"),
        ("sub/b.txt", "Sports"),
    ]
    assert all("Line" not in p for p in predictions)
    assert [entry["Name"] for entry in predictions[0]["Classes"]] == ["World", "Sports"]

    default_format = _start_job(
        comprehend,
        arn,
        "s3://data-bucket/docs/a.txt",
        JobName="per-line",
        InputDataConfig={"S3Uri": "s3://data-bucket/docs/a.txt"},
    )
    assert _job(comprehend, default_format)["InputDataConfig"]["InputFormat"] == (
        "ONE_DOC_PER_LINE"
    )
    listed = comprehend.list_document_classification_jobs()
    assert [j["JobId"] for j in listed["DocumentClassificationJobPropertiesList"]] == [
        per_file,
        default_format,
    ]
    by_status = comprehend.list_document_classification_jobs(Filter={"JobStatus": "COMPLETED"})
    assert [j["JobName"] for j in by_status["DocumentClassificationJobPropertiesList"]] == [
        "per-file"
    ]
    with pytest.raises(comprehend.exceptions.InvalidFilterException):
        comprehend.list_document_classification_jobs(
            Filter={"JobName": "per-file", "JobStatus": "COMPLETED"}
        )
    with pytest.raises(comprehend.exceptions.JobNotFoundException):
        comprehend.describe_document_classification_job(JobId="0" * 32)


def test_failing_classification_jobs(
    comprehend: Any, engine: ComprehendEngine, clock: LocalClock, s3: Any
) -> None:
    arn = _train_corpus(comprehend, s3, clock, "topics", ["World", "Sports"])
    with pytest.raises(comprehend.exceptions.ResourceNotFoundException):
        _start_job(comprehend, arn.replace("topics", "missing"), "s3://data-bucket/in/")
    empty = _start_job(comprehend, arn, "s3://data-bucket/nothing-here/")
    s3.put_object(Bucket="data-bucket", Key="latin/a.txt", Body="caf\xe9\n".encode("latin-1"))
    latin = _start_job(comprehend, arn, "s3://data-bucket/latin/")
    s3.put_object(Bucket="data-bucket", Key="fine/a.txt", Body=b"The election.\n")
    engine.fail_next_classification_job("Internal failure while classifying.")
    faulty = _start_job(comprehend, arn, "s3://data-bucket/fine/")
    clock.advance(PAST_THE_END)
    assert _job(comprehend, empty)["Message"] == (
        "No input documents were found at s3://data-bucket/nothing-here/."
    )
    assert _job(comprehend, latin)["Message"] == (
        "The input file s3://data-bucket/latin/a.txt is not valid UTF-8."
    )
    assert _job(comprehend, faulty)["Message"] == "Internal failure while classifying."
    statuses = {_job(comprehend, job)["JobStatus"] for job in (empty, latin, faulty)}
    assert statuses == {"FAILED"}
    assert _keys(s3) == []


# --- endpoints and real-time classification ---------------------------------------------------


def _classify(comprehend: Any, clock: LocalClock, endpoint_arn: str, text: str) -> Any:
    clock.advance(5)  # stay within the endpoint's throughput
    return comprehend.classify_document(EndpointArn=endpoint_arn, Text=text)


def test_endpoint_lifecycle_follows_the_current_model(
    comprehend: Any, engine: ComprehendEngine, clock: LocalClock, s3: Any
) -> None:
    s3.put_object(Bucket="data-bucket", Key="news.csv", Body=_csv(_corpus(["World", "Sports"], 50)))
    news = _create(comprehend, "news", "s3://data-bucket/news.csv")
    with pytest.raises(comprehend.exceptions.ResourceUnavailableException, match="SUBMITTED"):
        comprehend.create_endpoint(EndpointName="live", ModelArn=news, DesiredInferenceUnits=1)
    _trained(comprehend, clock, news)
    reviews = _train_corpus(comprehend, s3, clock, "reviews", ["Positive", "Negative"])
    with pytest.raises(comprehend.exceptions.ResourceLimitExceededException, match="at most 10"):
        comprehend.create_endpoint(EndpointName="huge", ModelArn=news, DesiredInferenceUnits=11)

    created = comprehend.create_endpoint(
        EndpointName="live", ModelArn=news, DesiredInferenceUnits=1, ClientRequestToken="ep-1"
    )
    endpoint = created["EndpointArn"]
    assert endpoint == f"arn:aws:comprehend:{REGION}:{ACCOUNT}:document-classifier-endpoint/live"
    assert created["ModelArn"] == news
    again = comprehend.create_endpoint(
        EndpointName="live", ModelArn=news, DesiredInferenceUnits=1, ClientRequestToken="ep-1"
    )
    assert again["EndpointArn"] == endpoint
    with pytest.raises(comprehend.exceptions.ResourceInUseException):
        comprehend.create_endpoint(EndpointName="live", ModelArn=news, DesiredInferenceUnits=1)

    creating = comprehend.describe_endpoint(EndpointArn=endpoint)["EndpointProperties"]
    assert creating["Status"] == "CREATING"
    assert creating["DesiredInferenceUnits"] == 1 and "CurrentInferenceUnits" not in creating
    with pytest.raises(comprehend.exceptions.ResourceUnavailableException, match="CREATING"):
        comprehend.classify_document(EndpointArn=endpoint, Text="the election")
    with pytest.raises(comprehend.exceptions.ResourceInUseException, match="CREATING"):
        comprehend.delete_endpoint(EndpointArn=endpoint)

    clock.advance(TIMINGS.endpoint_create_seconds)
    ready = comprehend.describe_endpoint(EndpointArn=endpoint)["EndpointProperties"]
    assert ready["Status"] == "IN_SERVICE"
    assert ready["ModelArn"] == ready["DesiredModelArn"] == news
    assert ready["CurrentInferenceUnits"] == 1
    result = _classify(comprehend, clock, endpoint, "the minister signed the treaty")
    classes = result["Classes"]
    assert "Labels" not in result
    assert [c["Name"] for c in classes] == ["World", "Sports"]
    assert sum(c["Score"] for c in classes) == pytest.approx(1.0, abs=0.001)

    with pytest.raises(comprehend.exceptions.ResourceInUseException, match="endpoint"):
        comprehend.delete_document_classifier(DocumentClassifierArn=news)
    updated = comprehend.update_endpoint(
        EndpointArn=endpoint, DesiredModelArn=reviews, DesiredInferenceUnits=2
    )
    assert updated["DesiredModelArn"] == reviews
    updating = comprehend.describe_endpoint(EndpointArn=endpoint)["EndpointProperties"]
    assert updating["Status"] == "UPDATING"
    assert (updating["ModelArn"], updating["DesiredModelArn"]) == (news, reviews)
    assert (updating["CurrentInferenceUnits"], updating["DesiredInferenceUnits"]) == (1, 2)
    # While UPDATING the endpoint keeps serving the old model.
    during = _classify(comprehend, clock, endpoint, "a wonderful and delightful match")
    assert {c["Name"] for c in during["Classes"]} == {"World", "Sports"}
    with pytest.raises(comprehend.exceptions.ResourceInUseException, match="UPDATING"):
        comprehend.update_endpoint(EndpointArn=endpoint, DesiredInferenceUnits=3)
    with pytest.raises(comprehend.exceptions.ResourceInUseException):
        comprehend.delete_document_classifier(DocumentClassifierArn=reviews)

    clock.advance(TIMINGS.endpoint_update_seconds)
    switched = comprehend.describe_endpoint(EndpointArn=endpoint)["EndpointProperties"]
    assert switched["Status"] == "IN_SERVICE"
    assert switched["ModelArn"] == reviews and switched["CurrentInferenceUnits"] == 2
    after = _classify(comprehend, clock, endpoint, "a wonderful and delightful match")
    assert [c["Name"] for c in after["Classes"]] == ["Positive", "Negative"]
    listed = comprehend.list_endpoints(Filter={"ModelArn": reviews})["EndpointPropertiesList"]
    assert [e["EndpointArn"] for e in listed] == [endpoint]
    assert comprehend.list_endpoints(Filter={"ModelArn": news})["EndpointPropertiesList"] == []

    comprehend.delete_document_classifier(DocumentClassifierArn=news)  # no longer in use
    comprehend.delete_endpoint(EndpointArn=endpoint)
    assert comprehend.describe_endpoint(EndpointArn=endpoint)["EndpointProperties"]["Status"] == (
        "DELETING"
    )
    with pytest.raises(comprehend.exceptions.ResourceUnavailableException, match="DELETING"):
        comprehend.classify_document(EndpointArn=endpoint, Text="anything")
    clock.advance(TIMINGS.endpoint_delete_seconds)
    with pytest.raises(comprehend.exceptions.ResourceNotFoundException):
        comprehend.describe_endpoint(EndpointArn=endpoint)
    assert comprehend.list_endpoints()["EndpointPropertiesList"] == []
    comprehend.delete_document_classifier(DocumentClassifierArn=reviews)

    # Billed from creation to deletion: 1 unit until the update completed (creation, 5 s of
    # service, the update), then 2 units (5 s before the last classification, 5 s after it).
    one_unit = TIMINGS.endpoint_create_seconds + 5 + TIMINGS.endpoint_update_seconds
    assert engine.usage.inference_unit_seconds == pytest.approx(one_unit + 2 * 10, abs=0.01)
    assert engine.usage.realtime_characters == len("the minister signed the treaty") + 2 * len(
        "a wonderful and delightful match"
    )


def test_classify_document_limits(
    comprehend: Any, engine: ComprehendEngine, clock: LocalClock, s3: Any
) -> None:
    news = _train_corpus(comprehend, s3, clock, "news", ["World", "Sports"])
    endpoint = comprehend.create_endpoint(
        EndpointName="limits", ModelArn=news, DesiredInferenceUnits=1
    )["EndpointArn"]
    clock.advance(TIMINGS.endpoint_create_seconds)

    with pytest.raises(comprehend.exceptions.TextSizeLimitExceededException) as too_big:
        comprehend.classify_document(EndpointArn=endpoint, Text="é" * 5000 + "x")
    assert "10000 bytes" in too_big.value.response["Error"]["Message"]
    at_limit = comprehend.classify_document(EndpointArn=endpoint, Text="é" * 5000)
    assert len(at_limit["Classes"]) == 2

    # One inference unit: 100 characters a second. The 5,000-character document used the
    # next 49 seconds of throughput.
    with pytest.raises(ClientError) as throttled:
        comprehend.classify_document(EndpointArn=endpoint, Text="the election")
    assert _error(throttled)[0] == "ThrottlingException"
    clock.advance(48)
    with pytest.raises(ClientError):
        comprehend.classify_document(EndpointArn=endpoint, Text="the election")
    clock.advance(2)
    comprehend.classify_document(EndpointArn=endpoint, Text="the election")
    # ... and two documents a second.
    clock.advance(10)
    comprehend.classify_document(EndpointArn=endpoint, Text="a")
    comprehend.classify_document(EndpointArn=endpoint, Text="b")
    with pytest.raises(ClientError) as per_document:
        comprehend.classify_document(EndpointArn=endpoint, Text="c")
    assert _error(per_document)[0] == "ThrottlingException"

    engine.throughput_limits = False
    for text in ("x" * 900, "y" * 900, "z"):
        comprehend.classify_document(EndpointArn=endpoint, Text=text)
    with pytest.raises(comprehend.exceptions.ResourceNotFoundException):
        comprehend.classify_document(EndpointArn=endpoint + "-gone", Text="the election")


def test_endpoint_fault_and_throttling_hooks(
    comprehend: Any, engine: ComprehendEngine, clock: LocalClock, s3: Any
) -> None:
    news = _train_corpus(comprehend, s3, clock, "news", ["World", "Sports"])
    engine.fail_next_endpoint("Insufficient capacity to create the endpoint.")
    endpoint = comprehend.create_endpoint(
        EndpointName="doomed", ModelArn=news, DesiredInferenceUnits=3
    )["EndpointArn"]
    clock.advance(PAST_THE_END)
    failed = comprehend.describe_endpoint(EndpointArn=endpoint)["EndpointProperties"]
    assert failed["Status"] == "FAILED"
    assert failed["Message"] == "Insufficient capacity to create the endpoint."
    with pytest.raises(comprehend.exceptions.ResourceUnavailableException, match="FAILED"):
        comprehend.classify_document(EndpointArn=endpoint, Text="the election")
    # A failed endpoint stops costing when it fails.
    assert engine.usage.inference_unit_seconds == pytest.approx(
        3 * TIMINGS.endpoint_create_seconds, abs=0.01
    )
    comprehend.delete_endpoint(EndpointArn=endpoint)

    engine.throttle_next(2)
    for _ in range(2):
        with pytest.raises(comprehend.exceptions.TooManyRequestsException):
            comprehend.list_endpoints()
    assert [e["Status"] for e in comprehend.list_endpoints()["EndpointPropertiesList"]] == [
        "DELETING"
    ]


# --- requests -----------------------------------------------------------------------------------


def test_requests_are_validated_against_the_model(
    comprehend: Any, engine: ComprehendEngine
) -> None:
    # Step Functions' SDK integrations skip client-side validation; the engine validates.
    unchecked = _client(
        engine, Config(parameter_validation=False, retries={"total_max_attempts": 1})
    )
    with pytest.raises(ClientError) as missing:
        unchecked.create_document_classifier(
            DataAccessRoleArn=ROLE,
            InputDataConfig={"S3Uri": "s3://data-bucket/train.csv"},
            LanguageCode="en",
        )
    code, message = _error(missing)
    assert code == "ValidationException"
    assert "DocumentClassifierName" in message
    with pytest.raises(ClientError) as pattern:
        _create(unchecked, "not_allowed", "s3://data-bucket/train.csv")
    assert _error(pattern)[0] == "ValidationException"
    assert "documentClassifierName" in _error(pattern)[1]
    with pytest.raises(ClientError) as enum:
        _create(unchecked, "ok", "s3://data-bucket/train.csv", Mode="SOMETIMES")
    assert "MULTI_CLASS, MULTI_LABEL" in _error(enum)[1]

    with pytest.raises(comprehend.exceptions.UnsupportedLanguageException, match="ja"):
        _create(comprehend, "japanese", "s3://data-bucket/train.csv", LanguageCode="ja")
    with pytest.raises(comprehend.exceptions.InvalidRequestException, match="augmented"):
        _create(
            comprehend,
            "manifest",
            "s3://data-bucket/train.csv",
            InputDataConfig={
                "DataFormat": "AUGMENTED_MANIFEST",
                "AugmentedManifests": [
                    {"S3Uri": "s3://data-bucket/m.json", "AttributeNames": ["label"]}
                ],
            },
        )
    with pytest.raises(comprehend.exceptions.ResourceNotFoundException):
        comprehend.describe_document_classifier(
            DocumentClassifierArn=f"arn:aws:comprehend:{REGION}:{ACCOUNT}:document-classifier/x"
        )
    with pytest.raises(comprehend.exceptions.InvalidRequestException, match="plain text"):
        comprehend.classify_document(
            EndpointArn=f"arn:aws:comprehend:{REGION}:{ACCOUNT}:document-classifier-endpoint/e",
            Bytes=b"%PDF-1.7",
        )


def test_engine_answers_cbor_clients(
    engine: ComprehendEngine, clock: LocalClock, s3: Any, tmp_path: Path
) -> None:
    # botocore 1.44 sends JSON; a model listing only RPC v2 CBOR makes the client use CBOR.
    comprehend, sent = cbor_client("comprehend", engine, tmp_path, REGION, NO_RETRIES)
    arn = _train_corpus(comprehend, s3, clock, "cbor", ["World", "Sports"])
    props = _classifier(comprehend, arn)
    assert props["SubmitTime"] < props["TrainingEndTime"]
    with pytest.raises(comprehend.exceptions.ResourceNotFoundException):
        comprehend.describe_endpoint(
            EndpointArn=f"arn:aws:comprehend:{REGION}:{ACCOUNT}:document-classifier-endpoint/none"
        )
    assert set(sent) == {b"application/cbor"}


# --- the samples ------------------------------------------------------------------------------


def _load_generator() -> Any:
    spec = importlib.util.spec_from_file_location("comprehend_samples", SAMPLES / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


def _rows(name: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(_sample(name).decode("utf-8"))))


def test_sample_files_are_what_the_generator_writes(tmp_path: Path) -> None:
    generator = _load_generator()
    generator.main(["--out", str(tmp_path)])
    names = ["initial.csv", "improving.csv", "degrading.csv", "holdout.csv"]
    for name in names:
        assert (tmp_path / name).read_bytes() == _sample(name), f"{name} is out of date"
        assert len(_sample(name)) < 100_000
    counts = {name: [label for label, _ in _rows(name)] for name in names}
    labels = ["World", "Sports", "Business", "SciTech"]
    # Comprehend needs at least 50 documents per class in multi-class mode.
    assert {label: counts["initial.csv"].count(label) for label in labels} == dict.fromkeys(
        labels, 80
    )
    assert len(counts["degrading.csv"]) == len(counts["improving.csv"]) == 240
    assert {label: counts["holdout.csv"].count(label) for label in labels} == dict.fromkeys(
        labels, 50
    )
    holdout_texts = {text for _, text in _rows("holdout.csv")}
    trained_texts = {text for name in names[:3] for _, text in _rows(name)}
    assert not holdout_texts & trained_texts


def test_improving_data_raises_and_degrading_data_lowers_holdout_f1(
    comprehend: Any, clock: LocalClock, s3: Any
) -> None:
    """The property the retraining workflow relies on, measured through the engine: a
    classifier trained on initial+improving beats one trained on initial alone, which beats one
    trained on initial+degrading, in macro F1 on the holdout, scored from classification jobs."""
    holdout = _rows("holdout.csv")
    s3.put_object(
        Bucket="data-bucket",
        Key="holdout/documents.txt",
        Body="".join(f"{text}\n" for _, text in holdout).encode("utf-8"),
    )
    trainings = {
        "initial": ["initial.csv"],
        "improving": ["initial.csv", "improving.csv"],
        "degrading": ["initial.csv", "degrading.csv"],
    }
    classifiers = {}
    for name, files in trainings.items():
        for file in files:
            s3.put_object(Bucket="data-bucket", Key=f"train/{name}/{file}", Body=_sample(file))
        classifiers[name] = _create(comprehend, name, f"s3://data-bucket/train/{name}/")
    clock.advance(PAST_THE_END)
    jobs = {
        name: _start_job(comprehend, arn, "s3://data-bucket/holdout/documents.txt")
        for name, arn in classifiers.items()
    }
    clock.advance(PAST_THE_END)

    labels = ["World", "Sports", "Business", "SciTech"]
    scores = {}
    for name, job_id in jobs.items():
        predictions = _predictions(s3, _job(comprehend, job_id))
        assert [int(p["Line"]) for p in predictions] == list(range(len(holdout)))
        predicted = [p["Classes"][0]["Name"] for p in predictions]
        pairs = [(gold, guess) for (gold, _), guess in zip(holdout, predicted, strict=True)]
        f1s = []
        for label in labels:
            tp = sum(1 for gold, guess in pairs if gold == guess == label)
            fp = sum(1 for gold, guess in pairs if guess == label != gold)
            fn = sum(1 for gold, guess in pairs if gold == label != guess)
            f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
        scores[name] = sum(f1s) / len(f1s)

    assert scores["improving"] >= scores["initial"] + 0.05, scores
    assert scores["initial"] >= scores["degrading"] + 0.05, scores
    # A good model, but not a perfect one: the samples are deliberately ambiguous.
    assert 0.8 <= scores["improving"] < 0.98, scores
