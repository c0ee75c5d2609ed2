"""Amazon Translate: real-time and batch translation by a local engine (`engine`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from localcloud.core.plugins import ServicePlugin

if TYPE_CHECKING:
    from localcloud.core.cloud import LocalCloud
    from localcloud.core.moto_hooks import Patches


def _start(cloud: LocalCloud, hooks: Patches) -> None:
    from localcloud.services.translate.engine import TranslateEngine

    cloud.engines["translate"] = TranslateEngine(
        cloud.clock, cloud.s3_as, account_id=cloud.account_id, region=cloud.region
    )


PLUGIN = ServicePlugin("translate", start=_start)
