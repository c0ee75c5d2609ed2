"""Typed settings of the GlueMlPipeline stack, read from CDK context (`glue_ml_pipeline:*`).

Like every stack's settings (see `stacks.config`), values are validated at synth time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from constructs import Node

from lambdas.shared.endpoint_policy import ALWAYS_ON, SCALE_TO_ZERO, SCHEDULE
from lambdas.shared.errors import ConfigurationError
from stacks.config import ContextReader, stage

# The built-in BlazingText image: one registry account per region (SageMaker developer guide,
# "Docker registry paths and example code"), tag 1. Regions missing here can name the image with
# glue_ml_pipeline:trainingImage.
BLAZINGTEXT_ACCOUNTS = {
    "us-east-1": "811284229777",
    "us-east-2": "825641698319",
    "us-west-1": "632365934929",
    "us-west-2": "433757028032",
    "ca-central-1": "469771592824",
    "eu-west-1": "685385470294",
    "eu-west-2": "644912444149",
    "eu-central-1": "813361260812",
    "ap-northeast-1": "501404015308",
    "ap-northeast-2": "306986355934",
    "ap-southeast-1": "475088953585",
    "ap-southeast-2": "544295431143",
    "ap-south-1": "991648021394",
}
# BlazingText supervised-mode hyperparameters this pipeline sets, with their allowed ranges.
HYPERPARAMETERS = {
    "epochs": (20, 1, 100),
    "min_count": (1, 0, 100),
    "vector_dim": (20, 4, 300),
    "word_ngrams": (2, 1, 5),
    "buckets": (200_000, 10_000, 10_000_000),
}
INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9]+\.[a-z0-9]+$")


@dataclass(frozen=True)
class GluePipelineSettings:
    source_uri: str | None
    schedule: str | None
    training_image: str | None
    training_instance_type: str
    inference_instance_type: str
    hyperparameters: tuple[tuple[str, str], ...]
    seed: int
    validation_fraction: float
    test_fraction: float
    max_reject_ratio: float
    expected_classes: int
    min_rows_per_class: int
    min_improvement: float
    poll_seconds: int
    max_training_minutes: int
    max_transform_minutes: int
    max_endpoint_minutes: int
    # `scale-to-zero`: a serverless endpoint (billed per request, nothing while idle);
    # `always-on`: one `inference_instance_type` instance, billed every hour.
    endpoint_policy: str = ALWAYS_ON
    serverless_memory_mib: int = 2048
    serverless_max_concurrency: int = 5

    @property
    def serverless(self) -> bool:
        return self.endpoint_policy == SCALE_TO_ZERO

    @classmethod
    def from_context(cls, node: Node) -> GluePipelineSettings:
        prefix = "glue_ml_pipeline:"
        read = ContextReader(node, prefix)

        source = read.get("sourceUri", None)
        if source is not None and not re.fullmatch(
            r"(s3://[a-z0-9.-]{3,63}/.+|https://\S+)", str(source)
        ):
            raise ConfigurationError(f"{prefix}sourceUri must be s3://bucket/key or https://...")
        schedule = read.get("schedule", None)
        if schedule is not None and not re.fullmatch(r"cron\(.+\)", str(schedule)):
            raise ConfigurationError(f"{prefix}schedule must be a Glue cron(...) expression")
        instance_types = {}
        for key, default in (("trainingInstanceType", "ml.c5.xlarge"),
                             ("inferenceInstanceType", "ml.m5.large")):  # fmt: skip
            value = read.text(key, default)
            if not INSTANCE_TYPE.match(value):
                raise ConfigurationError(f"{prefix}{key} must be an ML instance type: {value!r}")
            instance_types[key] = value
        learning_rate = read.fraction("learningRate", 0.3, 0.001, 1.0)
        hyperparameters = [("mode", "supervised"), ("learning_rate", f"{learning_rate:g}")]
        for parameter, (standard, low, high) in HYPERPARAMETERS.items():
            camel = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), parameter)
            hyperparameters.append((parameter, str(read.number(camel, standard, low, high))))
        validation = read.fraction("validationFraction", 0.1, 0.01, 0.4)
        test = read.fraction("testFraction", 0.1, 0.01, 0.4)
        if validation + test > 0.5:
            raise ConfigurationError(f"{prefix}validationFraction + testFraction must be <= 0.5")
        return cls(
            source_uri=str(source) if source else None,
            schedule=str(schedule) if schedule else None,
            training_image=read.optional("trainingImage"),
            training_instance_type=instance_types["trainingInstanceType"],
            inference_instance_type=instance_types["inferenceInstanceType"],
            hyperparameters=tuple(hyperparameters),
            seed=read.number("seed", 42, 0, 2**31 - 1),
            validation_fraction=validation,
            test_fraction=test,
            max_reject_ratio=read.fraction("maxRejectRatio", 0.05, 0.0, 0.5),
            expected_classes=read.number("expectedClasses", 14, 0, 10_000),
            min_rows_per_class=read.number("minRowsPerClass", 10, 3, 1_000_000),
            min_improvement=read.fraction("minImprovement", 0.0, 0.0, 0.5),
            poll_seconds=read.number("pollSeconds", 30, 5, 600),
            max_training_minutes=read.number("maxTrainingMinutes", 120, 5, 1440),
            max_transform_minutes=read.number("maxTransformMinutes", 60, 5, 600),
            max_endpoint_minutes=read.number("maxEndpointMinutes", 30, 5, 180),
            endpoint_policy=_endpoint_policy(read),
            serverless_memory_mib=_serverless_memory(read),
            serverless_max_concurrency=read.number("serverlessMaxConcurrency", 5, 1, 200),
        )


def _endpoint_policy(read: ContextReader) -> str:
    prefix = read.prefix
    default = SCALE_TO_ZERO if stage(read.node) == "dev" else ALWAYS_ON
    policy = read.text("endpointPolicy", default)
    if policy == SCHEDULE:
        raise ConfigurationError(
            f"{prefix}endpointPolicy: the pipeline's endpoint is serverless under "
            "scale-to-zero (billed per request, nothing while idle), so a schedule would only "
            f"add cost; use {SCALE_TO_ZERO} or {ALWAYS_ON}"
        )
    if policy not in (SCALE_TO_ZERO, ALWAYS_ON):
        raise ConfigurationError(
            f"{prefix}endpointPolicy must be {SCALE_TO_ZERO} or {ALWAYS_ON}, got {policy!r}"
        )
    return policy


def _serverless_memory(read: ContextReader) -> int:
    # ServerlessConfig.MemorySizeInMB: 1024, 2048, 3072, 4096, 5120 or 6144 (the API reference).
    memory = read.number("serverlessMemoryMiB", 2048, 1024, 6144)
    if memory % 1024:
        raise ConfigurationError(f"{read.prefix}serverlessMemoryMiB must be a multiple of 1024")
    return memory
