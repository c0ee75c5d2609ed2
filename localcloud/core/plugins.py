"""How an emulated service joins a local cloud: its plugin.

The core (`localcloud.core`) runs what moto serves, the wiring between services (delivery),
provisioning from a template, the clock, call recording and IAM evaluation. It names no
service that a local engine emulates: each of those is a package of `localcloud.services`
whose `PLUGIN` says

* which resource types it provisions (`provisioners`, from `provision.provisioners_in`) and
  what it does when a stack holding one is destroyed (`deleters`);
* what it starts with the cloud (`start(cloud, hooks)`): its engines, registered in
  `cloud.engines` (every operation of a service) or `cloud.operation_engines` (some
  operations; moto answers the rest), and its hooks into moto (`localcloud.core.moto_hooks`),
  which `hooks.undo()` takes back when the cloud stops.

`localcloud.services.SERVICES` lists the plugins a local cloud runs, in start order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, TypeVar

from localcloud.core.provision import CUSTOM_RESOURCE, Provisioner
from localcloud.core.template import ResourceState, StackContext

if TYPE_CHECKING:
    from localcloud.core.cloud import LocalCloud
    from localcloud.core.moto_hooks import Patches

T = TypeVar("T")
Deleter = Callable[["LocalCloud", StackContext, ResourceState], None]
Starter = Callable[["LocalCloud", "Patches"], None]


def _nothing_to_start(cloud: LocalCloud, hooks: Patches) -> None:
    return None


@dataclass(frozen=True)
class ServicePlugin:
    name: str
    provisioners: Mapping[str, Provisioner] = field(default_factory=dict)
    deleters: Mapping[str, Deleter] = field(default_factory=dict)
    start: Starter = _nothing_to_start


def merged(kind: str, tables: Iterable[Mapping[str, T]]) -> Mapping[str, T]:
    """One table of the core's and the plugins' entries; a type claimed twice is refused."""
    found: dict[str, T] = {}
    for table in tables:
        for resource_type, function in table.items():
            if resource_type in found:
                raise ValueError(f"{resource_type} has two {kind}")
            found[resource_type] = function
    return MappingProxyType(found)


def handler_of(table: Mapping[str, T], resource_type: str) -> T | None:
    """The entry for `resource_type`; a `Custom::<name>` type is a custom resource, as
    CloudFormation treats it (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-cloudformation-customresource.html)."""
    found = table.get(resource_type)
    if found is None and resource_type.startswith("Custom::"):
        found = table.get(CUSTOM_RESOURCE)
    return found
