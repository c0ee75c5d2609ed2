"""End to end on the local cloud (compressed clock): under `scale-to-zero` part 1's keeper
deletes the idle endpoint; a classify call then gets 503 with `Retry-After` and wakes it once;
a later call is answered, and the endpoint, idle again, is deleted by a run the keeper
scheduled on its deadline queue; every call is within its grants."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambdas.shared.endpoint_usage import MIN_RETRY_AFTER_SECONDS
from localcloud.cloud import LocalCloud
from localcloud.core.iam_check import check
from tests.comprehend_feedback_loop.helpers import (
    REPO_ROOT,
    SOURCES,
    WORKTEAM,
    FeedbackLoop,
    holdout,
)
from tests.conftest import _synthesized
from tests.helpers.aws import endpoint_properties, wait_for

pytestmark = [pytest.mark.workflow, pytest.mark.xdist_group("feedback-loop")]

ASSEMBLY = REPO_ROOT / "build" / "test-endpoint-lifecycle-assembly"
STACKS = ("ComprehendModelLifecycle-eptest", "ComprehendFeedbackLoop-eptest")
# 6 s at 100x: a loaded machine's round finishes recording its endpoint before the keeper can
# find it idle.
IDLE_MINUTES = 10


def synthesize(outdir: Path) -> None:
    from localcloud.demos.comprehend_feedback_loop import synthesize as synthesize_pair

    context = {
        "comprehend_model_lifecycle:endpointPolicy": "scale-to-zero",
        "comprehend_model_lifecycle:idleMinutes": IDLE_MINUTES,
    }
    synthesize_pair(outdir, STACKS, context)


@pytest.fixture(scope="module")
def assembly_dir() -> Path:
    return _synthesized(ASSEMBLY, synthesize, SOURCES)


@pytest.fixture
def loop(assembly_dir: Path, tmp_path: Path) -> Iterator[FeedbackLoop]:
    from localcloud.services.apigateway.gateway import LocalApiGateway

    # 100x: the keeper's one-minute schedule leaves the local cloud quiet between runs.
    with LocalCloud(assembly_dir, work_dir=tmp_path / "localcloud", clock_speed=100) as cloud:
        lifecycle = cloud.deploy(STACKS[0])
        stack = cloud.deploy(STACKS[1], parameters={"WorkteamArn": WORKTEAM})
        gateway = LocalApiGateway(cloud)
        key = gateway.api_key_value(str(stack.outputs["ApiKeyId"]))
        yield FeedbackLoop(cloud, lifecycle, stack, gateway, key)


def _endpoint(loop: FeedbackLoop) -> dict[str, Any] | None:
    arn = loop.cloud.client("ssm").get_parameter(
        Name=loop.lifecycle.outputs["EndpointParameterName"]
    )["Parameter"]["Value"]
    return endpoint_properties(loop.cloud.client("comprehend"), arn)


def test_an_idle_endpoint_is_deleted_and_a_call_wakes_it_once(loop: FeedbackLoop) -> None:
    cloud = loop.cloud
    meter = cloud.comprehend.usage
    loop.train_initial()
    assert "promoted" in str(loop.lifecycle_summaries())

    # Nobody calls: the keeper deletes the endpoint the round deployed once it has been idle
    # for the idle minutes (no history yet), so it billed its warm-up plus those minutes.
    wait_for(lambda: _endpoint(loop) is None, 60)
    warm_up = cloud.comprehend.timings.endpoint_create_seconds
    assert meter.inference_unit_seconds >= warm_up + IDLE_MINUTES * 60
    assert meter.endpoints_created == 1

    # The next calls are told to come back; only the first asks the keeper for the endpoint.
    text = holdout()[0][1]
    first = loop.post("classify", {"classifier": "news", "text": text})
    second = loop.post("classify", {"classifier": "news", "text": text})
    for response in (first, second):
        if response.status != 503:
            log = cloud.runtime.logs[loop.function_name("ApiHandler")]
            print("APILOG", "".join(log.lines)[-4000:])
        assert response.status == 503, response.body
        assert "starting" in response.json()["message"]
        assert int(response.headers["Retry-After"]) >= MIN_RETRY_AFTER_SECONDS

    # Back in service (the model the round promoted): the same call is answered.
    wait_for(lambda: (_endpoint(loop) or {}).get("Status") == "IN_SERVICE", 60)
    keeper = keeper_name(loop)
    wakes = [e for n, e, _ in cloud.runtime.invocations if n == keeper and "wake" in e]
    assert len(wakes) == 1
    answer = loop.post("classify", {"classifier": "news", "text": text})
    assert answer.status == 200, answer.body
    assert meter.endpoints_created == 2
    # ... and idle again, it goes again, at its deadline: a run the keeper scheduled for
    # itself on its deadline queue (the minute schedule would come up to a minute later).
    wait_for(lambda: _endpoint(loop) is None, 60)
    scheduled = [e for n, e, _ in cloud.runtime.invocations if n == keeper and "Records" in e]
    assert scheduled, "the keeper never ran from its deadline queue"

    report = check(cloud)
    assert report.denied == [] and report.unverifiable == [], report.format()


def keeper_name(loop: FeedbackLoop) -> str:
    (name,) = [
        name
        for name, config in loop.cloud.runtime.functions.items()
        if config.stack_name == loop.lifecycle.name and "EndpointKeeper" in config.logical_id
    ]
    return name
