"""Local Amazon SageMaker for the BlazingText algorithm: training jobs train fastText (the
algorithm BlazingText implements) on the channel data, models and endpoints serve it.

What it emulates, through real boto3 clients (`sagemaker` and `sagemaker-runtime`):

* Training jobs: `CreateTrainingJob`, `DescribeTrainingJob`, `StopTrainingJob` for the built-in
  BlazingText image (`<account>.dkr.ecr.<region>.amazonaws.com/blazingtext:<tag>`) in
  `supervised` mode, `File` input. The `train` channel (every object under its `S3Prefix`) is
  read, and the model written, only through the job's `RoleArn`. Hyperparameters as documented:
  `mode`, `epochs` (5), `learning_rate` (0.05), `min_count` (5), `vector_dim` (100),
  `word_ngrams` (1), `buckets` (2000000); with a `validation` channel the job reports
  `validation:accuracy` in `FinalMetricDataList`. The model is
  `<S3OutputPath>/<job>/output/model.tar.gz` holding `model.bin`. Status follows the local clock
  (`SageMakerTimings`): InProgress (Starting, Downloading, Training, Uploading) -> Completed,
  Failed (bad data, other images or modes; `FailureReason`) or Stopped; a job running past
  `StoppingCondition.MaxRuntimeInSeconds` is Stopped (`MaxRuntimeExceeded`). A second job with
  the same name is `ResourceInUse`.
* Models and endpoint configs: `CreateModel`, `DescribeModel`, `DeleteModel`,
  `CreateEndpointConfig`, `DescribeEndpointConfig`, `DeleteEndpointConfig` (one production
  variant; a duplicate name is a `ValidationException`, as on SageMaker).
* Endpoints: `CreateEndpoint`, `UpdateEndpoint`, `DescribeEndpoint`, `DeleteEndpoint`:
  Creating -> InService (or Failed when the model cannot be loaded), Updating -> InService with
  the new config, or back to the old one with a `FailureReason` when the update fails, as
  SageMaker rolls back. An unknown endpoint is a `ValidationException` ("Could not find
  endpoint").
* Batch transform: `CreateTransformJob`, `DescribeTransformJob`, `StopTransformJob` with
  `application/jsonlines` input (`{"source": "..."}` per line, `SplitType` Line); the output is
  `<S3OutputPath>/<input file>.out`, one `{"label": [...], "prob": [...]}` line per input line.
* Listing: `ListTrainingJobs`, `ListTransformJobs`, `ListModels`, `ListEndpointConfigs` and
  `ListEndpoints` with `NameContains` (case-insensitive), `StatusEquals` where the API has it,
  `MaxResults` (default 10) and `NextToken`, oldest first; no time or sort filters.
* Inference: `sagemaker-runtime` `InvokeEndpoint` on an InService (or Updating) endpoint with
  `application/json` `{"instances": [...], "configuration": {"k": n}}` answers
  `[{"label": ["__label__x", ...], "prob": [...]}]`, best first.
* Faults on purpose: `fail_next_training(reason)`, `fail_next_endpoint(reason)`.

The local cloud routes these operations to the engine; SageMaker's other operations stay with
moto (or other engines).

What it does not do: no other algorithms, framework containers or custom images; no Word2Vec
modes, Pipe mode, distributed training, spot training, hyperparameter tuning, early stopping or
subword embeddings; no instances (types and counts are recorded); no multi-model or
asynchronous endpoints, data capture or autoscaling. A serverless endpoint (`ServerlessConfig`
in its config's variant) is accepted and served like any other.

Billing (`usage`): instance-seconds of every instance-based endpoint (its config's
`InitialInstanceCount`) from `CreateEndpoint` until `DeleteEndpoint`, and for serverless
endpoints the requests and the GB-seconds of compute (configured memory x the time the local
model took to answer, as serverless inference bills by the millisecond); nothing for a
serverless endpoint while no request arrives. Scores are
fastText's on the given data (BlazingText's GPU implementation differs in its numbers).
"""

from __future__ import annotations

import io
import json
import os
import re
import tarfile
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar
from urllib.parse import unquote, urlparse

from localcloud.core.protocol import (
    CallContext,
    LocalEngine,
    ServiceError,
    existing,
    page_by_key,
)

_T = TypeVar("_T")

