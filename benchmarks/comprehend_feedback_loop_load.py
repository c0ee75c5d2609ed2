"""Classify API under load and chaos: 1,000 concurrent `POST /classify` calls, feedback once.

Both stacks are deployed on the local cloud as the demo deploys them, the first model is
trained from `initial.csv`, and 20 callers send 1,000 `POST /classify` requests with the API
key, all at once, each with a different text (the samples' held-out stream, numbered so no two
requests are alike). A caller treats a 429 or 5xx answer as an AWS SDK does: it retries with
exponential back-off and full jitter (`random() x 2^attempt` seconds, at most 20 s), at most 5
attempts in all. The run is repeated with chaos on every AWS call.

What is counted comes from the answers and from where feedback lands, not from the workflow's
counters: every answer the callers received, and every implicit feedback item in the feedback
bucket (`feedback/`, where the feedback stream delivers) and in the human loops started from
it. Each answer below the confidence threshold must reach the feedback store exactly once
(`missing`: none; `duplicated`: more than once, or feedback for a text whose answer was sure),
and each item must be in exactly one human loop. Reports calls per second and the latency a
caller sees (wall seconds, retries included), side by side.

    .venv/bin/python -m benchmarks.comprehend_feedback_loop_load
"""

from __future__ import annotations

import json
import random
import statistics
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks._chaos import CHAOS, chaos_section, without_and_with_chaos
from benchmarks._classify_api import trained_classify_api
from localcloud.core.chaos import ChaosSettings

CALLS = 1_000
CALLERS = 20
ATTEMPTS = 5
MAX_BACKOFF_SECONDS = 20.0
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass
class Answer:
    text: str
    status: int
    attempts: int
    seconds: float
    score: float | None


def _texts(calls: int) -> list[str]:
    from localcloud.demos.review import SAMPLES, labelled_rows

    stream = [text for _, text in labelled_rows(SAMPLES / "improving.csv")]
    stream += [text for _, text in labelled_rows(SAMPLES / "holdout.csv")]
    return [f"{stream[n % len(stream)]} (request {n})" for n in range(calls)]


def _lines(s3: Any, bucket: str, prefix: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for entry in page.get("Contents", []):
            data = s3.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read()
            items.extend(json.loads(line) for line in data.decode().splitlines() if line.strip())
    return items


def run_once(
    assembly: Path, chaos: ChaosSettings | None, calls: int, callers: int
) -> dict[str, Any]:
    from localcloud.cloud import LocalCloud

    texts = _texts(calls)
    with (
        tempfile.TemporaryDirectory() as scratch,
        LocalCloud(assembly, work_dir=Path(scratch), chaos=chaos) as cloud,
    ):
        api = trained_classify_api(cloud, settle_seconds=900)
        stack, gateway, key = api.stack, api.gateway, api.key
        s3 = cloud.client("s3")
        url = str(stack.outputs["ApiUrl"]) + "classify"
        function = cloud.runtime.functions[api.function]
        threshold = int(function.environment.get("CONFIDENCE_THRESHOLD_PER_MILLE", "500")) / 1000
        jitter = random.Random(CHAOS.seed)
        jitter_lock = threading.Lock()

        def call(text: str) -> Answer:
            started = time.perf_counter()
            body = json.dumps({"classifier": "news", "text": text})
            for attempt in range(1, ATTEMPTS + 1):
                response = gateway.request("POST", url, headers={"x-api-key": key}, body=body)
                if response.status not in RETRIED_STATUSES or attempt == ATTEMPTS:
                    break
                with jitter_lock:
                    pause = min(MAX_BACKOFF_SECONDS, jitter.random() * 2**attempt)
                time.sleep(pause)
            score = response.json()["score"] if response.status == 200 else None
            return Answer(text, response.status, attempt, time.perf_counter() - started, score)

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=callers) as pool:
            answers = list(pool.map(call, texts))
        seconds = time.perf_counter() - started
        cloud.settle(timeout=900)

        answered = [a for a in answers if a.status == 200]
        unsure = {a.text for a in answered if a.score is not None and a.score < threshold}
        stored = Counter(
            item["text"]
            for item in _lines(s3, str(stack.outputs["FeedbackBucketName"]), "feedback/")
            if item.get("source") == "implicit"
        )
        in_loops: Counter[str] = Counter()
        with cloud.a2i.state.lock:
            loops = list(cloud.a2i.state.loops.values())
        for loop in loops:
            in_loops.update(
                item["text"] for item in loop.input["items"] if item.get("source") == "implicit"
            )
        latencies = sorted(a.seconds for a in answers)
        return {
            "calls": len(answers),
            "answered": len(answered),
            "failed_after_retries": len(answers) - len(answered),
            "statuses": dict(sorted(Counter(str(a.status) for a in answers).items())),
            "retried_calls": sum(1 for a in answers if a.attempts > 1),
            "unsure_answers": len(unsure),
            "feedback_stored": sum(stored.values()),
            "feedback_missing": len(unsure - set(stored)),
            "feedback_duplicated": sum(1 for t, n in stored.items() if n > 1 or t not in unsure),
            "human_loops": len(loops),
            "loop_items_missing": len(unsure - set(in_loops)),
            "loop_items_duplicated": sum(
                1 for t, n in in_loops.items() if n > 1 or t not in unsure
            ),
            "seconds": round(seconds, 1),
            "calls_per_second": round(len(answers) / seconds, 1),
            "latency_p50_s": round(statistics.median(latencies), 3),
            "latency_p95_s": round(latencies[max(0, int(len(latencies) * 0.95) - 1)], 3),
            "latency_max_s": round(latencies[-1], 3),
            "calls_failed_by_chaos": sum(cloud.calls_failed_by_chaos.values()) if chaos else 0,
        }


