"""benchmarks/RESULTS.md is what the benchmarks' renderer makes of benchmarks/results.json."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.__main__ import benchmarks, main, render

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def test_results_page_is_rendered_from_the_recorded_results() -> None:
    results = json.loads((BENCHMARKS / "results.json").read_text())
    assert render(results) == (BENCHMARKS / "RESULTS.md").read_text()


def test_every_benchmark_module_can_be_run_by_name() -> None:
    # a module named with a leading underscore (the package's own, a shared helper) is none
    modules = {path.stem for path in BENCHMARKS.glob("*.py") if not path.stem.startswith("_")}
    assert modules <= set(benchmarks(BENCHMARKS.parent / "cdk.out"))


def test_an_unknown_benchmark_name_is_refused_with_the_choices() -> None:
    try:
        main(["custom_labels_batch_loads"])
    except SystemExit as exit_:
        assert "custom_labels_batch_load" in str(exit_.code)
    else:
        raise AssertionError("an unknown name ran")
