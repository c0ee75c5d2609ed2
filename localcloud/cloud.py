"""The local cloud as the workflows use it: the core (`localcloud.core.cloud`) with every
emulated service (`localcloud.services.SERVICES`).

    with LocalCloud() as cloud:
        stack = cloud.deploy("CaptionTranslation-dev")
        cloud.client("s3").put_object(Bucket=stack.outputs["BucketName"], Key=..., Body=...)
        cloud.settle()
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from localcloud.core import cloud as core
from localcloud.core.chaos import ChaosSettings
from localcloud.core.clock import DEFAULT_SPEED
from localcloud.services import SERVICES

REPO_ROOT = core.REPO_ROOT
BOOTSTRAP_VERSION_PARAMETER = core.BOOTSTRAP_VERSION_PARAMETER
DeployedStack = core.DeployedStack
SettleTimeoutError = core.SettleTimeoutError


def _engine(table: str, name: str) -> Any:
    """The engine `name` of the cloud's `table` (`engines` or `partial_engines`)."""
    return property(lambda cloud: getattr(cloud, table)[name])


class LocalCloud(core.LocalCloud):
    def __init__(
        self,
        assembly_dir: Path | str = REPO_ROOT / "cdk.out",
        *,
        clock_speed: float = DEFAULT_SPEED,
        work_dir: Path | str | None = None,
        chaos: ChaosSettings | str | None = None,
    ) -> None:
        super().__init__(
            assembly_dir,
            clock_speed=clock_speed,
            work_dir=work_dir,
            chaos=chaos,
            services=SERVICES,
        )

    # The engines the demos and tests drive directly.
    a2i = _engine("engines", "sagemaker-a2i-runtime")
    translate = _engine("engines", "translate")
    comprehend = _engine("engines", "comprehend")
    rekognition = _engine("engines", "rekognition")
    glue = _engine("partial_engines", "glue")
    sagemaker = _engine("partial_engines", "sagemaker")
