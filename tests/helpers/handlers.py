"""Calling a handler module as Lambda does, with the clients a test provides."""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest

from lambdas.shared.aws import ClientCache

REGION = "us-east-1"
ACCOUNT = "123456789012"


@dataclass(frozen=True)
class LambdaContext:
    """What the Powertools decorators read from the Lambda context object."""

    function_name: str = "Workflow-test-Function"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:Workflow-test-Function"
    aws_request_id: str = "6f2c1a47-5d1b-4a6e-9c3d-0e8f7a6b5c4d"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


class HandlerClients:
    """Stands in for a handler module's `ClientCache`: the clients a test provides, and new
    ones (created as the module would) for every other service."""

    def __init__(self, **provided: Any) -> None:
        self.provided = provided
        self._cache = ClientCache()

    def __call__(self, service: str) -> Any:
        return self.provided.get(service) or self._cache(service)


def call(module: ModuleType, event: dict[str, Any]) -> Any:
    """Invoke a handler module's `handler` as Lambda would."""
    return module.handler(event, LambdaContext())


def handler_environment(
    monkeypatch: pytest.MonkeyPatch,
    service: str,
    settings: dict[str, str],
    metrics_namespace: str = "ServerlessMlWorkflows",
) -> None:
    """The environment a handler module reads at import and call time, as its stack sets it
    (`settings`), plus moto's credentials and region and Powertools' service, namespace and
    tracing switch; no profile of the machine's user."""
    environment = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        **settings,
        "POWERTOOLS_SERVICE_NAME": service,
        "POWERTOOLS_METRICS_NAMESPACE": metrics_namespace,
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
