"""Run every benchmark once, side by side, and write benchmarks/RESULTS.md.

make bench          (synthesizes first; the benchmarks read cdk.out)

Named benchmarks run alone and replace only their own results in `benchmarks/results.json`;
RESULTS.md is then rendered again from the whole file:

.venv/bin/python -m benchmarks custom_labels_batch_load comprehend_feedback_loop_load
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import webvtt

from benchmarks import (
    assets,
    caption_translation_cost,
    caption_translation_load,
    caption_translation_speed,
    caption_translation_throughput,
    cold_start,
    comprehend_feedback_loop_api,
    comprehend_feedback_loop_load,
    custom_labels_batch_cost,
    custom_labels_batch_load,
    endpoint_lifecycle_cost,
    glue_ml_pipeline_processing,
    ticket_classification_latency,
)

ROOT = Path(__file__).resolve().parents[1]


def _webvtt_side_by_side() -> dict[str, Any]:
    """Our parse against webvtt-py's own parse of the same 10,000-cue file."""
    from lambdas.caption_translation.captions import parse_captions

    data = caption_translation_throughput.generate_vtt()
    text = data.decode()
    library_runs, our_runs = [], []
    for _ in range(3):  # alternate, so warm-up and machine load fall on both alike
        started = time.perf_counter()
        webvtt.from_string(text)
        library_runs.append(time.perf_counter() - started)
        started = time.perf_counter()
        parse_captions(data, "benchmark.vtt")
        our_runs.append(time.perf_counter() - started)
    library, ours = min(library_runs), min(our_runs)
    return {
        "webvtt_py_parse_s": round(library, 4),
        "caption_model_parse_s": round(ours, 4),
        "ratio": round(ours / library, 2),
    }


def machine() -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.machine(),
        "cpus": os.cpu_count(),
    }


def benchmarks(assembly: Path) -> dict[str, tuple[str, Callable[[], Any]]]:
    """Module name -> (results key, run), in the order `make bench` runs them."""
    return {
        "caption_translation_throughput": (
            "caption_throughput",
            caption_translation_throughput.run,
        ),
        "parse_vs_webvtt_py": ("parse_vs_webvtt_py", _webvtt_side_by_side),
        "caption_translation_speed": (
            "caption_speed_vs_published_sample",
            caption_translation_speed.run,
        ),
        "caption_translation_load": (
            "caption_load_under_chaos",
            lambda: caption_translation_load.run(assembly),
        ),
        "cold_start": ("handler_import", lambda: cold_start.run(assembly)),
        "assets": ("asset_sizes", lambda: assets.run(assembly)),
        "caption_translation_cost": (
            "alignment_repair_cost",
            lambda: caption_translation_cost.run(assembly),
        ),
        "custom_labels_batch_cost": (
            "custom_labels_batch_cost",
            lambda: custom_labels_batch_cost.run(assembly),
        ),
        "endpoint_lifecycle_cost": ("endpoint_lifecycle_cost", endpoint_lifecycle_cost.run),
        "custom_labels_batch_load": (
            "custom_labels_load_under_chaos",
            lambda: custom_labels_batch_load.run(assembly),
        ),
        "ticket_classification_latency": (
            "ticket_classification_latency",
            lambda: ticket_classification_latency.run(assembly),
        ),
        "glue_ml_pipeline_processing": (
            "glue_ml_pipeline_processing",
            glue_ml_pipeline_processing.run,
        ),
        "comprehend_feedback_loop_api": (
            "comprehend_feedback_loop_api",
            comprehend_feedback_loop_api.run,
        ),
        "comprehend_feedback_loop_load": (
            "classify_load_under_chaos",
            comprehend_feedback_loop_load.run,
        ),
    }


def main(names: list[str]) -> None:
    """Every benchmark, or only the named ones (their results replace the earlier ones)."""
    available = benchmarks(ROOT / "cdk.out")
    unknown = [name for name in names if name not in available]
    if unknown:
        raise SystemExit(
            f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(available)}"
        )
    results_path = ROOT / "benchmarks" / "results.json"
    if names:
        results = json.loads(results_path.read_text())
        chosen = {name: available[name] for name in names}
    else:
        results = {"machine": machine()}
        chosen = available
    for key, measure in chosen.values():
        results[key] = measure()
    results_path.write_text(json.dumps(results, indent=2) + "\n")
    (ROOT / "benchmarks" / "RESULTS.md").write_text(render(results))
    print(json.dumps({key: results[key] for key, _ in chosen.values()}, indent=2))


