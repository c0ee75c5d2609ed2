"""Amazon Redshift (Serverless and provisioned clusters): a DuckDB warehouse per namespace, the
Data API, and Firehose's delivery to Redshift (`engine`), created from templates by
`provision`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from localcloud.core.plugins import ServicePlugin
from localcloud.core.provision import provisioners_in
from localcloud.services.redshift import provision

if TYPE_CHECKING:
    from localcloud.core.cloud import LocalCloud
    from localcloud.core.moto_hooks import Patches


def _start(cloud: LocalCloud, hooks: Patches) -> None:
    from localcloud.services.redshift.engine import start

    start(cloud, hooks)


PLUGIN = ServicePlugin("redshift", provisioners=provisioners_in(provision), start=_start)
