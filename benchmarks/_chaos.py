"""What the load benchmarks share: the chaos they run under, and a run without it beside one
with it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from localcloud.core.chaos import ChaosSettings

CHAOS = ChaosSettings(0.05, seed=11)


def without_and_with_chaos(
    run_once: Callable[[ChaosSettings | None], dict[str, Any]], rate: str, **settings: Any
) -> dict[str, Any]:
    """`run_once` without chaos, then under `CHAOS`, side by side with the settings both ran
    with, and the share of the throughput (`rate`: a per-second count of each run) chaos
    leaves."""
    calm = run_once(None)
    stormy = run_once(CHAOS)
    return {
        "measured": time.strftime("%Y-%m-%d"),
        **settings,
        "chaos": f"{CHAOS.rate}:{CHAOS.seed}",
        "without_chaos": calm,
        "with_chaos": stormy,
        "throughput_ratio": round(stormy[rate] / calm[rate], 2),
    }


def chaos_section(
    result: dict[str, Any],
    title: str,
    setting: str,
    header: tuple[str, str],
    cells: Callable[[dict[str, Any]], str],
    finding: str,
) -> list[str]:
    """The Markdown section of a load benchmark: its title, what ran, a table with a row for
    the run without chaos and one for the run under it (`header`: the table's first two lines;
    `cells`: a run's cells after the run's label) and what the two rows show."""
    lines = [title, "", setting, "", *header]
    for label, run in (
        ("no chaos", result["without_chaos"]),
        (f"chaos {result['chaos']}", result["with_chaos"]),
    ):
        lines.append(f"| {label} | {cells(run)} |")
    return [*lines, "", finding, ""]
