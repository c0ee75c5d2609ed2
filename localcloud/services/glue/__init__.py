"""AWS Glue jobs, workflows and triggers: Spark and Python shell jobs run by a local engine
(`engine`), created from templates by `provision`; moto answers Glue's other operations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from localcloud.core.plugins import ServicePlugin
from localcloud.core.provision import provisioners_in
from localcloud.services.glue import provision

if TYPE_CHECKING:
    from localcloud.core.cloud import LocalCloud
    from localcloud.core.moto_hooks import Patches


def _start(cloud: LocalCloud, hooks: Patches) -> None:
    from localcloud.services.glue.engine import GlueEngine

    glue = GlueEngine(
        cloud.clock,
        credentials_for=cloud.principals.credentials_for,
        s3_for_role=cloud.s3_as,
        run_lock=cloud.runtime.run_lock,
        account_id=cloud.account_id,
        region=cloud.region,
    )
    for operation in glue.operations:
        cloud.operation_engines[("glue", operation)] = glue
    cloud.partial_engines["glue"] = glue


PLUGIN = ServicePlugin("glue", provisioners=provisioners_in(provision), start=_start)
