"""Amazon Rekognition Custom Labels: projects, model versions and DetectCustomLabels by a local
engine (`engine`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from localcloud.core.plugins import ServicePlugin

if TYPE_CHECKING:
    from localcloud.core.cloud import LocalCloud
    from localcloud.core.moto_hooks import Patches


def _start(cloud: LocalCloud, hooks: Patches) -> None:
    from localcloud.services.rekognition.engine import RekognitionEngine

    # Custom Labels reads images with the caller's own permissions.
    cloud.engines["rekognition"] = RekognitionEngine(
        cloud.clock,
        cloud.s3_as,
        s3_for_principal=lambda principal: cloud.s3_as(principal or cloud.principals_user_arn),
        account_id=cloud.account_id,
        region=cloud.region,
    )


PLUGIN = ServicePlugin("rekognition", start=_start)
