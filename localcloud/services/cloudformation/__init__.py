"""AWS CloudFormation as far as the stacks need it beyond the core's deployment: Lambda-backed
custom resources (`custom_resources`: Create on deploy, Delete on destroy) and the description
of the deployed stacks (`engine`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from localcloud.core.plugins import ServicePlugin
from localcloud.core.provision import CUSTOM_RESOURCE, provisioners_in
from localcloud.services.cloudformation import custom_resources

if TYPE_CHECKING:
    from localcloud.core.cloud import LocalCloud
    from localcloud.core.moto_hooks import Patches


def _start(cloud: LocalCloud, hooks: Patches) -> None:
    from localcloud.services.cloudformation.engine import StackDescriptions

    # moto's CloudFormation knows nothing of the stacks `deploy` creates itself.
    stacks = StackDescriptions(lambda: cloud.stacks, cloud.clock.now)
    for operation in stacks.operations:
        cloud.operation_engines[("cloudformation", operation)] = stacks


PLUGIN = ServicePlugin(
    "cloudformation",
    provisioners=provisioners_in(custom_resources),
    deleters={CUSTOM_RESOURCE: custom_resources.delete_custom_resource},
    start=_start,
)
