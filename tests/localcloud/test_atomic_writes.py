"""Conditional writes on the local cloud are atomic, as on AWS: of writers racing for the same
DynamoDB item or S3 key, exactly one wins and the others get the conditional-failure error."""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from localcloud.cloud import LocalCloud
from tests.helpers.aws import create_table

pytestmark = [pytest.mark.workflow, pytest.mark.xdist_group("probe")]

WRITERS = 8
ROUNDS = 40


@pytest.fixture
def racing_cloud(probe_assembly_dir: Path, tmp_path: Path) -> Iterator[LocalCloud]:
    # Switching threads as often as possible makes a check-then-write gap show up at once.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        with LocalCloud(probe_assembly_dir, work_dir=tmp_path / "lc") as cloud:
            yield cloud
    finally:
        sys.setswitchinterval(interval)


def _race(write: Callable[[int], None], expected_error: str) -> list[int]:
    """WRITERS threads write at once; the writers that won."""
    start = threading.Barrier(WRITERS)
    won: list[int] = []
    errors: list[str] = []

    def attempt(writer: int) -> None:
        start.wait()
        try:
            write(writer)
            won.append(writer)
        except ClientError as error:
            errors.append(error.response["Error"]["Code"])

    threads = [threading.Thread(target=attempt, args=(w,)) for w in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(errors) <= {expected_error}, errors
    return won


def _winners(write: Callable[[int, int], None], expected_error: str) -> list[list[int]]:
    """Run ROUNDS races; the writers that won each round."""
    return [
        _race(functools.partial(write, round_number), expected_error)
        for round_number in range(ROUNDS)
    ]


def test_one_of_many_conditional_item_writes_wins(racing_cloud: LocalCloud) -> None:
    dynamodb = racing_cloud.client("dynamodb")
    create_table(dynamodb, "locks", "pk")

    def write(round_number: int, writer: int) -> None:
        dynamodb.put_item(
            TableName="locks",
            Item={"pk": {"S": f"lock-{round_number}"}, "holder": {"S": str(writer)}},
            ConditionExpression="attribute_not_exists(pk)",
        )

    winners = _winners(write, "ConditionalCheckFailedException")
    assert [len(won) for won in winners] == [1] * ROUNDS
    # Each item holds its round's winner's write, not a loser's.
    for round_number, (winner,) in enumerate(winners):
        key = {"pk": {"S": f"lock-{round_number}"}}
        item = dynamodb.get_item(TableName="locks", Key=key, ConsistentRead=True)["Item"]
        assert item["holder"]["S"] == str(winner)


def test_one_of_many_write_once_object_puts_wins(racing_cloud: LocalCloud) -> None:
    s3 = racing_cloud.client("s3")
    s3.create_bucket(Bucket="write-once")

    def write(round_number: int, writer: int) -> None:
        s3.put_object(
            Bucket="write-once", Key=f"k{round_number}", Body=str(writer).encode(), IfNoneMatch="*"
        )

    winners = _winners(write, "PreconditionFailed")
    assert [len(won) for won in winners] == [1] * ROUNDS
    for round_number, (winner,) in enumerate(winners):
        body = s3.get_object(Bucket="write-once", Key=f"k{round_number}")["Body"].read()
        assert body == str(winner).encode()
