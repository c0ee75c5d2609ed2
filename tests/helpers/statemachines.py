"""Run state machine definitions on moto's Step Functions executor, hooked as the local cloud
hooks it (Task error names, aws-sdk parameter casing, waits), and answer chosen service calls
from the test (a throttle, a canned response): a definition's error handling exercised state by
state, without deploying a whole stack."""

from __future__ import annotations

import copy
import io
import json
import threading
import time
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse

from localcloud.core.moto_hooks import Patches
from localcloud.core.protocol import CallContext, LocalEngine, ServiceError, answer
from stacks.constructs.asl_state_machine import load_definition, substitute

REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/state-machine"

# A responder answers one call (the request, the operation) or returns None to let moto answer.
Responder = Callable[[Any, str], AWSResponse | None]


class _Body(io.BytesIO):
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.read()


def response(request: Any, status: int, headers: Mapping[str, str], body: bytes) -> AWSResponse:
    return AWSResponse(request.url, status, {"x-amzn-RequestId": "test", **headers}, _Body(body))


def json_error(code: str, message: str = "injected", status: int = 400) -> Responder:
    """An error response of an AWS JSON or REST-JSON service (DynamoDB, Lambda, ...)."""

    def respond(request: Any, operation: str) -> AWSResponse:
        body = json.dumps({"__type": code, "message": message}).encode()
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-errortype": code}
        return response(request, status, headers, body)

    return respond


def json_result(result: Mapping[str, Any], status: int = 200) -> Responder:
    """A successful response of an AWS JSON or REST-JSON service."""

    def respond(request: Any, operation: str) -> AWSResponse:
        headers = {"Content-Type": "application/json"}
        return response(request, status, headers, json.dumps(result).encode())

    return respond


def in_turn(*responders: Responder | None) -> Responder:
    """One responder per call, in order (None: moto answers); moto answers the calls after."""
    pending = list(responders)

    def respond(request: Any, operation: str) -> AWSResponse | None:
        responder = pending.pop(0) if pending else None
        return responder(request, operation) if responder else None

    return respond


