"""Both classifiers at once: the operation and the resource endpoint, called concurrently.

The endpoint ARNs live in two SSM parameters (set by the stack from context, or afterwards by
whoever deploys the endpoints); they are read once and cached for a few minutes, so a changed
endpoint is picked up without a redeploy.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from lambdas.shared.errors import ConfigurationError

UNSET = "unset"  # the parameters' value until an endpoint is configured


@dataclass(frozen=True)
class Label:
    name: str
    score: float

    def as_dict(self) -> dict[str, Any]:
        return {"Name": self.name, "Score": round(self.score, 4)}


@dataclass(frozen=True)
class Classification:
    operation: Label
    resource: Label


class EndpointNotConfiguredError(ConfigurationError):
    """An endpoint parameter still holds no endpoint ARN."""


class EndpointParameters:
    """The two endpoint ARNs from SSM, cached for `ttl_seconds`."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._cached: tuple[float, dict[str, str]] | None = None

    def get(self, ssm: Any, names: tuple[str, str], ttl_seconds: int) -> tuple[str, str]:
        now = self._clock()
        if self._cached is None or now - self._cached[0] >= ttl_seconds:
            answer = ssm.get_parameters(Names=list(names))
            if answer.get("InvalidParameters"):
                raise ConfigurationError(f"missing SSM parameters {answer['InvalidParameters']}")
            self._cached = (now, {p["Name"]: p["Value"] for p in answer["Parameters"]})
        values = self._cached[1]
        arns = (values[names[0]], values[names[1]])
        for name, arn in zip(names, arns, strict=True):
            if not arn.startswith("arn:"):
                self._cached = None
                raise EndpointNotConfiguredError(
                    f"SSM parameter {name} holds no Comprehend endpoint ARN ({arn!r}); put the "
                    "endpoint's ARN there"
                )
        return arns


def _top(answer: dict[str, Any]) -> Label:
    classes = answer.get("Classes") or []
    if not classes:
        raise ValueError("the endpoint returned no classes")
    best = max(classes, key=lambda c: c["Score"])
    return Label(best["Name"], float(best["Score"]))


def classify_sequentially(comprehend: Any, text: str, endpoints: tuple[str, str]) -> Classification:
    """The baseline the benchmark compares with: one endpoint after the other."""
    operation = _top(comprehend.classify_document(Text=text, EndpointArn=endpoints[0]))
    resource = _top(comprehend.classify_document(Text=text, EndpointArn=endpoints[1]))
    return Classification(operation, resource)


def classify(
    comprehend: Any, text: str, endpoints: tuple[str, str], pool: ThreadPoolExecutor
) -> Classification:
    """Both endpoints at once; a boto3 client is safe to share between threads."""
    futures = [
        pool.submit(comprehend.classify_document, Text=text, EndpointArn=arn) for arn in endpoints
    ]
    operation, resource = (_top(future.result()) for future in futures)
    return Classification(operation, resource)
