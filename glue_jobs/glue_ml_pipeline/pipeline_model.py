"""TrainingJob: train a BlazingText classifier on SageMaker, evaluate it on the held-out test
split, and move the endpoint to it only on the first run or when it beats the live model.

The candidate and the live model (named in SSM by the last deployment) are scored on the same
rows, this run's test split, by two batch transform jobs side by side: an accuracy recorded
on an earlier run's split would let an easier or harder split decide instead of the models.
Batch transform leaves the endpoint serving the live model untouched until the candidate has
proved better, and its instances exist only while it runs. Every wait is a bounded number of
polls; a training or transform job past its budget is stopped.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from pipeline_common import PipelineError, S3Location
from pipeline_text import LABEL_PREFIX, parse_blazingtext_line

TERMINAL_TRAINING = ("Completed", "Failed", "Stopped")
TERMINAL_TRANSFORM = ("Completed", "Failed", "Stopped")


@dataclass(frozen=True)
class TrainingSettings:
    name_prefix: str
    image: str
    role_arn: str
    instance_type: str
    inference_instance_type: str
    hyperparameters: dict[str, str]
    endpoint_name: str
    accuracy_parameter: str
    model_parameter: str
    min_improvement: float
    poll_seconds: int
    max_training_polls: int
    max_transform_polls: int
    max_endpoint_polls: int
    max_runtime_seconds: int
    # Every SageMaker resource the job creates is tagged with it, so strays can be found.
    stack_name: str = ""
    # A serverless endpoint of this much memory (0: one `inference_instance_type` instance).
    serverless_memory_mib: int = 0
    serverless_max_concurrency: int = 5

    def tags(self) -> dict[str, Any]:
        """The `Tags` argument of a SageMaker create call."""
        if not self.stack_name:
            return {}
        return {"Tags": [{"Key": "StackName", "Value": self.stack_name}]}


@dataclass(frozen=True)
class Channels:
    train: str
    validation: str
    test: str


def resource_name(prefix: str, run_id: str) -> str:
    """A name per workflow run, so a retried job finds its own training job again."""
    return f"{prefix}-{hashlib.sha256(run_id.encode()).hexdigest()[:16]}"[:63]


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", ""))


class Trainer:
    def __init__(
        self,
        sagemaker: Any,
        s3: Any,
        ssm: Any,
        settings: TrainingSettings,
        sleep: Callable[[float], None],
    ) -> None:
        self.sagemaker = sagemaker
        self.s3 = s3
        self.ssm = ssm
        self.settings = settings
        self.sleep = sleep

    # training ------------------------------------------------------------------------------
    def train(self, name: str, channels: Channels, output: S3Location) -> dict[str, Any]:
        s = self.settings
        try:
            self.sagemaker.create_training_job(
                TrainingJobName=name,
                AlgorithmSpecification={"TrainingImage": s.image, "TrainingInputMode": "File"},
                RoleArn=s.role_arn,
                HyperParameters=s.hyperparameters,
                InputDataConfig=[
                    self._channel("train", channels.train),
                    self._channel("validation", channels.validation),
                ],
                OutputDataConfig={"S3OutputPath": output.uri},
                ResourceConfig={
                    "InstanceType": s.instance_type,
                    "InstanceCount": 1,
                    "VolumeSizeInGB": 30,
                },
                StoppingCondition={"MaxRuntimeInSeconds": s.max_runtime_seconds},
                **s.tags(),
            )
        except ClientError as exc:
            # A retried job run finds the training job it started before.
            if _code(exc) != "ResourceInUse":
                raise
        job = self._wait(
            lambda: self.sagemaker.describe_training_job(TrainingJobName=name),
            "TrainingJobStatus",
            TERMINAL_TRAINING,
            s.max_training_polls,
        )
        if job is None:
            self.sagemaker.stop_training_job(TrainingJobName=name)
            raise PipelineError(
                f"training job {name} did not finish within "
                f"{s.max_training_polls * s.poll_seconds} s; it was stopped"
            )
        if job["TrainingJobStatus"] != "Completed":
            raise PipelineError(
                f"training job {name} {job['TrainingJobStatus'].lower()}: "
                f"{job.get('FailureReason', 'no reason given')}"
            )
        metrics = {m["MetricName"]: m["Value"] for m in job.get("FinalMetricDataList", [])}
        return {"model_data": job["ModelArtifacts"]["S3ModelArtifacts"], "metrics": metrics}

    @staticmethod
    def _channel(name: str, uri: str) -> dict[str, Any]:
        return {
            "ChannelName": name,
            "ContentType": "text/plain",
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": uri,
                    "S3DataDistributionType": "FullyReplicated",
                }
            },
        }

    def _wait(
        self,
        describe: Callable[[], dict[str, Any]],
        key: str,
        terminal: tuple[str, ...],
        polls: int,
    ) -> dict[str, Any] | None:
        for attempt in range(polls + 1):
            described = describe()
            if described[key] in terminal:
                return described
            if attempt < polls:
                self.sleep(self.settings.poll_seconds)
        return None

    # evaluation ----------------------------------------------------------------------------
    def create_model(self, name: str, model_data: str) -> None:
        try:
            self.sagemaker.create_model(
                ModelName=name,
                PrimaryContainer={"Image": self.settings.image, "ModelDataUrl": model_data},
                ExecutionRoleArn=self.settings.role_arn,
                **self.settings.tags(),
            )
        except ClientError as exc:
            if "already exist" not in _message(exc).lower():
                raise

    def evaluate(
        self, models: dict[str, str], test_channel: str, work: S3Location
    ) -> dict[str, dict[str, int]]:
        """{transform job name: {"correct": n, "rows": n}} of each model on the same test
        split: one input object, one batch transform job per model (named by the key), run
        side by side and waited for within one poll budget."""
        labels, instances = self._test_instances(S3Location.parse(test_channel))
        if not labels:
            raise PipelineError(f"the test split {test_channel} is empty")
        input_location = work.child("input/test.jsonl")
        self.s3.put_object(
            Bucket=input_location.bucket,
            Key=input_location.key,
            Body="".join(json.dumps({"source": text}) + "\n" for text in instances).encode(),
        )
        outputs = {job: work.child(f"output/{job}/") for job in models}
        for job, model in models.items():
            self._start_transform(job, model, work.child("input/"), outputs[job])
        pending = set(models)
        for attempt in range(self.settings.max_transform_polls + 1):
            for job in sorted(pending):
                described = self.sagemaker.describe_transform_job(TransformJobName=job)
                status = described["TransformJobStatus"]
                if status in TERMINAL_TRANSFORM:
                    pending.discard(job)
                    if status != "Completed":
                        for other in pending:
                            self.sagemaker.stop_transform_job(TransformJobName=other)
                        raise PipelineError(
                            f"evaluation transform job {job} {status.lower()}: "
                            f"{described.get('FailureReason', 'no reason given')}"
                        )
            if not pending:
                break
            if attempt < self.settings.max_transform_polls:
                self.sleep(self.settings.poll_seconds)
        if pending:
            for job in pending:
                self.sagemaker.stop_transform_job(TransformJobName=job)
            raise PipelineError(
                f"evaluation transform jobs {', '.join(sorted(pending))} did not finish in time"
            )
        return {job: self._score(outputs[job], labels) for job in models}

    def _start_transform(
        self, job: str, model: str, source: S3Location, output: S3Location
    ) -> None:
        try:
            self.sagemaker.create_transform_job(
                TransformJobName=job,
                ModelName=model,
                TransformInput={
                    "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": source.uri}},
                    "ContentType": "application/jsonlines",
                    "SplitType": "Line",
                },
                TransformOutput={
                    "S3OutputPath": output.uri,
                    "Accept": "application/jsonlines",
                    "AssembleWith": "Line",
                },
                TransformResources={
                    "InstanceType": self.settings.inference_instance_type,
                    "InstanceCount": 1,
                },
                **self.settings.tags(),
            )
        except ClientError as exc:
            # A retried job run finds the transform job it started before.
            if _code(exc) == "ResourceInUse":
                return
            if "could not find model" in _message(exc).lower():
                raise PipelineError(
                    f"model {model} cannot be evaluated, it no longer exists: set the SSM "
                    f"parameter {self.settings.model_parameter} to 'none' to deploy the new "
                    "model without comparison"
                ) from exc
            raise

    def _score(self, output: S3Location, labels: list[str]) -> dict[str, int]:
        result = output.child("test.jsonl.out")
        body = self.s3.get_object(Bucket=result.bucket, Key=result.key)["Body"].read()
        predictions = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
        if len(predictions) != len(labels):
            raise PipelineError(
                f"the evaluation returned {len(predictions)} predictions for {len(labels)} rows"
            )
        correct = sum(
            1
            # Lengths checked above; zip(strict=) needs Python 3.10, Python shell runs 3.9.
            for label, prediction in zip(labels, predictions)  # noqa: B905
            if prediction.get("label") and prediction["label"][0] == LABEL_PREFIX + label
        )
        return {"correct": correct, "rows": len(labels)}

    def _test_instances(self, channel: S3Location) -> tuple[list[str], list[str]]:
        labels: list[str] = []
        texts: list[str] = []
        listed = self.s3.list_objects_v2(Bucket=channel.bucket, Prefix=channel.key)
        for item in listed.get("Contents", []):
            body = self.s3.get_object(Bucket=channel.bucket, Key=item["Key"])["Body"].read()
            for line in body.decode("utf-8").splitlines():
                if line.strip():
                    label, text = parse_blazingtext_line(line)
                    labels.append(label)
                    texts.append(text)
        return labels, texts

    # the gate and the endpoint ----------------------------------------------------------------
    def live_model(self) -> str | None:
        """The model the endpoint serves, as the last deployment recorded it in SSM."""
        try:
            value = self.ssm.get_parameter(Name=self.settings.model_parameter)["Parameter"]
        except ClientError as exc:
            if _code(exc) == "ParameterNotFound":
                return None
            raise
        name = str(value["Value"]).strip()
        return None if name in ("", "none") else name  # "none": the deploy-time placeholder

    def should_deploy(self, candidate: dict[str, int], live: dict[str, int] | None) -> bool:
        """The first model always; later ones only when they answer more of the same test
        rows correctly than the live model, by more than the configured margin. Counts, not
        rounded accuracies, decide."""
        if live is None:
            return True
        improvement = (candidate["correct"] - live["correct"]) / candidate["rows"]
        return improvement > self.settings.min_improvement

    def deploy(self, name: str, accuracy: float) -> None:
        s = self.settings
        try:
            self.sagemaker.create_endpoint_config(
                EndpointConfigName=name, ProductionVariants=[self._variant(name)], **s.tags()
            )
        except ClientError as exc:
            if "already exist" not in _message(exc).lower():
                raise
        exists = self._endpoint_status() is not None
        if exists:
            self.sagemaker.update_endpoint(EndpointName=s.endpoint_name, EndpointConfigName=name)
        else:
            self.sagemaker.create_endpoint(
                EndpointName=s.endpoint_name, EndpointConfigName=name, **s.tags()
            )
        endpoint = self._wait(
            lambda: self.sagemaker.describe_endpoint(EndpointName=s.endpoint_name),
            "EndpointStatus",
            ("InService", "Failed"),
            s.max_endpoint_polls,
        )
        if endpoint is None:
            raise PipelineError(f"endpoint {s.endpoint_name} did not reach InService in time")
        if endpoint["EndpointStatus"] != "InService" or endpoint.get("EndpointConfigName") != name:
            raise PipelineError(
                f"endpoint {s.endpoint_name} did not move to {name}: "
                f"{endpoint.get('FailureReason', endpoint['EndpointStatus'])}"
            )
        self.ssm.put_parameter(Name=s.model_parameter, Value=name, Type="String", Overwrite=True)
        self.ssm.put_parameter(
            Name=s.accuracy_parameter, Value=f"{accuracy:.4f}", Type="String", Overwrite=True
        )

    def _variant(self, model: str) -> dict[str, Any]:
        """The endpoint's one variant. Serverless inference bills per request (compute time
        and data) and nothing while no request arrives, so an endpoint called now and then
        costs nothing idle; its exclusions (GPUs, Marketplace model packages, private
        registries, VPC, multiple variants, data capture) leave out nothing this CPU-served
        BlazingText text classifier needs
        (https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html, "Feature
        exclusions"; BlazingText's inference containers serve text classification on CPU
        instances, https://docs.aws.amazon.com/sagemaker/latest/dg/blazingtext.html). AWS does
        not convert an instance-based endpoint to a serverless one (or back) by UpdateEndpoint:
        changing `glue_ml_pipeline:endpointPolicy` of a deployed stack needs its endpoint
        deleted first."""
        s = self.settings
        if s.serverless_memory_mib:
            return {
                "VariantName": "AllTraffic",
                "ModelName": model,
                "ServerlessConfig": {
                    "MemorySizeInMB": s.serverless_memory_mib,
                    "MaxConcurrency": s.serverless_max_concurrency,
                },
            }
        return {
            "VariantName": "AllTraffic",
            "ModelName": model,
            "InitialInstanceCount": 1,
            "InstanceType": s.inference_instance_type,
        }

    def _endpoint_status(self) -> str | None:
        try:
            described = self.sagemaker.describe_endpoint(EndpointName=self.settings.endpoint_name)
        except ClientError as exc:
            if "could not find" in _message(exc).lower():
                return None
            raise
        return str(described["EndpointStatus"])

    # the whole step ----------------------------------------------------------------------------
    def run(self, run_id: str, channels: Channels, work: S3Location) -> dict[str, Any]:
        name = resource_name(self.settings.name_prefix, run_id)
        trained = self.train(name, channels, work.child("model/"))
        self.create_model(name, trained["model_data"])
        live = self.live_model()
        if live == name:
            # An earlier attempt of this job run deployed this very model: nothing to decide.
            return {**self._report(name, trained, None, None), "deployed": True,
                    "decision": "deployed: this run's model is already live"}  # fmt: skip
        models = {name: name} if live is None else {name: name, f"{name}-live": live}
        scores = self.evaluate(models, channels.test, work.child("evaluation/"))
        candidate = scores[name]
        live_score = scores.get(f"{name}-live")
        deploy = self.should_deploy(candidate, live_score)
        if deploy:
            self.deploy(name, candidate["correct"] / candidate["rows"])
        if live is None:
            decision = "deployed: first model"
        elif deploy:
            decision = "deployed: better than the live model on this run's test split"
        else:
            decision = "kept the live model: the new one is not better on this run's test split"
        return {
            **self._report(name, trained, candidate, live_score),
            "live_model": live,
            "deployed": deploy,
            "decision": decision,
        }

    def _report(
        self,
        name: str,
        trained: dict[str, Any],
        candidate: dict[str, int] | None,
        live: dict[str, int] | None,
    ) -> dict[str, Any]:
        def accuracy(score: dict[str, int] | None) -> float | None:
            return None if score is None else round(score["correct"] / score["rows"], 4)

        return {
            "training_job": name,
            "model_data": trained["model_data"],
            "training_metrics": trained["metrics"],
            "test_rows": candidate["rows"] if candidate else None,
            "test_accuracy": accuracy(candidate),
            "live_accuracy": accuracy(live),
            "min_improvement": self.settings.min_improvement,
            "endpoint": self.settings.endpoint_name,
        }
