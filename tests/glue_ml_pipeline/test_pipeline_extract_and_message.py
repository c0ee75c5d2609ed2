"""DataExtractionJob's fetch and MessagingQueueJob's message, on moto's S3: no Spark."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from pipeline_common import FAILURE, PROCESSING_REPORT, TRAINING_REPORT, PipelineError, S3Location
from pipeline_extract import fetch
from pipeline_message import build_message


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="source")
        client.create_bucket(Bucket="pipeline")
        yield client


def test_an_s3_source_is_copied_into_the_raw_prefix(s3: Any) -> None:
    s3.put_object(Bucket="source", Key="data/dbpedia.csv", Body=b"1,T,Text\n" * 1000)
    target = S3Location("pipeline", "raw/run-1/dataset.csv")
    report = fetch(s3, "s3://source/data/dbpedia.csv", target)
    assert report == {
        "source": "s3://source/data/dbpedia.csv",
        "raw_uri": "s3://pipeline/raw/run-1/dataset.csv",
        "bytes": 9000,
    }
    copied = s3.get_object(Bucket="pipeline", Key="raw/run-1/dataset.csv")["Body"].read()
    assert copied == b"1,T,Text\n" * 1000


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("s3://source/missing.csv", "cannot be read (NoSuchKey)"),
        ("s3://source/empty.csv", "is empty"),
        ("https://127.0.0.1:9/dbpedia.csv", "is unreachable"),
        ("ftp://example.com/dbpedia.csv", "must be an s3:// URI or an https:// URL"),
    ],
)
def test_a_bad_source_fails_with_the_reason(s3: Any, source: str, reason: str) -> None:
    s3.put_object(Bucket="source", Key="empty.csv", Body=b"")
    with pytest.raises(PipelineError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        fetch(s3, source, S3Location("pipeline", "raw/r/dataset.csv"), timeout_seconds=5)


def test_the_message_reports_a_success_with_metrics_and_decision() -> None:
    properties = {
        PROCESSING_REPORT: json.dumps({"rows": 100, "rejected": 2, "reject_ratio": 0.02}),
        TRAINING_REPORT: json.dumps({
            "test_accuracy": 0.9, "test_rows": 10, "live_accuracy": 0.8,
            "deployed": True, "decision": "deployed: better", "endpoint": "ep",
            "live_model": "gmp-1",
        }),
    }  # fmt: skip
    message = build_message(properties, {}, "wr_1", "DevMLWorkflow")
    assert message == {
        "workflow": "DevMLWorkflow",
        "run_id": "wr_1",
        "status": "SUCCEEDED",
        "metrics": {"test_accuracy": 0.9, "test_rows": 10, "live_accuracy": 0.8,
                    "rows": 100, "rejected": 2, "reject_ratio": 0.02},
        "deployed": True,
        "decision": "deployed: better",
        "endpoint": "ep",
        "live_model": "gmp-1",
    }  # fmt: skip


def test_a_failed_run_is_reported_even_without_its_own_failure_record() -> None:
    recorded = {FAILURE: json.dumps({"job": "DataProcessingJob", "reason": "too many rejects"})}
    message = build_message(recorded, {"p-DataProcessingJob": "PipelineError: x"}, "wr", "W")
    assert message["status"] == "FAILED" and message["deployed"] is False
    assert message["failure"] == {"job": "DataProcessingJob", "reason": "too many rejects"}
    # A job that died before recording why (out of memory, timeout): the graph says which.
    silent = build_message({}, {"p-TrainingJob": "Job run exceeded its timeout"}, "wr", "W")
    assert silent["failure"] == {"job": "p-TrainingJob", "reason": "Job run exceeded its timeout"}
