"""The local SageMaker engine: BlazingText training as fastText, models, endpoints, batch
transform and InvokeEndpoint, driven through real boto3 clients; data on moto's S3."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from localcloud.core.clock import LocalClock
from localcloud.services.sagemaker.engine import SageMakerEngine, SageMakerRuntimeEndpoint
from tests.helpers.engines import answered_by

ROLE = "arn:aws:iam::123456789012:role/sagemaker"
IMAGE = "811284229777.dkr.ecr.us-east-1.amazonaws.com/blazingtext:1"
WORDS = {"sport": "goal match striker league", "music": "album guitar song band"}


@pytest.fixture
def env() -> Iterator[tuple[Any, Any, Any, SageMakerEngine]]:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="data")
        lines = [
            f"__label__{label} {words} {i}" for i in range(40) for label, words in WORDS.items()
        ]
        s3.put_object(Bucket="data", Key="train/train.txt", Body="\n".join(lines).encode())
        s3.put_object(Bucket="data", Key="validation/v.txt", Body="\n".join(lines[:10]).encode())
        engine = SageMakerEngine(LocalClock(1.0), lambda _: s3)
        with answered_by(
            {"sagemaker": engine, "sagemaker-runtime": SageMakerRuntimeEndpoint(engine)}
        ):
            yield (
                boto3.client("sagemaker", region_name="us-east-1"),
                boto3.client("sagemaker-runtime", region_name="us-east-1"),
                s3,
                engine,
            )


def _channel(name: str, uri: str) -> dict[str, Any]:
    return {
        "ChannelName": name,
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri}},
    }


def _train(sm: Any, name: str, mode: str = "supervised", prefix: str = "train/") -> None:
    sm.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        HyperParameters={"mode": mode, "epochs": "20", "learning_rate": "0.5", "min_count": "1"},
        InputDataConfig=[
            _channel("train", f"s3://data/{prefix}"),
            _channel("validation", "s3://data/validation/"),
        ],
        OutputDataConfig={"S3OutputPath": "s3://data/models"},
        ResourceConfig={"InstanceType": "ml.c5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
    )


def _deploy(sm: Any, name: str, model_data: str) -> None:
    sm.create_model(
        ModelName=name,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": model_data},
        ExecutionRoleArn=ROLE,
    )
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": name,
                             "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}],
    )  # fmt: skip


def _trained_model(sm: Any, engine: Any, name: str) -> None:
    """Train "job-1" to completion, and make its model `name` with an endpoint config."""
    _train(sm, "job-1")
    engine.clock.advance(1000)
    model_data = sm.describe_training_job(TrainingJobName="job-1")["ModelArtifacts"]
    _deploy(sm, name, model_data["S3ModelArtifacts"])


def test_training_follows_the_clock_and_writes_a_blazingtext_model(env: Any) -> None:
    sm, _, s3, engine = env
    _train(sm, "job-1")
    assert sm.describe_training_job(TrainingJobName="job-1")["TrainingJobStatus"] == "InProgress"
    engine.clock.advance(engine.timings.training_startup + engine.timings.training)
    job = sm.describe_training_job(TrainingJobName="job-1")
    assert job["TrainingJobStatus"] == "Completed"
    assert job["ModelArtifacts"]["S3ModelArtifacts"] == "s3://data/models/job-1/output/model.tar.gz"
    (metric,) = job["FinalMetricDataList"]
    assert metric["MetricName"] == "validation:accuracy" and metric["Value"] == 1.0
    archive = s3.get_object(Bucket="data", Key="models/job-1/output/model.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        assert tar.getnames() == ["model.bin"]
    with pytest.raises(ClientError, match="ResourceInUse"):
        _train(sm, "job-1")


def test_unsupported_modes_and_bad_data_fail_with_a_reason(env: Any) -> None:
    sm, _, s3, engine = env
    _train(sm, "w2v", mode="batch_skipgram")
    s3.put_object(Bucket="data", Key="bad/x.txt", Body=b"no labels here\n")
    _train(sm, "bad", prefix="bad/")
    engine.clock.advance(1000)
    w2v = sm.describe_training_job(TrainingJobName="w2v")
    assert w2v["TrainingJobStatus"] == "Failed"
    assert "mode=supervised only" in w2v["FailureReason"]
    assert "__label__" in sm.describe_training_job(TrainingJobName="bad")["FailureReason"]


def test_endpoints_serve_blazingtext_answers_and_roll_back_a_failed_update(env: Any) -> None:
    sm, runtime, _, engine = env
    _trained_model(sm, engine, "m1")
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="m1")
    assert sm.describe_endpoint(EndpointName="ep")["EndpointStatus"] == "Creating"
    with pytest.raises(ClientError, match="not in service"):
        runtime.invoke_endpoint(EndpointName="ep", ContentType="application/json", Body=b"{}")
    engine.clock.advance(engine.timings.endpoint)
    assert sm.describe_endpoint(EndpointName="ep")["EndpointStatus"] == "InService"
    body = json.dumps({"instances": ["striker goal", "guitar album"], "configuration": {"k": 2}})
    response = runtime.invoke_endpoint(EndpointName="ep", ContentType="application/json", Body=body)
    answers = json.loads(response["Body"].read())
    assert [a["label"][0] for a in answers] == ["__label__sport", "__label__music"]
    assert all(len(a["prob"]) == 2 and a["prob"][0] >= a["prob"][1] for a in answers)
    with pytest.raises(ClientError, match="ModelError"):
        runtime.invoke_endpoint(EndpointName="ep", ContentType="application/json", Body=b"[1]")

    _deploy(sm, "broken", "s3://data/models/missing/model.tar.gz")
    sm.update_endpoint(EndpointName="ep", EndpointConfigName="broken")
    engine.clock.advance(engine.timings.endpoint)
    endpoint = sm.describe_endpoint(EndpointName="ep")
    assert endpoint["EndpointStatus"] == "InService"
    assert endpoint["EndpointConfigName"] == "m1"
    assert "cannot load the model data" in endpoint["FailureReason"]
    with pytest.raises(ClientError, match="Could not find endpoint"):
        sm.describe_endpoint(EndpointName="other")


def test_batch_transform_writes_one_answer_per_input_line(env: Any) -> None:
    sm, _, s3, engine = env
    _trained_model(sm, engine, "m1")
    lines = [json.dumps({"source": "striker league"}), json.dumps({"source": "band song"})]
    s3.put_object(Bucket="data", Key="eval/in/test.jsonl", Body="\n".join(lines).encode())
    sm.create_transform_job(
        TransformJobName="t1",
        ModelName="m1",
        TransformInput={
            "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://data/eval/in/"}
            },
            "ContentType": "application/jsonlines",
            "SplitType": "Line",
        },
        TransformOutput={"S3OutputPath": "s3://data/eval/out/", "AssembleWith": "Line"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )
    assert sm.describe_transform_job(TransformJobName="t1")["TransformJobStatus"] == "InProgress"
    engine.clock.advance(engine.timings.transform)
    assert sm.describe_transform_job(TransformJobName="t1")["TransformJobStatus"] == "Completed"
    output = s3.get_object(Bucket="data", Key="eval/out/test.jsonl.out")["Body"].read()
    answers = [json.loads(line) for line in output.decode().splitlines()]
    assert [a["label"] for a in answers] == [["__label__sport"], ["__label__music"]]


class _HeldClock(LocalClock):
    """A clock that reads what the test sets, to place a call at a chosen sub-millisecond."""

    def __init__(self, at: float) -> None:
        super().__init__(1.0)
        self.at = at

    def time(self) -> float:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += seconds


def test_an_endpoint_change_ends_its_full_duration_later_whatever_the_sub_millisecond() -> None:
    # Times are held in whole milliseconds. An update made at .0006 is recorded as .001; read
    # 300.0001 s later (.0007) against the raw clock, the wait would come out 0.3 ms short.
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="data")
        clock = _HeldClock(1_780_000_000.0006)
        engine = SageMakerEngine(clock, lambda _: s3)
        with answered_by({"sagemaker": engine}):
            sm = boto3.client("sagemaker", region_name="us-east-1")
            s3.put_object(Bucket="data", Key="models/m/model.tar.gz", Body=b"not a model")
            _deploy(sm, "m", "s3://data/models/m/model.tar.gz")
            sm.create_endpoint(EndpointName="ep", EndpointConfigName="m")
            clock.advance(engine.timings.endpoint + 0.0001)
            assert sm.describe_endpoint(EndpointName="ep")["EndpointStatus"] != "Creating"
