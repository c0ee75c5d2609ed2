"""Typed settings for each stack, read from CDK context (`cdk.json` or `-c key=value`).

Every value is validated at synth time, so a bad setting fails `cdk synth` with a clear message
instead of failing later in the account.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from constructs import Node

from lambdas.caption_translation.captions.reading import ReadingProfile, ReadingProfileError
from lambdas.shared.endpoint_policy import (
    ALWAYS_ON,
    SCALE_TO_ZERO,
    EndpointPolicy,
    PolicyError,
)
from lambdas.shared.errors import ConfigurationError
from lambdas.shared.languages import check_languages

MAX_POLL_BUDGET_SECONDS = 20 * 3600
STAGE_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,19}$")


def _get(node: Node, key: str, default: Any) -> Any:
    value = node.try_get_context(key)
    return default if value is None else value


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    if isinstance(value, list):
        return [str(item).strip() for item in value if str(item).strip()]
    raise ConfigurationError(f"expected a list or a comma-separated string, got {value!r}")


Number = TypeVar("Number", int, float)


def in_range(
    key: str, value: Any, kind: Callable[[Any], Number], minimum: Number, maximum: Number
) -> Number:
    """`value` as an int or a float (`kind`), between `minimum` and `maximum`."""
    try:
        number = kind(value)
    except (TypeError, ValueError):
        what = "an integer" if kind is int else "a number"
        raise ConfigurationError(f"{key} must be {what}, got {value!r}") from None
    if not minimum <= number <= maximum:
        raise ConfigurationError(f"{key} must be between {minimum} and {maximum}, got {number}")
    return number


@dataclass(frozen=True)
class ContextReader:
    """One stack's settings in the CDK context: the values at `<prefix><key>`, each parsed
    and checked, with the full key in the error."""

    node: Node
    prefix: str

    def get(self, key: str, default: Any) -> Any:
        return _get(self.node, self.prefix + key, default)

    def text(self, key: str, default: str) -> str:
        return str(self.get(key, default))

    def optional(self, key: str) -> str | None:
        """The value as a string, or None where it is unset or empty."""
        value = self.get(key, None)
        return str(value) if value else None

    def names(self, key: str, default: str = "") -> tuple[str, ...]:
        """A list, or a comma-separated string, of names."""
        return tuple(_as_list(self.get(key, default)))

    def number(self, key: str, default: int, minimum: int, maximum: int) -> int:
        return in_range(self.prefix + key, self.get(key, default), int, minimum, maximum)

    def fraction(self, key: str, default: float, minimum: float, maximum: float) -> float:
        return in_range(self.prefix + key, self.get(key, default), float, minimum, maximum)


def max_polls(minutes: int, poll_seconds: int) -> int:
    """How many polls `poll_seconds` apart a wait of `minutes` allows (at least one)."""
    return max(1, minutes * 60 // poll_seconds)


def stage(node: Node) -> str:
    value = str(_get(node, "stage", "dev"))
    if not STAGE_PATTERN.match(value):
        raise ConfigurationError(f"stage must match {STAGE_PATTERN.pattern}, got {value!r}")
    return value


def endpoint_policy(read: ContextReader) -> EndpointPolicy:
    """The stack's endpoint lifecycle policy: `<prefix>endpointPolicy` (`always-on`,
    `scale-to-zero` or `schedule`; `scale-to-zero` for the `dev` stage, `always-on` for any
    other), `<prefix>idleMinutes` and, for `schedule`, `<prefix>businessDays`,
    `<prefix>businessStartHour`, `<prefix>businessEndHour` and `<prefix>businessTimeZone`."""
    default = SCALE_TO_ZERO if stage(read.node) == "dev" else ALWAYS_ON
    try:
        return EndpointPolicy.parse(
            read.text("endpointPolicy", default),
            idle_minutes=read.get("idleMinutes", 15),
            days=read.get("businessDays", "MON-FRI"),
            start_hour=read.get("businessStartHour", 8),
            end_hour=read.get("businessEndHour", 18),
            time_zone=read.get("businessTimeZone", "UTC"),
        )
    except PolicyError as error:
        raise ConfigurationError(f"{read.prefix}{error}") from None


@dataclass(frozen=True)
class CaptionSettings:
    source_language: str
    target_languages: tuple[str, ...]
    trigger_file: str
    terminology_names: tuple[str, ...]
    realtime_max_bytes: int
    notification_email: str | None
    poll_interval_seconds: int
    max_polls: int
    batch_retention_days: int
    reading_profile: dict[str, Any]

    @classmethod
    def from_context(cls, node: Node) -> CaptionSettings:
        read = ContextReader(node, "caption_translation:")
        source = read.text("sourceLanguage", "en")
        targets = check_languages(source, read.names("targetLanguages", "es"))
        trigger = read.text("triggerFile", "triggerfile")
        if not re.fullmatch(r"[A-Za-z0-9._-]{1,100}", trigger):
            raise ConfigurationError(
                f"caption_translation:triggerFile must be a plain file name: {trigger!r}"
            )
        terminologies = read.names("terminologyNames")
        if len(terminologies) > 1:
            raise ConfigurationError(
                "Amazon Translate applies at most one custom terminology per request; "
                f"caption_translation:terminologyNames has {len(terminologies)}"
            )
        for name in terminologies:
            if not re.fullmatch(r"[A-Za-z0-9-]{1,256}", name):
                raise ConfigurationError(f"invalid terminology name {name!r}")
        try:
            profile = ReadingProfile.from_json(read.get("readingProfile", None))
        except ReadingProfileError as error:
            raise ConfigurationError(f"caption_translation:readingProfile: {error}") from None
        settings = cls(
            reading_profile=profile.as_json(),
            source_language=source,
            target_languages=targets,
            trigger_file=trigger,
            terminology_names=terminologies,
            realtime_max_bytes=read.number("realtimeMaxBytes", 200_000, 0, 5_000_000),
            notification_email=read.optional("notificationEmail"),
            poll_interval_seconds=read.number("pollIntervalSeconds", 60, 5, 3600),
            max_polls=read.number("maxPolls", 720, 1, 10_000),
            batch_retention_days=read.number("batchRetentionDays", 30, 1, 3650),
        )
        budget = settings.poll_interval_seconds * settings.max_polls
        if budget > MAX_POLL_BUDGET_SECONDS:
            raise ConfigurationError(
                "caption_translation:pollIntervalSeconds x caption_translation:maxPolls is "
                f"{budget} s; the workflow allows {MAX_POLL_BUDGET_SECONDS} s for a job so it "
                "ends (and notifies) within "
                "its 24-hour execution timeout"
            )
        return settings


@dataclass(frozen=True)
class CustomLabelsSettings:
    schedule: str
    min_inference_units: int
    max_inference_units: int
    min_confidence: int
    runtime_budget_minutes: int
    poll_interval_seconds: int
    max_start_minutes: int
    max_attempts: int
    notification_email: str | None

    @classmethod
    def from_context(cls, node: Node) -> CustomLabelsSettings:
        prefix = "custom_labels_batch:"
        read = ContextReader(node, prefix)

        schedule = read.text("schedule", "rate(1 hour)")
        if not re.fullmatch(
            r"(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(.+\))", schedule
        ):
            raise ConfigurationError(
                f"{prefix}schedule must be rate(...) or cron(...): {schedule!r}"
            )
        minimum = read.number("minInferenceUnits", 1, 1, 100)
        maximum = read.number("maxInferenceUnits", minimum, 1, 100)
        if maximum < minimum:
            raise ConfigurationError(
                f"{prefix}maxInferenceUnits ({maximum}) is below minInferenceUnits ({minimum})"
            )
        settings = cls(
            schedule=schedule,
            min_inference_units=minimum,
            max_inference_units=maximum,
            min_confidence=read.number("minConfidence", 70, 0, 100),
            runtime_budget_minutes=read.number("runtimeBudgetMinutes", 45, 5, 720),
            poll_interval_seconds=read.number("pollIntervalSeconds", 30, 5, 300),
            max_start_minutes=read.number("maxStartMinutes", 30, 5, 120),
            max_attempts=read.number("maxAttempts", 3, 1, 10),
            notification_email=read.optional("notificationEmail"),
        )
        if (
            settings.runtime_budget_minutes + 2 * settings.max_start_minutes
        ) * 60 > MAX_POLL_BUDGET_SECONDS:
            raise ConfigurationError(
                f"{prefix}runtimeBudgetMinutes + 2 x maxStartMinutes (waits to start and to "
                "stop the model) must leave the run within its 24-hour execution timeout"
            )
        return settings


COMPREHEND_CLASSIFIER_LANGUAGES = ("en", "es", "fr", "de", "it", "pt")


@dataclass(frozen=True)
class ComprehendLifecycleSettings:
    metric: str
    mode: str
    label_delimiter: str
    language: str
    inference_units: int
    test_percent: int
    labels: tuple[str, ...]
    retain_models: int
    min_improvement_per_mille: int
    poll_interval_seconds: int
    max_training_minutes: int
    max_job_minutes: int
    max_endpoint_minutes: int
    max_rounds: int
    notification_email: str | None
    endpoint_policy: EndpointPolicy = field(default_factory=EndpointPolicy)

    @classmethod
    def from_context(cls, node: Node) -> ComprehendLifecycleSettings:
        prefix = "comprehend_model_lifecycle:"
        read = ContextReader(node, prefix)

        metric = read.text("metric", "F1")
        if metric not in ("Accuracy", "Precision", "Recall", "F1"):
            raise ConfigurationError(f"{prefix}metric must be Accuracy, Precision, Recall or F1")
        mode = read.text("mode", "MULTI_CLASS").upper().replace("-", "_")
        if mode not in ("MULTI_CLASS", "MULTI_LABEL"):
            raise ConfigurationError(f"{prefix}mode must be MULTI_CLASS or MULTI_LABEL")
        language = read.text("language", "en")
        if language not in COMPREHEND_CLASSIFIER_LANGUAGES:
            raise ConfigurationError(
                f"custom classification supports {', '.join(COMPREHEND_CLASSIFIER_LANGUAGES)}, "
                f"not {language!r}"
            )
        delimiter = read.text("labelDelimiter", "|")
        if delimiter not in ("|", "~", "!", "@", "#", "$", "%", "^", "*", "-", "_", "+", "=", "\\",
                             ":", ";", ">", "?", "/", " ", "\t"):  # fmt: skip
            raise ConfigurationError(f"{prefix}labelDelimiter {delimiter!r} is not allowed")
        fraction = read.fraction("testSplitFraction", 0.1, 0.05, 0.5)
        improvement = read.fraction("minImprovement", 0.0, 0, 1)
        if improvement == 1:
            raise ConfigurationError(f"{prefix}minImprovement must be in [0, 1)")
        return cls(
            metric=metric,
            mode=mode,
            label_delimiter=delimiter,
            language=language,
            inference_units=read.number("inferenceUnits", 1, 1, 100),
            test_percent=round(fraction * 100),
            labels=read.names("labels"),
            retain_models=read.number("retainModels", 2, 0, 20),
            min_improvement_per_mille=round(improvement * 1000),
            poll_interval_seconds=read.number("pollIntervalSeconds", 60, 10, 600),
            max_training_minutes=read.number("maxTrainingMinutes", 360, 10, 600),
            max_job_minutes=read.number("maxJobMinutes", 120, 10, 300),
            max_endpoint_minutes=read.number("maxEndpointMinutes", 60, 10, 180),
            max_rounds=read.number("maxRounds", 3, 1, 10),
            notification_email=read.optional("notificationEmail"),
            endpoint_policy=endpoint_policy(read),
        )


COMPREHEND_ENDPOINT_ARN = re.compile(
    r"^arn:aws[a-z-]*:comprehend:[a-z0-9-]+:\d{12}:document-classifier-endpoint/[A-Za-z0-9-]+$"
)


@dataclass(frozen=True)
class TicketSettings:
    operation_endpoint_arn: str | None
    resource_endpoint_arn: str | None
    database: str
    admin_username: str
    base_capacity: int
    publicly_accessible: bool
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]
    buffer_seconds: int
    buffer_megabytes: int
    retry_seconds: int
    # "serverless" (a namespace and workgroup) or "provisioned" (a cluster of `node_type`).
    warehouse: str = "serverless"
    node_type: str = "ra3.xlplus"
    number_of_nodes: int = 1
    # For the endpoints the stack trains (not for endpoints given by ARN: not the stack's).
    endpoint_policy: EndpointPolicy = field(default_factory=EndpointPolicy)

    @classmethod
    def from_context(cls, node: Node) -> TicketSettings:
        prefix = "ticket_classification:"
        read = ContextReader(node, prefix)

        def endpoint(key: str) -> str | None:
            value = read.get(key, None)
            if value is None or value == "":
                return None
            if not COMPREHEND_ENDPOINT_ARN.match(str(value)):
                raise ConfigurationError(f"{prefix}{key} is not a Comprehend endpoint ARN")
            return str(value)

        database = read.text("database", "tickets")
        if not re.fullmatch(r"[a-z_][a-z0-9_$]{0,126}", database):
            raise ConfigurationError(f"{prefix}database must be a lowercase Redshift name")
        username = read.text("adminUsername", "ticketadmin")
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,127}", username) or username == "admin":
            raise ConfigurationError(
                f"{prefix}adminUsername must be a lowercase name other than 'admin'"
            )
        capacity = read.number("baseCapacity", 8, 8, 1024)
        if capacity % 8:
            raise ConfigurationError(f"{prefix}baseCapacity must be a multiple of 8 RPUs")
        public = read.get("publiclyAccessible", True)
        operation_arn = endpoint("operationEndpointArn")
        resource_arn = endpoint("resourceEndpointArn")
        if (operation_arn is None) != (resource_arn is None):
            raise ConfigurationError(
                f"give both {prefix}operationEndpointArn and {prefix}resourceEndpointArn, or "
                "neither (the stack then trains both)"
            )
        return cls(
            operation_endpoint_arn=operation_arn,
            resource_endpoint_arn=resource_arn,
            database=database,
            admin_username=username,
            base_capacity=capacity,
            publicly_accessible=str(public).lower() in ("true", "1", "yes"),
            subnet_ids=read.names("subnetIds"),
            security_group_ids=read.names("securityGroupIds"),
            buffer_seconds=read.number("bufferSeconds", 60, 0, 900),
            buffer_megabytes=read.number("bufferMegabytes", 5, 1, 128),
            retry_seconds=read.number("retrySeconds", 3600, 0, 7200),
            endpoint_policy=endpoint_policy(read),
            **_ticket_warehouse(read),
        )


# Node types CreateCluster accepts, and those that also run as a single-node cluster.
REDSHIFT_NODE_TYPES = ("ra3.large", "ra3.xlplus", "ra3.4xlarge", "ra3.16xlarge", "dc2.large",
                       "dc2.8xlarge")  # fmt: skip
SINGLE_NODE_TYPES = ("ra3.large", "ra3.xlplus", "dc2.large")


def _ticket_warehouse(read: ContextReader) -> dict[str, Any]:
    """`ticket_classification:warehouse` and, for a provisioned cluster, its node type and count."""
    prefix = read.prefix
    warehouse = read.text("warehouse", "serverless")
    if warehouse not in ("serverless", "provisioned"):
        raise ConfigurationError(f"{prefix}warehouse must be 'serverless' or 'provisioned'")
    node_type = read.text("nodeType", "ra3.xlplus")
    if node_type not in REDSHIFT_NODE_TYPES:
        raise ConfigurationError(
            f"{prefix}nodeType must be one of {', '.join(REDSHIFT_NODE_TYPES)}"
        )
    nodes = read.number("numberOfNodes", 1, 1, 128)
    if nodes == 1 and node_type not in SINGLE_NODE_TYPES:
        raise ConfigurationError(f"{prefix}nodeType {node_type} needs 2 or more nodes")
    return {"warehouse": warehouse, "node_type": node_type, "number_of_nodes": nodes}


@dataclass(frozen=True)
class FeedbackLoopSettings:
    classifier_name: str
    categories: tuple[str, ...]
    confidence_threshold_per_mille: int
    buffer_seconds: int
    buffer_mib: int
    max_items_per_loop: int
    parameter_max_age_seconds: int
    throttle_rate: int
    throttle_burst: int
    # Part 1's resources, when this stack is deployed without it in the same app.
    training_bucket: str | None
    endpoint_parameter: str | None
    endpoint_name: str | None

    @classmethod
    def from_context(cls, node: Node) -> FeedbackLoopSettings:
        prefix = "comprehend_feedback_loop:"
        read = ContextReader(node, prefix)

        name = read.text("classifierName", "news")
        if not re.fullmatch(r"[A-Za-z0-9-]{1,63}", name):
            raise ConfigurationError(f"{prefix}classifierName must be 1-63 letters, digits or -")
        categories = read.names("categories")
        if len(categories) < 2:
            raise ConfigurationError(
                f"{prefix}categories must name at least two categories reviewers choose from"
            )
        for category in categories:
            if not re.fullmatch(r"[A-Za-z0-9 _.-]{1,100}", category):
                raise ConfigurationError(f"{prefix}categories: invalid category {category!r}")
        threshold = read.fraction("confidenceThreshold", 0.5, 0, 1)
        return cls(
            classifier_name=name,
            categories=categories,
            confidence_threshold_per_mille=round(threshold * 1000),
            # Firehose's documented ranges for S3 destinations.
            buffer_seconds=read.number("bufferSeconds", 60, 0, 900),
            buffer_mib=read.number("bufferMiB", 1, 1, 128),
            # Every item is at most 10,000 bytes; 50 keep a loop's input far under A2I's limit.
            max_items_per_loop=read.number("maxItemsPerLoop", 10, 1, 50),
            parameter_max_age_seconds=read.number("parameterMaxAgeSeconds", 60, 1, 3600),
            throttle_rate=read.number("throttleRate", 50, 1, 10_000),
            throttle_burst=read.number("throttleBurst", 100, 1, 5_000),
            training_bucket=read.optional("trainingBucket"),
            endpoint_parameter=read.optional("endpointParameter"),
            endpoint_name=read.optional("endpointName"),
        )
