"""What the local engines' tests share: an account on moto with fake credentials, virtual time
that stands still, and the module's buckets on moto's S3."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from localcloud.core.clock import LocalClock
from tests.helpers.engines import SESSION, fake_credentials


@pytest.fixture
def engine_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto, for a module that asks for it with `pytest.mark.usefixtures("engine_aws")`."""
    fake_credentials(monkeypatch)
    with mock_aws():
        yield


@pytest.fixture
def clock() -> LocalClock:
    # Virtual time stands still unless a test advances it.
    return LocalClock(speed=1e-9)


@pytest.fixture
def s3(request: pytest.FixtureRequest) -> Any:
    """moto's S3 with the buckets the test module names in BUCKETS."""
    client = SESSION.client("s3")
    for bucket in request.module.BUCKETS:
        client.create_bucket(Bucket=bucket)
    return client
