"""The local cloud as the workflows use it: the core (`localcloud.core.cloud`) with every
emulated service (`localcloud.services.SERVICES`).

    with LocalCloud() as cloud:
        stack = cloud.deploy("CaptionTranslation-dev")
        cloud.client("s3").put_object(Bucket=stack.outputs["BucketName"], Key=..., Body=...)
        cloud.settle()
"""

from __future__ import annotations

from typing import Any

from localcloud.core import cloud as core
from localcloud.services import SERVICES

REPO_ROOT = core.REPO_ROOT
BOOTSTRAP_VERSION_PARAMETER = core.BOOTSTRAP_VERSION_PARAMETER
DeployedStack = core.DeployedStack
SettleTimeoutError = core.SettleTimeoutError


def _engine(table: str, name: str) -> Any:
    """The engine `name` of the cloud's `table` (`engines` or `partial_engines`)."""
    return property(lambda cloud: getattr(cloud, table)[name])


class LocalCloud(core.LocalCloud):
    default_services = SERVICES

    # The engines the demos and tests drive directly.
    a2i = _engine("engines", "sagemaker-a2i-runtime")
    translate = _engine("engines", "translate")
    comprehend = _engine("engines", "comprehend")
    rekognition = _engine("engines", "rekognition")
    glue = _engine("partial_engines", "glue")
    sagemaker = _engine("partial_engines", "sagemaker")
