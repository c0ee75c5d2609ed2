"""Caption conversion speed, side by side with the published AWS sample, on the same files.

Both conversions run as their workflows run them, around an identity translation (so only the
caption code is timed, never a translation service):

* this project: PrepareBatch parses the file and writes its HTML documents; the translation
  step parses it again, segments it, aligns the translated documents back to the cues, re-wraps
  them to the reading profile, checks the profile and the never-translate terms, verifies the
  structure and renders the file;
* the published sample (aws-samples/amazon-translate-video-subtitles-captions-translation,
  `translate_captions/captions_helper.py`): its S3 event handler parses the file with webvtt-py
  and joins the captions with `<span>`; its job event handler parses the file again, splits
  the translation on the delimiter and writes the file.

The sample's code is not part of this project. The benchmark reads it from
`$PUBLISHED_CAPTIONS_SAMPLE` (a checkout of that repository, or its git directory), else clones
it with git; without either, the comparison is reported as not measured. Its S3 reads are
replaced by the file's text and its DEBUG logging (which writes every caption) is switched
off, so its conversion alone is timed, as generously as possible.

    .venv/bin/python -m benchmarks.caption_translation_speed
"""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lambdas.caption_translation.captions import (
    CaptionFormat,
    format_timestamp,
    parse_captions,
    rebuild_from_documents,
    render_captions,
    to_html_documents,
)
from lambdas.caption_translation.captions.reading import ReadingProfile

SAMPLE_REPOSITORY = (
    "https://github.com/aws-samples/amazon-translate-video-subtitles-captions-translation"
)
SAMPLE_FILE = "translate_captions/captions_helper.py"
SIZES = (10_000, 100_000)
MAX_REQUEST_BYTES = 10_000
ROUNDS = 3


class _Identity:
    def translate_html(self, html: str) -> str:
        return html

    def translate_text(self, text: str) -> str:
        return text


def generate(fmt: CaptionFormat, cues: int) -> bytes:
    """A caption file like real dialogue: mostly plain two-line cues, some italics, a few
    speaker voices and entities, sentences running over two cues."""
    lines = ["WEBVTT", ""] if fmt == "vtt" else []
    words = [
        "we",
        "could",
        "take",
        "the",
        "last",
        "train",
        "home",
        "if",
        "the",
        "rain",
        "stops",
        "before",
        "midnight",
    ]
    for index in range(cues):
        start = index * 4_000  # about 15 characters per second, as dialogue is subtitled
        timing = f"{format_timestamp(start, fmt)} --> {format_timestamp(start + 3_600, fmt)}"
        first = " ".join(words[(index + k) % len(words)] for k in range(6))
        second = " ".join(words[(index + k + 3) % len(words)] for k in range(5))
        end = "." if index % 2 else ","
        if index % 7 == 0:
            first = f"<i>{first}</i>"
        if fmt == "vtt" and index % 11 == 0:
            first = f"<v Speaker {index % 3}>{first}"
        if index % 13 == 0:
            second += " &amp; more" if fmt == "vtt" else " & more"
        if fmt == "srt":
            lines.append(str(index + 1))
        lines += [timing, first.capitalize(), second + end, ""]
    return "\n".join(lines).encode("utf-8")


def ours(data: bytes, name: str) -> bytes:
    profile = ReadingProfile().for_language("es")
    # PrepareBatch
    planned = parse_captions(data, name)
    to_html_documents(planned, MAX_REQUEST_BYTES)
    # TranslateRealtime / RebuildOutputs
    doc = parse_captions(data, name)
    documents = to_html_documents(doc, MAX_REQUEST_BYTES)
    translated = [_Identity().translate_html(document) for document in documents]
    outcome = rebuild_from_documents(
        doc, translated, _Identity(), MAX_REQUEST_BYTES, profile, ("train",)
    )
    return render_captions(outcome.captions)


