"""The local Lambda runtime keeps each function's execution environment to itself: the
layer libraries' process-wide state (Powertools' parameter providers, whose boto3 clients
sign with the credentials of the function that made them) is not shared between functions
or carried from one local cloud to the next."""

from __future__ import annotations

import os
import sys
import threading
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from localcloud.core.identity import Principals
from localcloud.core.runtime import FunctionConfig, LambdaRuntime

HANDLER = """
from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS


def handler(event, context):
    seen = {key: value for key, value in DEFAULT_PROVIDERS.items()}
    DEFAULT_PROVIDERS["ssm"] = event["maker"]
    return seen
"""


def _runtime(code_dir: Path, *names: str) -> LambdaRuntime:
    runtime = LambdaRuntime(Principals(), "us-east-1")
    for name in names:
        runtime.register(
            FunctionConfig(
                name=name,
                arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
                handler="probe_state.handler",
                role_arn=f"arn:aws:iam::123456789012:role/{name}",
                code_dir=code_dir,
                environment={},
            )
        )
    runtime.start()
    return runtime


def test_library_state_stays_with_its_function_and_its_local_cloud(tmp_path: Path) -> None:
    (tmp_path / "probe_state.py").write_text(HANDLER)
    first = _runtime(tmp_path, "A", "B")

    assert first.invoke("A", {"maker": "A"}).payload == {}
    assert first.invoke("B", {"maker": "B"}).payload == {}  # not A's provider
    assert first.invoke("A", {"maker": "A2"}).payload == {"ssm": "A"}  # A's own, kept
    assert first.invoke("B", {"maker": "B2"}).payload == {"ssm": "B"}

    from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS

    assert "ssm" not in DEFAULT_PROVIDERS  # the host process keeps none of it

    second = _runtime(tmp_path, "A")  # a new local cloud: a new execution environment
    assert second.invoke("A", {"maker": "A"}).payload == {}


ENVIRONMENT_HANDLER = """
import os


def handler(event, context):
    return os.environ["AWS_LAMBDA_FUNCTION_NAME"]
"""


def test_threads_reading_the_environment_never_see_an_invocation_swap_it_half_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "probe_env.py").write_text(ENVIRONMENT_HANDLER)
    runtime = LambdaRuntime(Principals(), "us-east-1")
    runtime.register(
        FunctionConfig(
            name="Env",
            arn="arn:aws:lambda:us-east-1:123456789012:function:Env",
            handler="probe_env.handler",
            role_arn="arn:aws:iam::123456789012:role/Env",
            code_dir=tmp_path,
            environment={},
            # Switching threads every microsecond on a loaded machine can stretch an
            # invocation past Lambda's default 3 s; timeouts are not what this tests.
            timeout_seconds=120,
        )
    )
    runtime.start()
    # A host variable the function's environment leaves out, as Lambda's does.
    monkeypatch.setenv("AWS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    monkeypatch.setenv("HOST_MARKER", "kept")
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    done = threading.Event()
    results: list[Any] = []

    def invoke() -> None:
        try:
            for _ in range(300):
                results.append(runtime.invoke("Env", {}).payload)
        finally:
            done.set()

    seen: list[dict[str, str]] = []
    errors: list[BaseException] = []
    invoker = threading.Thread(target=invoke)
    invoker.start()
    try:
        while not done.is_set():
            try:
                seen.append(dict(os.environ.items()))
                urllib.request.getproxies()  # what botocore does for every new client
            except (KeyError, RuntimeError) as error:
                errors.append(error)
    finally:
        invoker.join()
        sys.setswitchinterval(interval)

    assert errors == []
    assert results == ["Env"] * 300
    # Every snapshot is one whole environment: the host's or the function's.
    inside = [env for env in seen if env.get("AWS_LAMBDA_FUNCTION_NAME") == "Env"]
    outside = [env for env in seen if "AWS_LAMBDA_FUNCTION_NAME" not in env]
    assert len(inside) + len(outside) == len(seen)
    assert all("AWS_CA_BUNDLE" not in env and env["AWS_REGION"] == "us-east-1" for env in inside)
    assert all(env["AWS_CA_BUNDLE"] for env in outside)
    assert all(env["HOST_MARKER"] == "kept" for env in seen)
    assert inside and outside, "the reader ran both during and between invocations"
