"""What the workflows' chaos tests share: the seeds each workflow runs under, and a run under
chaos that reports the calls chaos failed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from localcloud.core import chaos as chaos_module
from localcloud.core.chaos import ChaosSettings

# Two seeds of failed calls, and one where half the failures come after the call took effect.
under_each_seed = pytest.mark.parametrize(
    "chaos",
    [ChaosSettings(0.05, 3), ChaosSettings(0.05, 7), ChaosSettings(0.1, 11, after_effect=0.5)],
    ids=["0.05:3", "0.05:7", "0.1:11-after-effect"],
)


def under_chaos(chaos: ChaosSettings | None, run: Callable[[], Any]) -> tuple[Any, dict[str, int]]:
    """What `run` returns with `chaos` failing calls (none when None), and how many it failed."""
    with chaos_module.chaos_run(chaos) as chaos_of_run:
        result = run()
    return result, dict(chaos_of_run.counts)
