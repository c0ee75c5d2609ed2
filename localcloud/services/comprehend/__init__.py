"""Amazon Comprehend custom classification: classifiers, endpoints and jobs by a local engine
(`engine`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from localcloud.core.plugins import ServicePlugin

if TYPE_CHECKING:
    from localcloud.core.cloud import LocalCloud
    from localcloud.core.moto_hooks import Patches


def _start(cloud: LocalCloud, hooks: Patches) -> None:
    from localcloud.services.comprehend.engine import ComprehendEngine

    cloud.engines["comprehend"] = ComprehendEngine(
        cloud.clock, cloud.s3_as, account_id=cloud.account_id, region=cloud.region
    )


PLUGIN = ServicePlugin("comprehend", start=_start)
