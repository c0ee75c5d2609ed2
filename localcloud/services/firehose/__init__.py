"""Amazon Data Firehose: delivery streams, with buffered delivery to S3 (`streams`); delivery to
Redshift is the Redshift plugin's."""

from __future__ import annotations

from typing import TYPE_CHECKING

from localcloud.core.plugins import ServicePlugin
from localcloud.core.provision import provisioners_in
from localcloud.services.firehose import streams

if TYPE_CHECKING:
    from localcloud.core.cloud import LocalCloud
    from localcloud.core.moto_hooks import Patches


def _start(cloud: LocalCloud, hooks: Patches) -> None:
    cloud.service_state["firehose"] = streams.install(cloud, hooks)


PLUGIN = ServicePlugin("firehose", provisioners=provisioners_in(streams), start=_start)
