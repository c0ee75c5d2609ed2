"""Deliveries that fail are tried again; a refusal is not retried."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from localcloud.cloud import LocalCloud


def _throttled(operation: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": "SlowDown"}, "ResponseMetadata": {"HTTPStatusCode": 503}}, operation
    )


def test_a_delivery_that_fails_transiently_is_tried_again(empty_assembly: Path) -> None:
    with LocalCloud(empty_assembly) as cloud:
        attempts: list[int] = []

        def deliver() -> None:
            attempts.append(len(attempts) + 1)
            if len(attempts) < 3:
                raise _throttled("PutObject")

        cloud.delivery.attempt("a test delivery", deliver)
        cloud.settle(timeout=30)
        assert attempts == [1, 2, 3]
        assert len(cloud.delivery.retried) == 2

        def refused() -> None:
            raise ClientError(
                {"Error": {"Code": "AccessDenied"}, "ResponseMetadata": {"HTTPStatusCode": 403}},
                "PutObject",
            )

        with pytest.raises(ClientError):
            cloud.delivery.attempt("a refused delivery", refused)