IMAGE_PATTERN = re.compile(r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/blazingtext:")
HYPERPARAMETER_DEFAULTS = {
    "epochs": 5,
    "learning_rate": 0.05,
    "min_count": 5,
    "vector_dim": 100,
    "word_ngrams": 1,
    "buckets": 2_000_000,
}


@dataclass(frozen=True)
class SageMakerTimings:
    """How long things take, in virtual seconds of the local clock."""

    training_startup: float = 120.0
    training: float = 60.0
    transform: float = 180.0
    endpoint: float = 300.0


@dataclass
class _TrainingJob:
    request: dict[str, Any]
    created: float
    status: str = "InProgress"
    secondary: str = "Starting"
    ended: float | None = None
    failure: str | None = None
    model_data: str | None = None
    metrics: list[dict[str, Any]] = field(default_factory=list)
    fault: str | None = None


class SageMakerUsage:
    """What SageMaker hosting bills, counted as the engine runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.instance_seconds: dict[str, float] = {}  # per endpoint name (ended lifetimes)
        self.serverless_requests = 0
        self.serverless_gb_seconds = 0.0

    def record_instances(self, endpoint: str, seconds: float) -> None:
        with self._lock:
            self.instance_seconds[endpoint] = self.instance_seconds.get(endpoint, 0.0) + seconds

    def record_serverless(self, memory_mib: int, seconds: float) -> None:
        with self._lock:
            self.serverless_requests += 1
            self.serverless_gb_seconds += memory_mib / 1024 * seconds


@dataclass
class _Endpoint:
    name: str
    config: str
    created: float
    status: str = "Creating"
    pending_config: str | None = None
    changed: float = 0.0
    failure: str | None = None
    fault: str | None = None


@dataclass
class _TransformJob:
    request: dict[str, Any]
    created: float
    status: str = "InProgress"
    ended: float | None = None
    failure: str | None = None


class _Kind(NamedTuple):
    """How SageMaker names one kind of resource: in its ARNs, its List* answer and its messages."""

    arn_type: str
    name_field: str
    arn_field: str
    list_key: str
    noun: str


_TRAINING_JOB = _Kind(
    "training-job", "TrainingJobName", "TrainingJobArn", "TrainingJobSummaries", "training job"
)
_TRANSFORM_JOB = _Kind(
    "transform-job", "TransformJobName", "TransformJobArn", "TransformJobSummaries", "transform job"
)
_MODEL = _Kind("model", "ModelName", "ModelArn", "Models", "model")
_ENDPOINT_CONFIG = _Kind(
    "endpoint-config",
    "EndpointConfigName",
    "EndpointConfigArn",
    "EndpointConfigs",
    "endpoint configuration",
)
_ENDPOINT = _Kind("endpoint", "EndpointName", "EndpointArn", "Endpoints", "endpoint")


def _next(faults: list[str]) -> str | None:
    """The oldest fault queued by `fail_next_*`, taken off its queue; None when none is queued."""
    return faults.pop(0) if faults else None


def _s3(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3":
        raise ValueError(f"not an S3 URI: {uri}")
    return parsed.netloc, parsed.path.lstrip("/")


class FastTextModel:
    """A trained fastText model and BlazingText's answer format."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict(self, text: str, k: int = 1) -> dict[str, Any]:
        # fastText's Python `predict` builds arrays with numpy's removed `copy=False`
        # semantics; the binding's own predict returns (probability, label) pairs.
        clean = " ".join(str(text).split())
        pairs = self.model.f.predict(clean, max(1, k), 0.0, "strict")
        return {
            "label": [label for _, label in pairs],
            "prob": [round(min(1.0, float(prob)), 6) for prob, _ in pairs],
        }


class SageMakerEngine(LocalEngine):
    """SageMaker BlazingText training, transform and hosting; see the module docstring."""

    service_name = "sagemaker"

    def __init__(
        self,
        clock: Any,
        s3_for_role: Callable[[str], Any],
        *,
        account_id: str = "123456789012",
        region: str = "us-east-1",
        timings: SageMakerTimings | None = None,
    ) -> None:
        super().__init__(clock, account_id, region)
        self.timings = timings or SageMakerTimings()
        self._s3_for_role = s3_for_role
        self._training: dict[str, _TrainingJob] = {}
        self._models: dict[str, dict[str, Any]] = {}
        self._configs: dict[str, dict[str, Any]] = {}
        self._endpoints: dict[str, _Endpoint] = {}
        self._transforms: dict[str, _TransformJob] = {}
        self._loaded: dict[str, FastTextModel] = {}
        self._training_faults: list[str] = []
        self._endpoint_faults: list[str] = []
        self.usage = SageMakerUsage()
        self.operations: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "CreateTrainingJob": self._create_training_job,
            "DescribeTrainingJob": self._describe_training_job,
            "StopTrainingJob": self._stop_training_job,
            "CreateModel": self._create_model,
            "DescribeModel": self._describe_model,
            "DeleteModel": self._delete_model,
            "CreateEndpointConfig": self._create_endpoint_config,
            "DescribeEndpointConfig": self._describe_endpoint_config,
            "DeleteEndpointConfig": self._delete_endpoint_config,
            "CreateEndpoint": self._create_endpoint,
            "UpdateEndpoint": self._update_endpoint,
            "DescribeEndpoint": self._describe_endpoint,
            "DeleteEndpoint": self._delete_endpoint,
            "CreateTransformJob": self._create_transform_job,
            "DescribeTransformJob": self._describe_transform_job,
            "StopTransformJob": self._stop_transform_job,
            "ListTrainingJobs": self._list_training_jobs,
            "ListTransformJobs": self._list_transform_jobs,
            "ListModels": self._list_models,
            "ListEndpointConfigs": self._list_endpoint_configs,
            "ListEndpoints": self._list_endpoints,
        }

    def handle(self, operation: str, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        handler = self._handler(self.operations, operation)
        with self._lock:
            return handler(params)

    def fail_next_training(self, reason: str) -> None:
        """The next training job created ends Failed with `reason`."""
        with self._lock:
            self._training_faults.append(reason)

    def fail_next_endpoint(self, reason: str) -> None:
        """The next endpoint created or updated fails with `reason`."""
        with self._lock:
            self._endpoint_faults.append(reason)

    def _now(self) -> float:
        # Whole milliseconds, as timestamps travel on the wire. Every lifecycle check compares two
        # such readings: a rounded start against the raw clock could read 299.9997 s after a
        # 300-s wait and leave an endpoint Updating.
        return round(self.clock.time(), 3)

    def _arn(self, kind: str, name: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account_id}:{kind}/{name.lower()}"

    @staticmethod
    def _validation(message: str) -> ServiceError:
        return ServiceError("ValidationException", message, 400)

    # -- training ---------------------------------------------------------------------------------
    def _create_training_job(self, p: dict[str, Any]) -> dict[str, Any]:
        name = p["TrainingJobName"]
        if name in self._training:
            raise ServiceError("ResourceInUse", f"Training job {name} already exists", 400)
        self._training[name] = _TrainingJob(
            dict(p), self._now(), fault=_next(self._training_faults)
        )
        return {"TrainingJobArn": self._arn("training-job", name)}

    def _training_job(self, name: str) -> _TrainingJob:
        missing = self._validation(f"Requested resource not found: training job {name}")
        job = existing(self._training, name, missing)
        self._advance_training(job)
        return job

    def _advance_training(self, job: _TrainingJob) -> None:
        if job.status != "InProgress":
            return
        elapsed = self._now() - job.created
        limit = job.request.get("StoppingCondition", {}).get("MaxRuntimeInSeconds", 86400)
        if elapsed > limit:
            job.status, job.secondary = "Stopped", "MaxRuntimeExceeded"
            job.ended = job.created + limit
            return
        if elapsed < self.timings.training_startup:
            job.secondary = "Starting" if elapsed < self.timings.training_startup / 2 else (
                "Downloading")  # fmt: skip
            return
        if elapsed < self.timings.training_startup + self.timings.training:
            job.secondary = "Training"
            return
        try:
            if job.fault:
                raise ValueError(job.fault)
            self._train(job)
            job.status, job.secondary = "Completed", "Completed"
        except ValueError as exc:
            job.status, job.secondary, job.failure = "Failed", "Failed", str(exc)
        job.ended = self._now()

    def _hyperparameters(self, job: _TrainingJob) -> dict[str, Any]:
        given = job.request.get("HyperParameters", {})
        if given.get("mode") != "supervised":
            raise ValueError(
                "ClientError: the local BlazingText trains mode=supervised only, "
                f"got mode={given.get('mode')!r}"
            )
        values: dict[str, Any] = {}
        for key, default in HYPERPARAMETER_DEFAULTS.items():
            raw = given.get(key, default)
            try:
                values[key] = type(default)(raw)
            except (TypeError, ValueError):
                raise ValueError(f"ClientError: hyperparameter {key}={raw!r} is invalid") from None
        return values

    def _channel_text(self, s3: Any, channel: dict[str, Any]) -> str:
        source = channel["DataSource"]["S3DataSource"]
        bucket, prefix = _s3(source["S3Uri"])
        parts = []
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
        for item in listed.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            parts.append(body.decode("utf-8"))
        return "".join(part if part.endswith("\n") else part + "\n" for part in parts if part)

    def _train(self, job: _TrainingJob) -> None:
        import fasttext

        request = job.request
        image = request["AlgorithmSpecification"].get("TrainingImage", "")
        if not IMAGE_PATTERN.match(image):
            raise ValueError(
                f"ClientError: the local engine trains the BlazingText image only: {image}"
            )
        hp = self._hyperparameters(job)
        s3 = self._s3_for_role(request["RoleArn"])
        channels = {c["ChannelName"]: c for c in request["InputDataConfig"]}
        if "train" not in channels:
            raise ValueError("ClientError: the train channel is required")
        try:
            train_text = self._channel_text(s3, channels["train"])
            validation_text = (
                self._channel_text(s3, channels["validation"]) if "validation" in channels else ""
            )
        except Exception as exc:
            raise ValueError(f"ClientError: cannot read the channel data: {exc}") from exc
        lines = [line for line in train_text.splitlines() if line.strip()]
        if not lines or not all(line.startswith("__label__") for line in lines):
            raise ValueError(
                "ClientError: the train channel must hold lines '__label__<class> <text>'"
            )
        if len({line.split(" ", 1)[0] for line in lines}) < 2:
            raise ValueError("ClientError: supervised training needs at least two labels")
        with tempfile.TemporaryDirectory() as directory:
            train_path = os.path.join(directory, "train.txt")
            with open(train_path, "w", encoding="utf-8") as handle:
                handle.write("\n".join(lines) + "\n")
            model = fasttext.train_supervised(
                input=train_path,
                epoch=hp["epochs"],
                lr=hp["learning_rate"],
                minCount=hp["min_count"],
                dim=hp["vector_dim"],
                wordNgrams=hp["word_ngrams"],
                bucket=hp["buckets"] if hp["word_ngrams"] > 1 else 0,
                thread=1,
                seed=0,
                verbose=0,
            )
            model_path = os.path.join(directory, "model.bin")
            model.save_model(model_path)
            archive = io.BytesIO()
            with tarfile.open(fileobj=archive, mode="w:gz") as tar:
                tar.add(model_path, arcname="model.bin")
            output = request["OutputDataConfig"]["S3OutputPath"].rstrip("/")
            model_uri = f"{output}/{request['TrainingJobName']}/output/model.tar.gz"
            bucket, key = _s3(model_uri)
            s3.put_object(Bucket=bucket, Key=key, Body=archive.getvalue())
        job.model_data = model_uri
        if validation_text.strip():
            wrapped = FastTextModel(model)
            rows = [line.split(" ", 1) for line in validation_text.splitlines() if line.strip()]
            correct = sum(
                1
                for row in rows
                if wrapped.predict(row[1] if len(row) > 1 else "")["label"][0] == row[0]
            )
            job.metrics = [
                {
                    "MetricName": "validation:accuracy",
                    "Value": round(correct / len(rows), 4),
                    "Timestamp": self._now(),
                }
            ]
        self._loaded[model_uri] = FastTextModel(model)

    def _describe_training_job(self, p: dict[str, Any]) -> dict[str, Any]:
        job = self._training_job(p["TrainingJobName"])
        r = job.request
        data: dict[str, Any] = {
            "TrainingJobName": r["TrainingJobName"],
            "TrainingJobArn": self._arn("training-job", r["TrainingJobName"]),
            "TrainingJobStatus": job.status,
            "SecondaryStatus": job.secondary,
            "AlgorithmSpecification": r["AlgorithmSpecification"],
            "RoleArn": r["RoleArn"],
            "InputDataConfig": r["InputDataConfig"],
            "OutputDataConfig": r["OutputDataConfig"],
            "ResourceConfig": r["ResourceConfig"],
            "StoppingCondition": r["StoppingCondition"],
            "HyperParameters": r.get("HyperParameters", {}),
            "CreationTime": job.created,
            "TrainingStartTime": job.created + self.timings.training_startup,
            "ModelArtifacts": {"S3ModelArtifacts": job.model_data or ""},
            "FinalMetricDataList": job.metrics,
        }
        if job.ended is not None:
            data["TrainingEndTime"] = job.ended
        if job.failure:
            data["FailureReason"] = job.failure
        return data

    def _stop_training_job(self, p: dict[str, Any]) -> dict[str, Any]:
        job = self._training_job(p["TrainingJobName"])
        if job.status == "InProgress":
            job.status, job.secondary, job.ended = "Stopped", "Stopped", self._now()
        return {}

    # -- models and configs -----------------------------------------------------------------------
    # Both are kept as their create request, stamped with its CreationTime.
    def _create_model(self, p: dict[str, Any]) -> dict[str, Any]:
        self._refuse_existing(_MODEL, self._models, p["ModelName"])
        container = p.get("PrimaryContainer") or {}
        if not container.get("ModelDataUrl"):
            raise self._validation("The model needs PrimaryContainer.ModelDataUrl")
        return self._store_request(_MODEL, self._models, p)

    def _model(self, name: str) -> dict[str, Any]:
        return self._stored(_MODEL, self._models, name)

    def _describe_model(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._describe_request(_MODEL, self._models, p)

    def _delete_model(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._delete_request(_MODEL, self._models, p)

    def _create_endpoint_config(self, p: dict[str, Any]) -> dict[str, Any]:
        self._refuse_existing(_ENDPOINT_CONFIG, self._configs, p["EndpointConfigName"])
        for variant in p["ProductionVariants"]:
            self._model(variant["ModelName"])
        return self._store_request(_ENDPOINT_CONFIG, self._configs, p)

    def _config(self, name: str) -> dict[str, Any]:
        return self._stored(_ENDPOINT_CONFIG, self._configs, name)

    def _describe_endpoint_config(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._describe_request(_ENDPOINT_CONFIG, self._configs, p)

    def _delete_endpoint_config(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._delete_request(_ENDPOINT_CONFIG, self._configs, p)

    def _store_request(
        self, kind: _Kind, requests: dict[str, dict[str, Any]], p: dict[str, Any]
    ) -> dict[str, Any]:
        name = p[kind.name_field]
        requests[name] = {**p, "CreationTime": self._now()}
        return {kind.arn_field: self._arn(kind.arn_type, name)}

    def _describe_request(
        self, kind: _Kind, requests: dict[str, dict[str, Any]], p: dict[str, Any]
    ) -> dict[str, Any]:
        name = p[kind.name_field]
        return {
            **self._stored(kind, requests, name),
            kind.arn_field: self._arn(kind.arn_type, name),
        }

    def _delete_request(
        self, kind: _Kind, requests: dict[str, dict[str, Any]], p: dict[str, Any]
    ) -> dict[str, Any]:
        name = p[kind.name_field]
        self._stored(kind, requests, name)
        del requests[name]
        return {}

    # SageMaker's messages for models, endpoint configs and endpoints name the kind and the ARN.
    def _refuse_existing(self, kind: _Kind, resources: Mapping[str, Any], name: str) -> None:
        if name in resources:
            raise self._validation(
                f'Cannot create already existing {kind.noun} "{self._arn(kind.arn_type, name)}".'
            )

    def _stored(self, kind: _Kind, resources: Mapping[str, _T], name: str) -> _T:
        missing = self._validation(
            f'Could not find {kind.noun} "{self._arn(kind.arn_type, name)}".'
        )
        return existing(resources, name, missing)

    def _load(self, config_name: str) -> FastTextModel:
        """The model behind an endpoint config, read through the model's execution role."""
        import fasttext

        variant = self._config(config_name)["ProductionVariants"][0]
        model = self._model(variant["ModelName"])
        uri = model["PrimaryContainer"]["ModelDataUrl"]
        if uri not in self._loaded:
            s3 = self._s3_for_role(model["ExecutionRoleArn"])
            bucket, key = _s3(uri)
            try:
                data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                with tempfile.TemporaryDirectory() as directory:
                    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
                        tar.extract("model.bin", directory, filter="data")
                    loaded = fasttext.load_model(os.path.join(directory, "model.bin"))
            except Exception as exc:
                raise ValueError(f"cannot load the model data {uri}: {exc}") from exc
            self._loaded[uri] = FastTextModel(loaded)
        return self._loaded[uri]

    # -- endpoints --------------------------------------------------------------------------------
    def _create_endpoint(self, p: dict[str, Any]) -> dict[str, Any]:
        name = p["EndpointName"]
        self._refuse_existing(_ENDPOINT, self._endpoints, name)
        self._config(p["EndpointConfigName"])
        self._endpoints[name] = _Endpoint(
            name,
            p["EndpointConfigName"],
            self._now(),
            pending_config=p["EndpointConfigName"],
            changed=self._now(),
            fault=_next(self._endpoint_faults),
        )
        return {"EndpointArn": self._arn("endpoint", name)}

    def _endpoint(self, name: str) -> _Endpoint:
        endpoint = self._stored(_ENDPOINT, self._endpoints, name)
        self._advance_endpoint(endpoint)
        return endpoint

    def _advance_endpoint(self, endpoint: _Endpoint) -> None:
        if endpoint.status not in ("Creating", "Updating") or endpoint.pending_config is None:
            return
        if self._now() - endpoint.changed < self.timings.endpoint:
            return
        try:
            if endpoint.fault:
                raise ValueError(endpoint.fault)
            self._load(endpoint.pending_config)
        except ValueError as exc:
            endpoint.failure = str(exc)
            # A failed update rolls back to the config that was serving.
            endpoint.status = "Failed" if endpoint.status == "Creating" else "InService"
        else:
            endpoint.config = endpoint.pending_config
            endpoint.status = "InService"
            endpoint.failure = None
        endpoint.pending_config, endpoint.fault = None, None
        endpoint.changed = self._now()

    def _update_endpoint(self, p: dict[str, Any]) -> dict[str, Any]:
        endpoint = self._endpoint(p["EndpointName"])
        if endpoint.status != "InService":
            raise self._validation(
                f'Cannot update in-progress endpoint "{self._arn("endpoint", endpoint.name)}".'
            )
        self._config(p["EndpointConfigName"])
        endpoint.status, endpoint.pending_config = "Updating", p["EndpointConfigName"]
        endpoint.changed = self._now()
        endpoint.fault = _next(self._endpoint_faults)  # None while InService: no update pending
        return {"EndpointArn": self._arn("endpoint", endpoint.name)}

    def _describe_endpoint(self, p: dict[str, Any]) -> dict[str, Any]:
        endpoint = self._endpoint(p["EndpointName"])
        data: dict[str, Any] = {
            "EndpointName": endpoint.name,
            "EndpointArn": self._arn("endpoint", endpoint.name),
            "EndpointConfigName": endpoint.config,
            "EndpointStatus": endpoint.status,
            "CreationTime": endpoint.created,
            "LastModifiedTime": endpoint.changed,
        }
        if endpoint.failure:
            data["FailureReason"] = endpoint.failure
        return data

    def _variant(self, config_name: str) -> dict[str, Any]:
        variant: dict[str, Any] = self._configs.get(config_name, {}).get(
            "ProductionVariants", [{}]
        )[0]
        return variant

    def instance_seconds(self) -> float:
        """Instance-seconds billed so far: ended endpoints and the live ones up to now."""
        now = self._now()
        live = sum(
            (now - e.created) * self._variant(e.config).get("InitialInstanceCount", 0)
            for e in self._endpoints.values()
            if "ServerlessConfig" not in self._variant(e.config)
        )
        return sum(self.usage.instance_seconds.values()) + live

    def _delete_endpoint(self, p: dict[str, Any]) -> dict[str, Any]:
        endpoint = self._endpoint(p["EndpointName"])
        variant = self._variant(endpoint.config)
        if "ServerlessConfig" not in variant:
            self.usage.record_instances(
                endpoint.name,
                (self._now() - endpoint.created) * variant.get("InitialInstanceCount", 0),
            )
        del self._endpoints[p["EndpointName"]]
        return {}

    def invoke(self, endpoint_name: str, body: bytes, content_type: str) -> tuple[str, bytes]:
        """InvokeEndpoint: (variant name, response body). Raises ServiceError."""
        with self._lock:
            endpoint = self._endpoints.get(endpoint_name)
            if endpoint is not None:
                self._advance_endpoint(endpoint)
            if endpoint is None or endpoint.status not in ("InService", "Updating"):
                raise ServiceError(
                    "ValidationError",
                    f"Endpoint {endpoint_name} of account {self.account_id} not found."
                    if endpoint is None
                    else f"Endpoint {endpoint_name} is not in service ({endpoint.status}).",
                    400,
                )
            model = self._load(endpoint.config)
        if not content_type.startswith("application/json"):
            raise ServiceError(
                "ModelError", f"BlazingText accepts application/json, not {content_type}", 424
            )
        try:
            request = json.loads(body)
            instances = request["instances"]
            k = int(request.get("configuration", {}).get("k", 1))
            if not isinstance(instances, list) or not all(isinstance(i, str) for i in instances):
                raise ValueError("instances must be a list of strings")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ServiceError(
                "ModelError",
                f"Received client error (400) from model: invalid request: {exc}",
                424,
            ) from exc
        started = time.perf_counter()
        predictions = [model.predict(text, k) for text in instances]
        serverless = self._variant(endpoint.config).get("ServerlessConfig")
        if serverless:
            self.usage.record_serverless(
                int(serverless["MemorySizeInMB"]), time.perf_counter() - started
            )
        return "AllTraffic", json.dumps(predictions).encode()

    # -- batch transform --------------------------------------------------------------------------
    def _create_transform_job(self, p: dict[str, Any]) -> dict[str, Any]:
        name = p["TransformJobName"]
        if name in self._transforms:
            raise ServiceError("ResourceInUse", f"Transform job {name} already exists", 400)
        self._model(p["ModelName"])
        self._transforms[name] = _TransformJob(dict(p), self._now())
        return {"TransformJobArn": self._arn("transform-job", name)}

    def _transform_job(self, name: str) -> _TransformJob:
        job = existing(
            self._transforms, name, self._validation(f"Could not find transform job {name}")
        )
        if job.status == "InProgress" and self._now() - job.created >= self.timings.transform:
            try:
                self._transform(job)
                job.status = "Completed"
            except ValueError as exc:
                job.status, job.failure = "Failed", str(exc)
            job.ended = self._now()
        return job

    def _transform(self, job: _TransformJob) -> None:
        request = job.request
        model_definition = self._model(request["ModelName"])
        s3 = self._s3_for_role(model_definition["ExecutionRoleArn"])
        config_name = f"transform:{request['TransformJobName']}"
        self._configs[config_name] = {"ProductionVariants": [{"ModelName": request["ModelName"]}]}
        try:
            model = self._load(config_name)
        finally:
            del self._configs[config_name]
        source = request["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
        bucket, prefix = _s3(source)
        output_bucket, output_prefix = _s3(request["TransformOutput"]["S3OutputPath"])
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
        if not listed:
            raise ValueError(f"ClientError: no input objects under {source}")
        for item in listed:
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode("utf-8")
            results = []
            for number, line in enumerate(body.splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    text = record["source"]
                except (ValueError, KeyError, TypeError) as exc:
                    raise ValueError(
                        f'ClientError: {item["Key"]} line {number} is not {{"source": ...}}'
                    ) from exc
                results.append(json.dumps(model.predict(text, int(record.get("k", 1)))))
            name = unquote(item["Key"][len(prefix) :].lstrip("/")) or item["Key"].rsplit("/", 1)[-1]
            key = f"{output_prefix.rstrip('/')}/{name}.out".lstrip("/")
            s3.put_object(Bucket=output_bucket, Key=key, Body=("\n".join(results) + "\n").encode())

    def _describe_transform_job(self, p: dict[str, Any]) -> dict[str, Any]:
        job = self._transform_job(p["TransformJobName"])
        r = job.request
        data: dict[str, Any] = {
            "TransformJobName": r["TransformJobName"],
            "TransformJobArn": self._arn("transform-job", r["TransformJobName"]),
            "TransformJobStatus": job.status,
            "ModelName": r["ModelName"],
            "TransformInput": r["TransformInput"],
            "TransformOutput": r["TransformOutput"],
            "TransformResources": r["TransformResources"],
            "CreationTime": job.created,
        }
        if job.ended is not None:
            data["TransformEndTime"] = job.ended
        if job.failure:
            data["FailureReason"] = job.failure
        return data

    # -- listing ----------------------------------------------------------------------------------
    def _summary(self, kind: _Kind, name: str, **fields: Any) -> dict[str, Any]:
        """A resource's entry in its List* answer: its name and ARN, then `fields`."""
        return {kind.name_field: name, kind.arn_field: self._arn(kind.arn_type, name), **fields}

    def _list_training_jobs(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._list_jobs(
            p, _TRAINING_JOB, "TrainingJobStatus", list(self._training), self._training_job
        )

    def _list_transform_jobs(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._list_jobs(
            p, _TRANSFORM_JOB, "TransformJobStatus", list(self._transforms), self._transform_job
        )

    def _list_jobs(
        self,
        p: dict[str, Any],
        kind: _Kind,
        status_field: str,
        names: list[str],
        lookup: Callable[[str], _TrainingJob | _TransformJob],
    ) -> dict[str, Any]:
        """A List*Jobs answer: each job brought up to date by `lookup(name)`, with its status."""
        jobs = {name: lookup(name) for name in names}
        items = [
            self._summary(kind, name, CreationTime=job.created, **{status_field: job.status})
            for name, job in jobs.items()
        ]
        return _listed(p, items, kind)

    def _list_models(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._list_requests(p, _MODEL, self._models)

    def _list_endpoint_configs(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._list_requests(p, _ENDPOINT_CONFIG, self._configs)

    def _list_requests(
        self, p: dict[str, Any], kind: _Kind, requests: dict[str, dict[str, Any]]
    ) -> dict[str, Any]:
        items = [
            self._summary(kind, name, CreationTime=request["CreationTime"])
            for name, request in requests.items()
        ]
        return _listed(p, items, kind)

    def _list_endpoints(self, p: dict[str, Any]) -> dict[str, Any]:
        endpoints = {name: self._endpoint(name) for name in list(self._endpoints)}
        items = [
            self._summary(
                _ENDPOINT, name, CreationTime=endpoint.created,
                LastModifiedTime=endpoint.changed, EndpointStatus=endpoint.status,
            )
            for name, endpoint in endpoints.items()
        ]  # fmt: skip
        return _listed(p, items, _ENDPOINT)

    def _stop_transform_job(self, p: dict[str, Any]) -> dict[str, Any]:
        job = self._transform_job(p["TransformJobName"])
        if job.status == "InProgress":
            job.status, job.ended = "Stopped", self._now()
        return {}


def _listed(p: dict[str, Any], items: list[dict[str, Any]], kind: _Kind) -> dict[str, Any]:
    """One page of a List* answer: `NameContains` and `StatusEquals` applied, oldest first."""
    name_field = kind.name_field
    contains = str(p.get("NameContains", "")).lower()
    status = p.get("StatusEquals")
    selected = [
        item
        for item in items
        if contains in item[name_field].lower()
        and (status is None or any(v == status for k, v in item.items() if k.endswith("Status")))
    ]
    page, token = page_by_key(
        selected,
        lambda item: (item["CreationTime"], item[name_field]),
        p.get("NextToken"),
        p.get("MaxResults", 10),
        error_code="ValidationException",
    )
    return {kind.list_key: page, **({"NextToken": token} if token else {})}


class SageMakerRuntimeEndpoint:
    """Answers `sagemaker-runtime` requests (REST-JSON with a raw body) from the engine."""

    def __init__(self, engine: SageMakerEngine) -> None:
        self.engine = engine

    def answer_request(self, request: Any, operation: str, ctx: CallContext) -> Any:
        from botocore.awsrequest import AWSResponse

        from localcloud.core.protocol import _BodyStream

        headers = {
            "x-amzn-RequestId": str(uuid.uuid4()),
            "Date": datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT"),
        }
        try:
            if operation != "InvokeEndpoint":
                raise ServiceError(
                    "UnknownOperationException", f"{operation} is not emulated locally", 400
                )
            path = urlparse(request.url).path
            match = re.fullmatch(r"/endpoints/([^/]+)/invocations", path)
            if match is None:
                raise ServiceError("ValidationError", f"unexpected path {path}", 400)
            content_type = request.headers.get("Content-Type", b"application/json")
            if isinstance(content_type, bytes):
                content_type = content_type.decode()
            body = request.body or b""
            if isinstance(body, str):
                body = body.encode()
            elif not isinstance(body, bytes):
                body = body.read()
            variant, payload = self.engine.invoke(unquote(match.group(1)), body, content_type)
        except ServiceError as error:
            data = json.dumps({"message": error.message}).encode()
            headers.update(
                {
                    "x-amzn-ErrorType": error.code,
                    "Content-Type": "application/json",
                    "Content-Length": str(len(data)),
                }
            )
            return AWSResponse(request.url, error.status or 400, headers, _BodyStream(data))
        headers.update(
            {
                "Content-Type": "application/json",
                "x-Amzn-Invoked-Production-Variant": variant,
                "Content-Length": str(len(payload)),
            }
        )
        return AWSResponse(request.url, 200, headers, _BodyStream(payload))