class CannedService(LocalEngine):
    """Answers a service's calls with canned results (or a `ServiceError` to raise), in any of
    the service's protocols, after validating each request against the service model."""

    def __init__(self, service_name: str, results: Mapping[str, Any]) -> None:
        self.service_name = service_name  # type: ignore[misc]
        self.results = dict(results)
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def handle(self, operation: str, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        self.calls.append((operation, params))
        result = self.results[operation]
        if isinstance(result, ServiceError):
            raise result
        return dict(result)

    def responder(self) -> Responder:
        context = CallContext(account_id=ACCOUNT, region=REGION)

        def respond(request: Any, operation: str) -> AWSResponse:
            return answer(self, request, operation, context)

        return respond


@dataclass
class Run:
    status: str
    error: str | None
    cause: str | None
    output: Any
    history: list[dict[str, Any]] = field(default_factory=list)

    def task_errors(self) -> list[str]:
        return [
            e["taskFailedEventDetails"]["error"]
            for e in self.history
            if "taskFailedEventDetails" in e
        ]


class Executor:
    """One moto account whose state machines run; `answer` intercepts service calls."""

    def __init__(self) -> None:
        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        self._responders: dict[tuple[str, str], Responder] = {}
        self._lock = threading.Lock()
        self._count = 0

    def answer(self, service_id: str, operation: str, responder: Responder) -> None:
        """Answer `operation` of the service (its hyphenized service id, e.g. "dynamodb")."""
        self._responders[(service_id, operation)] = responder

    def intercept(self, request: Any, event_name: str, **_: Any) -> AWSResponse | None:
        _, service_id, operation = event_name.split(".", 2)
        responder = self._responders.get((service_id, operation))
        return responder(request, operation) if responder else None

    def run(
        self,
        definition: Mapping[str, Any],
        payload: Any = None,
        execution_name: str = "run",
        timeout: float = 30,
    ) -> Run:
        with self._lock:
            self._count += 1
            name = f"machine-{self._count}"
        arn = self.sfn.create_state_machine(
            name=name, definition=json.dumps(definition), roleArn=ROLE_ARN
        )["stateMachineArn"]
        execution = self.sfn.start_execution(
            stateMachineArn=arn, name=execution_name, input=json.dumps(payload or {})
        )["executionArn"]
        deadline = time.monotonic() + timeout
        while True:
            described = self.sfn.describe_execution(executionArn=execution)
            if described["status"] != "RUNNING" or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        history = self.sfn.get_execution_history(executionArn=execution, maxResults=1000)
        output = described.get("output")
        return Run(
            status=described["status"],
            error=described.get("error"),
            cause=described.get("cause"),
            output=json.loads(output) if output else None,
            history=history["events"],
        )


def _client_as(principal: str, service: str, region: str | None = None, config: Any = None) -> Any:
    import boto3

    return boto3.client(service, region_name=region, config=config)  # moto's credentials


def _local_cloud_stand_in() -> Any:
    """What the local cloud's Step Functions hooks ask of it: a client per execution role,
    and a clock, here one on which waits and retry intervals take no time."""
    return types.SimpleNamespace(
        client_as=_client_as,
        clock=types.SimpleNamespace(speed=1e9, sleep=lambda seconds: None),
    )


@contextmanager
def executor() -> Iterator[Executor]:
    """moto with its Step Functions executor, hooked as the local cloud hooks it."""
    from moto import mock_aws
    from moto.core.botocore_stubber import BotocoreStubber

    # The local cloud's own Step Functions hooks, given what they ask of a cloud.
    from localcloud.core.moto_hooks import _patch_step_functions

    patches = Patches()
    current: list[Executor] = []
    moto_answer = BotocoreStubber.__call__

    # As the local cloud answers a service's calls: before moto does, or in its place.
    def answer_first(self: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
        if self.enabled and current and event_name.count(".") == 2:
            answered = current[0].intercept(request, event_name)
            if answered is not None:
                return answered
        return moto_answer(self, event_name, request, **kwargs)

    config: Any = {"stepfunctions": {"execute_state_machine": True}}
    try:
        with mock_aws(config=config):
            patches.set(BotocoreStubber, "__call__", answer_first)
            _patch_step_functions(_local_cloud_stand_in(), patches)
            current.append(Executor())
            yield current[0]
    finally:
        patches.undo()


class _AnyValue(dict[str, Any]):
    """Placeholder values for a definition: the given ones, a name-derived string for others."""

    def __contains__(self, key: object) -> bool:
        return True

    def __missing__(self, key: str) -> Any:
        return f"placeholder-{key}"


def definition(file_name: str, **values: Any) -> dict[str, Any]:
    """A definition from `statemachines/`, its placeholders substituted."""
    result: dict[str, Any] = substitute(load_definition(file_name), _AnyValue(values))
    return result


def fragment(whole: Mapping[str, Any], start: str, exits: Iterable[str]) -> dict[str, Any]:
    """`whole` started at state `start`, each state named in `exits` (at any depth) replaced by
    an end that records its name in `$.exit`: the part of a workflow a test looks at."""
    ends = set(exits)

    def cut(states: Mapping[str, Any]) -> dict[str, Any]:
        result = {}
        for name, original in states.items():
            if name in ends:
                result[name] = {"Type": "Pass", "Result": name, "ResultPath": "$.exit", "End": True}
                continue
            state = copy.deepcopy(dict(original))
            for branch in state.get("Branches", []):
                branch["States"] = cut(branch["States"])
            for key in ("ItemProcessor", "Iterator"):
                if key in state:
                    state[key]["States"] = cut(state[key]["States"])
            result[name] = state
        return result

    return {**whole, "StartAt": start, "States": cut(whole["States"])}
