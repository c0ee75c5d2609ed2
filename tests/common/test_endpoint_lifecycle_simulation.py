"""The endpoint lifecycle benchmark's own arithmetic: its lower bound is the cheapest partition
(checked against every partition of a few arrivals), and no policy it simulates, with the
local Comprehend engine's meter, bills less than the bound held to that policy's waits."""

from __future__ import annotations

import itertools
import random

import pytest

from benchmarks.endpoint_lifecycle_cost import (
    DAY,
    HOUR,
    MINUTE,
    Pattern,
    against_own_bound,
    lower_bound,
)
from lambdas.shared.endpoint_policy import SCALE_TO_ZERO, EndpointPolicy


def _every_partition(
    arrivals: list[float], allowances: list[float], service: list[float], warm_up: float
) -> float:
    """The cheapest split of the arrivals into runs of consecutive ones, each run one endpoint
    life, found by trying every split."""
    n = len(arrivals)
    best = float("inf")
    for cuts in itertools.product((False, True), repeat=n - 1):
        total, start = 0.0, 0
        for end in range(n):
            if end == n - 1 or cuts[end]:
                run = range(start, end + 1)
                earliest = min(arrivals[k] + allowances[k] for k in run)
                total += max(
                    60.0,
                    warm_up + sum(service[k] for k in run),
                    arrivals[end] - earliest + warm_up,
                )
                start = end + 1
        best = min(best, total)
    return best


@pytest.mark.parametrize("seed", range(12))
def test_the_lower_bound_is_the_cheapest_of_every_partition(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randint(1, 9)
    arrivals = sorted(rng.uniform(0, 4 * HOUR) for _ in range(n))
    allowances = [rng.choice((0.0, rng.uniform(0, 900))) for _ in range(n)]
    service = [rng.uniform(0.5, 3) for _ in range(n)]
    warm_up = rng.choice((300.0, 600.0))
    bound = lower_bound(tuple(arrivals), allowances, service, warm_up)
    expected = _every_partition(arrivals, allowances, service, warm_up)
    assert bound["billed_hours"] == round(expected / HOUR, 3)


# A day of the kinds of traffic the benchmark uses: a lone call, a burst, calls a few
# minutes apart, a pause of hours, then calls close together.
DAY_OF_CALLS = Pattern(
    "mixed",
    "a test day",
    tuple(
        sorted(
            [2 * HOUR]
            + [5 * HOUR + k * 3.0 for k in range(12)]
            + [8 * HOUR + k * 4 * MINUTE for k in range(6)]
            + [15 * HOUR + k * 40.0 for k in range(5)]
        )
    ),
)


@pytest.mark.parametrize("idle_minutes", [0, 1, 15])
def test_no_policy_bills_less_than_the_bound_held_to_its_waits(idle_minutes: int) -> None:
    policy = EndpointPolicy.parse(SCALE_TO_ZERO, idle_minutes=idle_minutes)
    result = against_own_bound(DAY_OF_CALLS, policy, warm_up=300.0, period=DAY)
    assert result["served"] == len(DAY_OF_CALLS.arrivals)
    assert result["billed_hours"] >= result["bound_hours"] > 0
    assert result["endpoints_created"] >= 1 and result["waited"] >= 1
