"""Throughput of the caption model on a 10,000-cue WebVTT file.

Measures each phase of a translation without a translation service: parse, segment into
10,000-byte HTML documents, rebuild from the documents as an identity translation would
return them (alignment, text conversion and the final read-back check), and render.
Prints cues per second for each phase and for the whole; it sets no thresholds.

    .venv/bin/python benchmarks/caption_translation_throughput.py
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lambdas.caption_translation.captions import (
    format_timestamp,
    parse_captions,
    rebuild_from_documents,
    render_captions,
    to_html_documents,
)

CUES = 10_000
MAX_REQUEST_BYTES = 10_000
T = TypeVar("T")


class _Identity:
    """A translator that returns its input, so only the caption code is measured."""

    def translate_html(self, html: str) -> str:
        return html

    def translate_text(self, text: str) -> str:
        return text


def generate_vtt(cues: int = CUES) -> bytes:
    """A WebVTT file with identifiers, settings, two-line cues, voices, italics and entities."""
    lines = ["WEBVTT - benchmark", "", "NOTE generated in memory", ""]
    for index in range(cues):
        start = index * 2_500
        timing = f"{format_timestamp(start)} --> {format_timestamp(start + 2_000)}"
        lines += [
            f"cue-{index}",
            f"{timing} line:90% align:center",
            f"<v Speaker {index % 4}>This is line {index}, and it has <i>a few</i> words",
            "on a second line &amp; one entity.",
            "",
        ]
    return "\n".join(lines).encode("utf-8")


def _timed(action: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def run() -> dict[str, object]:
    """Run every phase once and return cues per second for each and for the whole."""
    data = generate_vtt()
    doc, parse_s = _timed(lambda: parse_captions(data, "benchmark.vtt"))
    documents, segment_s = _timed(lambda: to_html_documents(doc, MAX_REQUEST_BYTES))
    outcome, rebuild_s = _timed(lambda: rebuild_from_documents(doc, documents, _Identity()))
    rendered, render_s = _timed(lambda: render_captions(outcome.captions))
    seconds = {
        "parse": parse_s,
        "segment": segment_s,
        "rebuild": rebuild_s,
        "render": render_s,
    }
    seconds["total"] = sum(seconds.values())
    return {
        "cues": doc.cue_count,
        "input_bytes": len(data),
        "documents": len(documents),
        "retranslated": outcome.retranslated,
        "output_identical": rendered == data,
        "seconds": {phase: round(value, 4) for phase, value in seconds.items()},
        "cues_per_second": {
            phase: round(doc.cue_count / value) if value else None
            for phase, value in seconds.items()
        },
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
