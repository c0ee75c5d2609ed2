"""Amazon SageMaker training jobs, models and endpoints (BlazingText) by a local engine
(`engine`); moto answers SageMaker's other operations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from localcloud.core.plugins import ServicePlugin

if TYPE_CHECKING:
    from localcloud.core.cloud import LocalCloud
    from localcloud.core.moto_hooks import Patches


def _start(cloud: LocalCloud, hooks: Patches) -> None:
    from localcloud.services.sagemaker.engine import SageMakerEngine, SageMakerRuntimeEndpoint

    sagemaker = SageMakerEngine(
        cloud.clock, cloud.s3_as, account_id=cloud.account_id, region=cloud.region
    )
    for operation in sagemaker.operations:
        cloud.operation_engines[("sagemaker", operation)] = sagemaker
    cloud.partial_engines["sagemaker"] = sagemaker
    cloud.engines["sagemaker-runtime"] = SageMakerRuntimeEndpoint(sagemaker)


PLUGIN = ServicePlugin("sagemaker", start=_start)
