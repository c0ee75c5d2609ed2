"""The DataProcessingJob's Spark functions on small frames, with one local SparkSession for the
module (Spark takes seconds to start)."""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from pipeline_common import PipelineError, S3Location
from pipeline_processing import ProcessingSettings, process
from pipeline_spark import (
    SplitFractions,
    class_counts,
    clean,
    rows_frame,
    stratified_split,
    supervised_lines,
)

from localcloud.services.glue.engine import spark_session

# Spark jobs of the end-to-end tests share this module's SparkSession (one per process).
pytestmark = pytest.mark.xdist_group("glue")


@pytest.fixture(scope="module")
def spark() -> Any:
    return spark_session()


def _rows(per_class: dict[str, int]) -> list[tuple[int, str, str, str]]:
    rows = []
    for label, count in per_class.items():
        for i in range(count):
            rows.append((len(rows) + 1, label, f"Title {i}", f"Words of class {label} number {i}."))
    return rows


def test_cleaning_tokenises_and_rejects_rows_without_words(spark: Any) -> None:
    frame = rows_frame(
        spark,
        [(1, "1", "Acme", "Acme, Inc. (1999) __label__2 sells THINGS!"), (2, "2", "", "...!?")],
    )
    usable, rejects = clean(frame)
    assert [r.asDict() for r in usable.collect()] == [
        {"line": 1, "label": "1", "text": "acme acme inc 1999 label 2 sells things"}
    ]
    assert [r.asDict() for r in rejects.collect()] == [
        {"line": 2, "reason": "no words left after cleaning"}
    ]


def test_split_is_stratified_seeded_and_independent_of_input_order(spark: Any) -> None:
    rows = _rows({"a": 100, "b": 40, "c": 3, "d": 2})
    fractions = SplitFractions(validation=0.1, test=0.2)
    usable, _ = clean(rows_frame(spark, rows))
    split = stratified_split(usable, fractions, seed=42)
    counts = class_counts(split)
    assert counts["a"] == {"train": 70, "validation": 10, "test": 20}
    assert counts["b"] == {"train": 28, "validation": 4, "test": 8}
    # Every class of three rows or more has a row in each split; smaller ones only train.
    assert counts["c"] == {"train": 1, "validation": 1, "test": 1}
    assert counts["d"] == {"train": 2, "validation": 0, "test": 0}

    def assignment(frame: Any) -> dict[int, str]:
        return {r["line"]: r["split"] for r in frame.select("line", "split").collect()}

    reversed_usable, _ = clean(rows_frame(spark, list(reversed(rows))))
    same = stratified_split(reversed_usable, fractions, seed=42)
    other = stratified_split(usable, fractions, seed=7)
    assert assignment(same) == assignment(split)
    assert assignment(other) != assignment(split)


def test_supervised_lines_carry_the_label_prefix(spark: Any) -> None:
    usable, _ = clean(rows_frame(spark, _rows({"7": 5})))
    lines = supervised_lines(stratified_split(usable, SplitFractions(0.2, 0.2), seed=1))
    values = [r["value"] for r in lines.collect()]
    assert len(values) == 5
    assert all(v.startswith("__label__7 title ") for v in values)


class FakeS3:
    """The S3 calls the processing job makes, on a dict."""

    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = dict(objects)

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803
        data = self.objects[f"{Bucket}/{Key}"]
        return {"Body": _Body(data)}

    def put_object(self, Bucket: str, Key: str, Body: bytes, **_: Any) -> None:  # noqa: N803
        self.objects[f"{Bucket}/{Key}"] = Body

    def upload_file(self, path: str, bucket: str, key: str) -> None:
        self.objects[f"{bucket}/{key}"] = Path(path).read_bytes()


class _Body(io.BytesIO):
    def iter_lines(self, keepends: bool = False) -> Any:
        yield from self.read().splitlines(keepends=keepends)


SETTINGS = ProcessingSettings(
    fractions=SplitFractions(0.1, 0.1),
    seed=42,
    max_reject_ratio=0.05,
    expected_classes=3,
    min_rows_per_class=10,
)


def _csv(per_class: dict[str, int], extra: bytes = b"") -> bytes:
    lines = [f"{label},T{i},Abstract {i} about {label}\n" for label, n in per_class.items()
             for i in range(n)]  # fmt: skip
    return "".join(lines).encode() + extra


def _process(data: bytes, settings: ProcessingSettings = SETTINGS) -> tuple[FakeS3, Any]:
    s3 = FakeS3({"b/raw/r/data.csv": data})
    rejects = S3Location("b", "rejects/r/rejects.jsonl")
    try:
        report = process(
            s3, spark_session(), S3Location("b", "raw/r/data.csv"), S3Location("b", "processed/r"),
            rejects, settings,
        )  # fmt: skip
    except PipelineError as exc:
        return s3, exc
    return s3, report


def test_processing_writes_three_channels_and_counts_rejects() -> None:
    bad = b"1,two fields\n\xff\xfe,not utf8,x\n"
    s3, report = _process(_csv({"1": 40, "2": 40, "3": 40}, bad))
    assert report["rows"] == 122 and report["rejected"] == 2 and report["classes"] == 3
    assert report["splits"] == {"train": 96, "validation": 12, "test": 12}
    train = s3.objects["b/processed/r/train/train.txt"].decode().splitlines()
    assert len(train) == 96
    assert Counter(line.split(" ", 1)[0] for line in train) == {
        "__label__1": 32, "__label__2": 32, "__label__3": 32
    }  # fmt: skip
    rejects = [json.loads(x) for x in s3.objects["b/rejects/r/rejects.jsonl"].splitlines()]
    assert [(r["line"], r["reason"]) for r in rejects] == [
        (121, "expected 3 fields (class,title,abstract), got 2"),
        (122, "not UTF-8"),
    ]


def test_too_many_rejects_fail_the_run_and_keep_the_reasons() -> None:
    bad = b"".join(b"x,y\n" for _ in range(10))
    s3, error = _process(_csv({"1": 40, "2": 40, "3": 40}, bad))
    assert isinstance(error, PipelineError)
    assert "10 of 130 rows rejected" in str(error)
    assert len(s3.objects["b/rejects/r/rejects.jsonl"].splitlines()) == 10
    assert not any(key.startswith("b/processed/") for key in s3.objects)


def test_missing_or_small_classes_fail_the_run() -> None:
    _, missing = _process(_csv({"1": 40, "2": 40}))
    assert isinstance(missing, PipelineError)
    assert "expected 3 classes, found rows for 2" in str(missing)
    _, small = _process(_csv({"1": 40, "2": 40, "3": 5}))
    assert isinstance(small, PipelineError)
    assert "fewer than 10 rows: 3" in str(small)
