"""DataProcessingJob: raw DBpedia CSV in, BlazingText channels out, every rejected row kept
with its reason.

The driver streams the raw object from S3 and parses it (so that every malformed row is
counted with its line number); Spark cleans, tokenises and splits; the driver writes one file
per channel. Reading and writing through the driver keeps the job independent of the S3
connector and is fine for datasets of the DBpedia scale (hundreds of MB); see the README.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from typing import Any

from pipeline_common import PipelineError, S3Location
from pipeline_spark import (
    SPLITS,
    SplitFractions,
    class_counts,
    clean,
    rows_frame,
    stratified_split,
    supervised_lines,
)
from pipeline_text import Reject, Row, parse_rows


@dataclass(frozen=True)
class ProcessingSettings:
    fractions: SplitFractions
    seed: int
    max_reject_ratio: float
    expected_classes: int
    min_rows_per_class: int


def _lines(body: Any, rejects: list[Reject]) -> Any:
    for number, raw in enumerate(body.iter_lines(keepends=True), start=1):
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError:
            rejects.append(Reject(number, "not UTF-8", raw[:500].decode("utf-8", "replace")))
            yield ""


def process(
    s3: Any,
    spark: Any,
    raw: S3Location,
    output: S3Location,
    rejects_location: S3Location,
    settings: ProcessingSettings,
) -> dict[str, Any]:
    try:
        body = s3.get_object(Bucket=raw.bucket, Key=raw.key)["Body"]
    except Exception as exc:
        raise PipelineError(f"raw data {raw.uri} cannot be read: {exc}") from exc
    rejects: list[Reject] = []
    rows: list[tuple[int, str, str, str]] = []
    for item in parse_rows(_lines(body, rejects)):
        if isinstance(item, Row):
            rows.append((item.line, item.label, item.title, item.abstract))
        else:
            rejects.append(item)
    total = len(rows) + len(rejects)
    usable, cleaning_rejects = clean(rows_frame(spark, rows))
    for row in cleaning_rejects.collect():
        rejects.append(Reject(row["line"], row["reason"], ""))
    total = max(total, 1)
    rejects.sort(key=lambda r: r.line)
    _write_rejects(s3, rejects_location, rejects)
    ratio = len(rejects) / total
    report: dict[str, Any] = {
        "rows": total,
        "rejected": len(rejects),
        "reject_ratio": round(ratio, 4),
        "rejects_uri": rejects_location.uri,
    }
    if ratio > settings.max_reject_ratio:
        raise PipelineError(
            f"{len(rejects)} of {total} rows rejected ({ratio:.1%}), more than the allowed "
            f"{settings.max_reject_ratio:.1%}; reasons in {rejects_location.uri}"
        )
    split_rows = stratified_split(usable, settings.fractions, settings.seed).cache()
    counts = class_counts(split_rows)
    report["classes"] = len(counts)
    if settings.expected_classes and len(counts) < settings.expected_classes:
        raise PipelineError(
            f"expected {settings.expected_classes} classes, found rows for {len(counts)} "
            f"({', '.join(sorted(counts))}): classes without rows cannot be learned"
        )
    small = sorted(
        label for label, c in counts.items() if sum(c.values()) < settings.min_rows_per_class
    )
    if small:
        raise PipelineError(
            f"classes with fewer than {settings.min_rows_per_class} rows: {', '.join(small)}"
        )
    report["splits"] = {s: sum(c[s] for c in counts.values()) for s in SPLITS}
    report["channels"] = _write_channels(s3, supervised_lines(split_rows), output)
    split_rows.unpersist()
    return report


def _write_rejects(s3: Any, location: S3Location, rejects: list[Reject]) -> None:
    body = "".join(
        json.dumps({"line": r.line, "reason": r.reason, "row": r.raw}) + "\n" for r in rejects
    )
    s3.put_object(
        Bucket=location.bucket,
        Key=location.key,
        Body=body.encode(),
        ContentType="application/x-ndjson",
    )


def _write_channels(s3: Any, lines: Any, output: S3Location) -> dict[str, str]:
    channels = {}
    with tempfile.TemporaryDirectory() as directory:
        paths = {split: os.path.join(directory, f"{split}.txt") for split in SPLITS}
        handles = {split: open(path, "w", encoding="utf-8") for split, path in paths.items()}  # noqa: SIM115
        try:
            for row in lines.orderBy("order").toLocalIterator():
                handles[row["split"]].write(row["value"] + "\n")
        finally:
            for handle in handles.values():
                handle.close()
        for split, path in paths.items():
            target = output.child(f"{split}/{split}.txt")
            s3.upload_file(path, target.bucket, target.key)
            channels[split] = output.child(f"{split}/").uri
    return channels
