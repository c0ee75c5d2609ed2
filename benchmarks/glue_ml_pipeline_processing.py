"""DataProcessingJob throughput in Spark local mode: how its cost grows with the dataset.

The job's own `process` function (glue_jobs/glue_ml_pipeline/pipeline_processing.py) runs on
generated DBpedia-style datasets of 100,000 and 500,000 rows
(samples/glue_ml_pipeline/generate.py), in the local
cloud's SparkSession (local[2], the process's one session, warmed up first), with S3 replaced
by an in-memory store so that only the job's parsing, Spark work and channel writing are
timed. Sizes alternate over the rounds so machine load falls on both alike; the fastest round
of each counts. The result is seconds, rows per second and the cost ratio of 500k to 100k
rows (5.0 would be exactly linear).
"""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SIZES = (100_000, 500_000)
ROUNDS = 2


class _Body(io.BytesIO):
    def iter_lines(self, keepends: bool = False) -> Any:
        yield from self.read().splitlines(keepends=keepends)


class MemoryS3:
    """The S3 calls the processing job makes, kept in memory."""

    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = dict(objects)

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803
        return {"Body": _Body(self.objects[f"{Bucket}/{Key}"])}

    def put_object(self, Bucket: str, Key: str, Body: bytes, **_: Any) -> None:  # noqa: N803
        self.objects[f"{Bucket}/{Key}"] = Body

    def upload_file(self, path: str, bucket: str, key: str) -> None:
        self.objects[f"{bucket}/{key}"] = Path(path).read_bytes()


def run() -> dict[str, Any]:
    sys.path.insert(0, str(ROOT / "glue_jobs" / "glue_ml_pipeline"))
    from pipeline_common import S3Location
    from pipeline_processing import ProcessingSettings, process
    from pipeline_spark import SplitFractions

    from localcloud.demos.glue_ml_pipeline import generator
    from localcloud.services.glue.engine import spark_session

    spark = spark_session()
    settings = ProcessingSettings(SplitFractions(0.1, 0.1), 42, 0.05, 14, 10)
    datasets = {size: generator().to_csv(size) for size in (2_000, *SIZES)}

    def once(size: int) -> float:
        s3 = MemoryS3({"b/raw.csv": datasets[size]})
        started = time.perf_counter()
        report = process(
            s3, spark, S3Location("b", "raw.csv"), S3Location("b", "processed"),
            S3Location("b", "rejects.jsonl"), settings,
        )  # fmt: skip
        elapsed = time.perf_counter() - started
        assert report["rows"] == size and report["rejected"] == 0, report
        return elapsed

    once(2_000)  # warm-up: JVM, Python workers, code generation
    times: dict[int, list[float]] = {size: [] for size in SIZES}
    for _ in range(ROUNDS):
        for size in SIZES:
            times[size].append(once(size))
    best = {size: min(values) for size, values in times.items()}
    small, large = SIZES
    return {
        "spark": "local[2], shuffle partitions 2",
        "rows": list(SIZES),
        "seconds": {str(size): round(best[size], 2) for size in SIZES},
        "rows_per_second": {str(size): round(size / best[size]) for size in SIZES},
        "cost_ratio_500k_to_100k": round(best[large] / best[small], 2),
        "size_ratio": large / small,
    }


def markdown(g: dict[str, Any]) -> list[str]:
    small, large = (str(size) for size in g["rows"])
    return [
        "",
        "## Glue DataProcessingJob throughput (Spark local mode)",
        "",
        f"The job's `process` on generated DBpedia-style rows, Spark {g['spark']}, S3 in "
        "memory, fastest of the rounds (sizes alternated):",
        "",
        "| rows | seconds | rows per second |",
        "| ---: | ---: | ---: |",
        f"| {int(small):,} | {g['seconds'][small]} | {g['rows_per_second'][small]:,} |",
        f"| {int(large):,} | {g['seconds'][large]} | {g['rows_per_second'][large]:,} |",
        "",
        f"Five times the rows cost {g['cost_ratio_500k_to_100k']}x the time "
        f"({g['size_ratio']:.0f}x would be linear).",
        "",
    ]


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
