"""The cost simulation's strategies, on tiny patterns: what the engine's meter bills each."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from benchmarks.custom_labels_batch_cost import (
    CORRUPT,
    HOUR,
    INCOMING,
    MINUTE,
    Lab,
    Pattern,
    PatternResult,
    StackSettings,
    Upload,
    compare,
)

BURST = Pattern(
    "burst",
    "six images at 00:30",
    4 * HOUR,
    tuple(Upload(30 * MINUTE, INCOMING[i]) for i in range(6)),
)
POISON = Pattern(
    "poison",
    "three images and a corrupt one at 00:30",
    8 * HOUR,
    (*(Upload(30 * MINUTE, INCOMING[i]) for i in range(3)), Upload(30 * MINUTE, CORRUPT)),
)


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab() as trained:
        yield trained


@pytest.fixture(scope="module")
def settings() -> StackSettings:
    return StackSettings.from_defaults()


@pytest.fixture(scope="module")
def burst(lab: Lab, settings: StackSettings) -> PatternResult:
    return compare(lab, BURST, settings)


@pytest.fixture(scope="module")
def poison(lab: Lab, settings: StackSettings) -> PatternResult:
    return compare(lab, POISON, settings)


def test_every_strategy_labels_the_whole_burst_and_stops_the_model(burst: PatternResult) -> None:
    for bill in (burst.ours, burst.published, burst.bound):
        assert (bill.labelled, bill.quarantined, bill.left_queued) == (6, 0, 0)
        assert bill.detect_calls == 6
        assert bill.model_at_end in ("STOPPED", "STOPPING")
    assert (burst.ours.runs, burst.published.runs, burst.bound.runs) == (1, 1, 1)


def test_the_published_strategy_never_bills_less_than_ours_and_the_bound_is_below_both(
    burst: PatternResult,
) -> None:
    assert burst.bound.billed_minutes <= burst.ours.billed_minutes
    assert burst.ours.billed_minutes < burst.published.billed_minutes
    assert burst.bound.inference_unit_seconds < burst.ours.inference_unit_seconds
    # The published sample keeps the model an hour, and running 300 s before its trigger.
    assert burst.published.inference_unit_seconds >= 3540 + 300
    # Ours stops at the first poll that finds the queue empty: one poll after six images.
    assert burst.ours.inference_unit_seconds <= burst.bound.inference_unit_seconds + 30


def test_a_poison_image_keeps_the_published_model_coming_back_while_ours_stops(
    poison: PatternResult,
) -> None:
    ours, published = poison.ours, poison.published
    assert (ours.labelled, ours.quarantined, ours.left_queued, ours.runs) == (3, 1, 0, 1)
    assert ours.last_billed_at is not None and ours.last_billed_at < 2 * HOUR
    # Without a DLQ the image comes back after every failure; with the trigger off between
    # runs it is visible at the next firing but one, which starts the model again.
    assert published.quarantined == 0 and published.left_queued == 1
    assert published.runs >= 3
    assert published.last_billed_at is not None
    assert published.last_billed_at > POISON.period_seconds - 2 * HOUR
    assert published.billed_minutes > 2 * 60
    assert poison.bound.billed_minutes <= ours.billed_minutes
