"""TrainingJob's gate: the candidate and the live model are scored on the same rows (this run's
test split) and the endpoint moves only for a model better by more than the margin. S3 and SSM
on moto; SageMaker is a small fake whose models answer from a fixed table of predictions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from pipeline_common import PipelineError, S3Location
from pipeline_model import Channels, Trainer, TrainingSettings, resource_name

ENDPOINT = "gmp-endpoint"
MODEL_PARAMETER = "/GlueMlPipeline-test/model/name"
ACCURACY_PARAMETER = "/GlueMlPipeline-test/model/accuracy"
# The test split: ten rows, class "a" for the first half, "b" for the second.
TEST_ROWS = [("a" if i < 5 else "b", f"text {i}") for i in range(10)]
SETTINGS = TrainingSettings(
    name_prefix="gmp",
    image="811284229777.dkr.ecr.us-east-1.amazonaws.com/blazingtext:1",
    role_arn="arn:aws:iam::123456789012:role/sagemaker",
    instance_type="ml.c5.xlarge",
    inference_instance_type="ml.m5.large",
    hyperparameters={"mode": "supervised"},
    endpoint_name=ENDPOINT,
    accuracy_parameter=ACCURACY_PARAMETER,
    model_parameter=MODEL_PARAMETER,
    min_improvement=0.0,
    poll_seconds=30,
    max_training_polls=3,
    max_transform_polls=3,
    max_endpoint_polls=3,
    max_runtime_seconds=3600,
)


class FakeSageMaker:
    """Training completes at once; a model answers the test rows it is told to get right
    (`correct[model]`, a number of leading rows) and wrong on the others."""

    def __init__(self, s3: Any, correct: dict[str, int]) -> None:
        self.s3 = s3
        self.correct = correct
        self.models: dict[str, str] = {}
        self.transforms: dict[str, dict[str, Any]] = {}
        self.endpoint_config: str | None = None

    def create_training_job(self, **request: Any) -> None:
        self.training = request

    def describe_training_job(self, TrainingJobName: str) -> dict[str, Any]:  # noqa: N803
        output = self.training["OutputDataConfig"]["S3OutputPath"]
        return {
            "TrainingJobStatus": "Completed",
            "ModelArtifacts": {"S3ModelArtifacts": f"{output}{TrainingJobName}/model.tar.gz"},
        }

    def create_model(self, ModelName: str, **request: Any) -> None:  # noqa: N803
        self.models[ModelName] = request["PrimaryContainer"]["ModelDataUrl"]

    def create_transform_job(self, **request: Any) -> None:
        if request["ModelName"] not in self.correct:
            raise ClientError(
                {"Error": {"Code": "ValidationException", "Message": "Could not find model"}},
                "CreateTransformJob",
            )
        self.transforms[request["TransformJobName"]] = request

    def describe_transform_job(self, TransformJobName: str) -> dict[str, Any]:  # noqa: N803
        request = self.transforms[TransformJobName]
        source = S3Location.parse(request["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"])
        key = f"{source.key}test.jsonl"
        texts = [
            json.loads(line)["source"]
            for line in self.s3.get_object(Bucket=source.bucket, Key=key)["Body"]
            .read()
            .splitlines()
        ]
        right = self.correct[request["ModelName"]]
        labels = {text: label for label, text in TEST_ROWS}
        lines = [
            json.dumps({"label": [f"__label__{labels[t] if i < right else 'z'}"], "prob": [0.9]})
            for i, t in enumerate(texts)
        ]
        output = S3Location.parse(request["TransformOutput"]["S3OutputPath"])
        self.s3.put_object(
            Bucket=output.bucket, Key=f"{output.key}test.jsonl.out", Body="\n".join(lines).encode()
        )
        return {"TransformJobStatus": "Completed"}

    def create_endpoint_config(self, **request: Any) -> None:
        self.configs = [*getattr(self, "configs", []), request]

    def describe_endpoint(self, EndpointName: str) -> dict[str, Any]:  # noqa: N803
        if self.endpoint_config is None:
            raise ClientError(
                {"Error": {"Code": "ValidationException", "Message": "Could not find endpoint"}},
                "DescribeEndpoint",
            )
        return {"EndpointStatus": "InService", "EndpointConfigName": self.endpoint_config}

    def create_endpoint(self, EndpointName: str, EndpointConfigName: str) -> None:  # noqa: N803
        self.endpoint_config = EndpointConfigName

    update_endpoint = create_endpoint


@pytest.fixture
def aws() -> Iterator[tuple[Any, Any]]:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="pipeline")
        body = "".join(f"__label__{label} {text}\n" for label, text in TEST_ROWS)
        s3.put_object(Bucket="pipeline", Key="processed/r/test/test.txt", Body=body.encode())
        ssm = boto3.client("ssm", region_name="us-east-1")
        ssm.put_parameter(Name=MODEL_PARAMETER, Value="none", Type="String")
        yield s3, ssm


CHANNELS = Channels(
    "s3://pipeline/processed/r/train/",
    "s3://pipeline/processed/r/validation/",
    "s3://pipeline/processed/r/test/",
)


def _run(aws: tuple[Any, Any], correct: dict[str, int], live: str | None,
         margin: float = 0.0) -> tuple[dict[str, Any], FakeSageMaker]:  # fmt: skip
    s3, ssm = aws
    sagemaker = FakeSageMaker(s3, correct)
    if live is not None:
        ssm.put_parameter(Name=MODEL_PARAMETER, Value=live, Type="String", Overwrite=True)
        sagemaker.endpoint_config = live
    trainer = Trainer(sagemaker, s3, ssm, replace(SETTINGS, min_improvement=margin), lambda _: None)
    report = trainer.run("run-2", CHANNELS, S3Location("pipeline", "training/run-2"))
    return report, sagemaker


CANDIDATE = resource_name("gmp", "run-2")


def test_the_first_model_is_deployed_without_a_comparison(aws: tuple[Any, Any]) -> None:
    report, sagemaker = _run(aws, {CANDIDATE: 6}, live=None)
    assert report["deployed"] is True and report["decision"] == "deployed: first model"
    assert report["test_accuracy"] == 0.6 and report["live_accuracy"] is None
    assert list(sagemaker.transforms) == [CANDIDATE]
    assert sagemaker.endpoint_config == CANDIDATE
    ssm = aws[1]
    assert ssm.get_parameter(Name=MODEL_PARAMETER)["Parameter"]["Value"] == CANDIDATE
    assert ssm.get_parameter(Name=ACCURACY_PARAMETER)["Parameter"]["Value"] == "0.6000"


def test_the_live_model_is_scored_on_the_same_test_rows_and_a_worse_candidate_stays_out(
    aws: tuple[Any, Any],
) -> None:
    report, sagemaker = _run(aws, {CANDIDATE: 6, "gmp-old": 8}, live="gmp-old")
    assert report["deployed"] is False
    assert (report["test_accuracy"], report["live_accuracy"]) == (0.6, 0.8)
    assert report["live_model"] == "gmp-old"
    assert {job["ModelName"] for job in sagemaker.transforms.values()} == {CANDIDATE, "gmp-old"}
    inputs = {
        json.dumps(job["TransformInput"], sort_keys=True) for job in sagemaker.transforms.values()
    }
    assert len(inputs) == 1  # one input object: the same rows for both models
    assert sagemaker.endpoint_config == "gmp-old"
    assert aws[1].get_parameter(Name=MODEL_PARAMETER)["Parameter"]["Value"] == "gmp-old"


@pytest.mark.parametrize(
    ("candidate", "live", "margin", "deployed"),
    [
        (9, 8, 0.0, True),  # better
        (8, 8, 0.0, False),  # as good is not better
        (9, 8, 0.1, False),  # better by exactly the margin is not enough
        (9, 7, 0.1, True),  # better by more than the margin
    ],
)
def test_a_candidate_must_beat_the_live_model_by_more_than_the_margin(
    aws: tuple[Any, Any], candidate: int, live: int, margin: float, deployed: bool
) -> None:
    report, sagemaker = _run(aws, {CANDIDATE: candidate, "gmp-old": live}, "gmp-old", margin)
    assert report["deployed"] is deployed
    assert sagemaker.endpoint_config == (CANDIDATE if deployed else "gmp-old")


def test_a_live_model_that_no_longer_exists_fails_the_job_with_the_way_out(
    aws: tuple[Any, Any],
) -> None:
    with pytest.raises(PipelineError, match=r"set the SSM parameter .* to 'none'"):
        _run(aws, {CANDIDATE: 9}, live="gmp-deleted")


def test_scale_to_zero_deploys_a_serverless_endpoint_that_sagemaker_accepts(
    aws: tuple[Any, Any],
) -> None:
    import botocore.session
    from botocore.validate import validate_parameters

    s3, ssm = aws
    sagemaker = FakeSageMaker(s3, {CANDIDATE: 6})
    settings = replace(SETTINGS, serverless_memory_mib=2048, serverless_max_concurrency=5)
    Trainer(sagemaker, s3, ssm, settings, lambda _: None).run(
        "run-2", CHANNELS, S3Location("pipeline", "training/run-2")
    )
    (request,) = sagemaker.configs
    (variant,) = request["ProductionVariants"]
    assert variant["ServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": 5}
    assert "InstanceType" not in variant and "InitialInstanceCount" not in variant
    model = botocore.session.get_session().get_service_model("sagemaker")
    validate_parameters(request, model.operation_model("CreateEndpointConfig").input_shape)
    # Always-on (the default settings): one instance.
    always = Trainer(sagemaker, s3, ssm, SETTINGS, lambda _: None)._variant(CANDIDATE)
    assert always["InitialInstanceCount"] == 1 and "ServerlessConfig" not in always
