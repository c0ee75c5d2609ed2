"""The local Lambda runtime keeps each function's execution environment to itself: the
layer libraries' process-wide state (Powertools' parameter providers, whose boto3 clients
sign with the credentials of the function that made them) is not shared between functions
or carried from one local cloud to the next."""

from __future__ import annotations

from pathlib import Path

from localcloud.identity import Principals
from localcloud.runtime import FunctionConfig, LambdaRuntime

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
