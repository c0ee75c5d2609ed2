"""What the classify API benchmarks share: both feedback-loop stacks deployed on a local cloud
as the demo deploys them, with the first model trained."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ClassifyApi:
    stack: Any  # the feedback stack, deployed
    gateway: Any  # the local API Gateway in front of it
    key: str  # the API key's value
    function: str  # the name of the function behind POST /classify


def trained_classify_api(cloud: Any, settle_seconds: float) -> ClassifyApi:
    """Deploy both stacks, train the first model from the samples' `initial.csv` (waiting up
    to `settle_seconds`) and find the API that answers with it."""
    from localcloud.demos import comprehend_feedback_loop as demo
    from localcloud.demos.review import SAMPLES
    from localcloud.services.apigateway.gateway import LocalApiGateway

    lifecycle = cloud.deploy(demo.LIFECYCLE_STACK)
    stack = cloud.deploy(demo.FEEDBACK_STACK, parameters={"WorkteamArn": demo.WORKTEAM})
    cloud.client("s3").put_object(
        Bucket=lifecycle.outputs["TrainingBucketName"],
        Key="train/initial.csv",
        Body=(SAMPLES / "initial.csv").read_bytes(),
    )
    cloud.settle(timeout=settle_seconds)
    gateway = LocalApiGateway(cloud)
    (function,) = [
        name
        for name, config in cloud.runtime.functions.items()
        if config.stack_name == stack.name and config.handler.endswith("api.handler")
    ]
    return ClassifyApi(
        stack, gateway, gateway.api_key_value(str(stack.outputs["ApiKeyId"])), function
    )