def run(calls: int = CALLS, callers: int = CALLERS) -> dict[str, Any]:
    from localcloud.demos import comprehend_feedback_loop as demo

    with tempfile.TemporaryDirectory() as work:
        assembly = Path(work) / "assembly"
        demo.synthesize(assembly)
        return without_and_with_chaos(
            lambda chaos: run_once(assembly, chaos, calls, callers),
            "calls_per_second",
            calls=calls,
            callers=callers,
            attempts=ATTEMPTS,
        )


def markdown(result: dict[str, Any]) -> list[str]:
    return chaos_section(
        result,
        "## Classify API under load and chaos (ComprehendFeedbackLoop)",
        (
            f"{result['callers']} callers send {result['calls']:,} `POST /classify` requests at "
            f"once, each text different; a 429 or 5xx answer is retried with exponential back-off "
            f"and full jitter, at most {result['attempts']} attempts. Implicit feedback is counted "
            "where it lands (the feedback bucket, then the human loops); measured "
            f"{result['measured']}."
        ),
        (
            "| run | calls | answered | failed after retries | retried | unsure | feedback stored "
            "| missing | duplicated | in human loops (dup.) | AWS calls failed | calls/s | "
            "p50 s | p95 s |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | "
            "---: | ---: |",
        ),
        lambda row: (
            f"{row['calls']:,} | {row['answered']:,} | "
            f"{row['failed_after_retries']} | {row['retried_calls']} | {row['unsure_answers']} | "
            f"{row['feedback_stored']} | {row['feedback_missing']} | "
            f"{row['feedback_duplicated']} | {row['unsure_answers'] - row['loop_items_missing']} "
            f"({row['loop_items_duplicated']}) | {row['calls_failed_by_chaos']:,} | "
            f"{row['calls_per_second']} | {row['latency_p50_s']} | {row['latency_p95_s']}"
        ),
        (
            "The local Lambda runtime runs one invocation at a time, so calls/s is the in-process "
            "handler's rate, not a deployed API's, and latency is mostly the wait for a turn. "
            "Under chaos the API keeps "
            f"{result['throughput_ratio']}x the throughput: the function's SDK clients retry "
            "failed AWS calls inside the invocation, so a caller sees chaos as latency (retried: "
            "calls a caller had to send again after a 429 or 5xx)."
        ),
    )


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