def render(r: dict[str, Any]) -> str:
    m = r["machine"]
    t = r["caption_throughput"]
    lines = [
        "# Benchmark results",
        "",
        f"Measured by `make bench` on {m['date']}: {m['cpus']} CPUs, {m['processor']}, "
        f"Python {m['python']}, {m['platform']}. Every ratio compares two measurements taken "
        "side by side in the same run; a section measured again on its own gives its date. "
        "Raw numbers: `benchmarks/results.json`.",
        "",
        "## Caption throughput (10,000-cue WebVTT file)",
        "",
        "| phase | seconds | cues/s |",
        "| --- | ---: | ---: |",
    ]
    for phase, seconds in t["seconds"].items():
        lines.append(f"| {phase} | {seconds} | {t['cues_per_second'][phase]:,} |")
    p = r["parse_vs_webvtt_py"]
    lines += [
        "",
        f"Output byte-identical to the input after an identity translation: "
        f"{t['output_identical']}. Parsing into the caption model (which keeps the positions, "
        "blocks and line numbers webvtt-py drops) takes "
        f"{p['ratio']}x the time of webvtt-py's own parse of the same file "
        f"({p['caption_model_parse_s']} s vs {p['webvtt_py_parse_s']} s, best of 3 each).",
        "",
        "## Handler import time (cold-start proxy)",
        "",
        f"Fresh `python -I -S` per import, median of {r['handler_import']['runs']}. "
        f"Empty interpreter: {r['handler_import']['interpreter_ms']} ms; importing boto3 only: "
        f"{r['handler_import']['boto3_baseline_ms']} ms.",
        "",
        "| handler | median ms | vs boto3 alone |",
        "| --- | ---: | ---: |",
    ]
    for handler, data in r["handler_import"]["handlers"].items():
        lines.append(f"| `{handler}` | {data['median_ms']} | {data['ratio_to_boto3_baseline']}x |")
    a = r["asset_sizes"]
    lines += ["", "## Asset sizes", "", "| asset | bytes | zipped |", "| --- | ---: | ---: |"]
    for name, data in a.items():
        if isinstance(data, dict):
            lines.append(f"| {name} | {data['bytes']:,} | {data['zip_bytes']:,} |")
    if "layer_with_sdk_ratio" in a:
        lines += [
            "",
            f"Bundling boto3/botocore/s3transfer into the layer instead of using the runtime's "
            f"SDK would make it {a['layer_with_sdk_ratio']}x larger (zipped).",
        ]
    c = r["alignment_repair_cost"]
    lines += [
        "",
        "## What alignment repair costs (Translate characters billed)",
        "",
        "The sample captions, translated in real time into two languages on the local cloud, "
        "without faults and with merged, dropped and reordered segments:",
        "",
        "| run | characters billed | TranslateText calls |",
        "| --- | ---: | ---: |",
        f"| no faults | {c['without_faults']['characters_billed']:,} | "
        f"{c['without_faults']['translate_text_calls']} |",
        f"| merge + drop + reorder | {c['with_merge_drop_reorder']['characters_billed']:,} | "
        f"{c['with_merge_drop_reorder']['translate_text_calls']} |",
        "",
        f"Repairing every damaged document costs {c['characters_ratio']}x the characters and "
        f"{c['calls_ratio']}x the calls; every output still has exactly its source's cues.",
        "",
    ]
    lines += caption_translation_speed.markdown(r["caption_speed_vs_published_sample"])
    lines += caption_translation_load.markdown(r["caption_load_under_chaos"])
    lines += custom_labels_batch_cost.markdown(r["custom_labels_batch_cost"])
    lines += custom_labels_batch_load.markdown(r["custom_labels_load_under_chaos"])
    lines += endpoint_lifecycle_cost.markdown(r["endpoint_lifecycle_cost"])
    lines += ticket_classification_latency.markdown(r["ticket_classification_latency"])
    lines += glue_ml_pipeline_processing.markdown(r["glue_ml_pipeline_processing"])
    lines += comprehend_feedback_loop_api.markdown(r["comprehend_feedback_loop_api"])
    lines += comprehend_feedback_loop_load.markdown(r["classify_load_under_chaos"])
    return "\n".join(lines)


if __name__ == "__main__":
    main(sys.argv[1:])