def load_sample() -> tuple[Callable[[bytes, str], str] | None, str]:
    """The sample's conversion as a function, and where its code came from (or why not)."""
    source, origin = _sample_source()
    if source is None:
        return None, origin
    folder = Path(tempfile.mkdtemp(prefix="published-sample-"))
    (folder / "captions_helper.py").write_text(source)
    texts: dict[str, str] = {}
    helper = types.ModuleType("helper")

    class S3Helper:  # stands in for the sample's S3 read
        def readFromS3(self, bucket: str, key: str) -> str:  # noqa: N802
            return texts[key]

    helper.S3Helper = S3Helper  # type: ignore[attr-defined]
    helper.AwsHelper = object  # type: ignore[attr-defined]
    sys.modules["helper"] = helper
    spec = importlib.util.spec_from_file_location(
        "published_captions_helper", folder / "captions_helper.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    captions = module.Captions()
    logging.disable(logging.CRITICAL)  # its DEBUG logging writes every caption

    def convert(data: bytes, name: str) -> str:
        texts[name] = data.decode("utf-8")
        location = {"Bucket": "bench", "Key": name}
        read = captions.vttToCaptions if name.endswith(".vtt") else captions.srtToCaptions
        delimited = captions.ConvertToDemilitedFiles(read(location))  # s3_event_handler
        entries = read(location)  # translate_job_event_handler
        web = captions.DelimitedToWebCaptions(entries, delimited, "<span>", 15)
        return str(
            captions.captionsToVTT(web) if name.endswith(".vtt") else captions.captionsToSRT(web)
        )

    return convert, origin


def _sample_source() -> tuple[str | None, str]:
    configured = os.environ.get("PUBLISHED_CAPTIONS_SAMPLE")
    if configured:
        path = Path(configured) / SAMPLE_FILE
        if path.exists():  # a checkout
            return path.read_text(), str(path)
        return _from_git(Path(configured))  # or a clone's git directory
    target = Path(tempfile.mkdtemp(prefix="published-sample-git-"))
    cloned = subprocess.run(
        ["git", "clone", "--quiet", "--depth", "1", SAMPLE_REPOSITORY, str(target)],
        capture_output=True,
        timeout=120,
        check=False,
    )
    if cloned.returncode:
        return None, "the published sample's code is not available (set PUBLISHED_CAPTIONS_SAMPLE)"
    return _from_git(target)


def _from_git(repository: Path) -> tuple[str | None, str]:
    shown = subprocess.run(
        ["git", "-C", str(repository), "show", f"HEAD:{SAMPLE_FILE}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if shown.returncode:
        return None, f"{SAMPLE_FILE} not found in {repository}"
    commit = subprocess.run(
        ["git", "-C", str(repository), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return shown.stdout, f"{SAMPLE_REPOSITORY} at {commit}"


def _best_side_by_side(*actions: Callable[[], Any]) -> list[float]:
    """Each action's best time of `ROUNDS`, the actions taking turns in every round, so that
    load from elsewhere on the machine falls on both sides alike."""
    best = [float("inf")] * len(actions)
    for _ in range(ROUNDS):
        for index, action in enumerate(actions):
            best[index] = min(best[index], _timed(action))
    return best


def _peak_bytes(action: Callable[[], Any]) -> int:
    """The most memory Python held at once during `action` (tracemalloc, untimed run)."""
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _timed(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def run() -> dict[str, Any]:
    sample, origin = load_sample()
    files = []
    formats: tuple[CaptionFormat, ...] = ("vtt", "srt")
    for fmt in formats:
        for cues in SIZES:
            data = generate(fmt, cues)
            name = f"bench-{cues}.{fmt}"
            row: dict[str, Any] = {"format": fmt, "cues": cues, "bytes": len(data)}
            mine = functools.partial(ours, data, name)
            actions = [mine] if sample is None else [mine, functools.partial(sample, data, name)]
            times = _best_side_by_side(*actions)
            ours_s = times[0]
            row["ours_s"] = round(ours_s, 3)
            row["ours_cues_per_s"] = round(cues / ours_s)
            row["ours_peak_bytes_per_cue"] = round(_peak_bytes(mine) / cues)
            if sample is not None:
                sample_s = times[1]
                row["sample_s"] = round(sample_s, 3)
                row["sample_cues_per_s"] = round(cues / sample_s)
                row["speedup"] = round(sample_s / ours_s, 2)
            files.append(row)
    return {
        "measured": time.strftime("%Y-%m-%d"),
        "sample": origin,
        "rounds": ROUNDS,
        "files": files,
    }


def markdown(result: dict[str, Any]) -> list[str]:
    lines = [
        "## Caption conversion speed against the published sample",
        "",
        "The same generated files converted by both, as their workflows do (this project: parse "
        "twice, segment, align, re-wrap to the reading profile, check it, verify, render; the "
        "sample: parse twice with webvtt-py, join, split, write), around an identity "
        f"translation; best of {result['rounds']} runs each, the two taking turns in every "
        f"round, measured {result['measured']}. Sample code: {result['sample']}. Peak memory "
        "is what Python held at once while this project converted the file (tracemalloc, in "
        "a separate untimed run), per cue: the same for 10 times the cues means memory grows "
        "linearly with the file.",
        "",
        "| file | cues | this project cues/s | sample cues/s | speed-up | this project's peak "
        "memory per cue |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in result["files"]:
        sample = f"{row['sample_cues_per_s']:,}" if "sample_s" in row else "not measured"
        speedup = f"{row['speedup']}x" if "speedup" in row else "-"
        lines.append(
            f"| {row['format'].upper()} | {row['cues']:,} | {row['ours_cues_per_s']:,} | "
            f"{sample} | {speedup} | {_per_cue(row)} |"
        )
    return [*lines, ""]


def _per_cue(row: dict[str, Any]) -> str:
    peak = row.get("ours_peak_bytes_per_cue")
    return "-" if peak is None else f"{peak:,} bytes"


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
