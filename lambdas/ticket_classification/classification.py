"""Both classifiers at once: the operation and the resource endpoint, called concurrently.

The endpoint ARNs live in two SSM parameters (set by the stack from context, or afterwards by
whoever deploys the endpoints); Powertools Parameters reads both in one GetParameters call and
caches them for a few minutes, so a changed endpoint is picked up without a redeploy.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.parameters import SSMProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

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


def endpoint_arns(ssm: SSMProvider, names: tuple[str, str], max_age: int) -> tuple[str, str]:
    """The two endpoint ARNs, from SSM or from the provider's cache (`max_age` seconds)."""
    try:
        values = ssm.get_parameters_by_name(
            parameters={name: {} for name in names}, max_age=max_age
        )
    except GetParameterError as error:
        raise ConfigurationError(f"missing SSM parameters: {error}") from None
    arns = (str(values[names[0]]), str(values[names[1]]))
    for name, arn in zip(names, arns, strict=True):
        if not arn.startswith("arn:"):
            ssm.clear_cache()  # read again next time: the ARN may be put there at any moment
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
