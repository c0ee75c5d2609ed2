"""Amazon Augmented AI: flow definitions, human task UIs and human loops by a local engine
(`engine`); people answer through `localcloud.demos.review_portal` or an oracle reviewer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.core.plugins import ServicePlugin
from localcloud.core.provision import provisioners_in
from localcloud.services.a2i import engine

if TYPE_CHECKING:
    from localcloud.core.cloud import LocalCloud
    from localcloud.core.moto_hooks import Patches


def _start(cloud: LocalCloud, hooks: Patches) -> None:
    state = engine.A2iState()
    flows = engine.SageMakerFlowEngine(state, cloud.clock, cloud.account_id, cloud.region)
    for operation in flows.operations:
        cloud.operation_engines[("sagemaker", operation)] = flows

    def emit(entry: dict[str, Any]) -> None:
        cloud.deployer_client("events").put_events(Entries=[entry])

    cloud.engines["sagemaker-a2i-runtime"] = engine.A2iRuntimeEngine(
        state, cloud.clock, cloud.s3_as, emit, cloud.account_id, cloud.region
    )


PLUGIN = ServicePlugin("a2i", provisioners=provisioners_in(engine), start=_start)
