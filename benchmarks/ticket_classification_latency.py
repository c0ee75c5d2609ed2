"""Per-ticket classification latency: both endpoints at once against one after the other.

On the local cloud, with the operation and resource classifiers trained from the samples, each
ClassifyDocument call is given an emulated endpoint latency (`ENDPOINT_LATENCY_S`, slept by
the local engine before it answers). The classifier's own code classifies the same tickets
both ways, interleaved ticket by ticket so machine load falls on both alike: `classify` (the
two calls concurrently, as TicketClassifier does) and `classify_sequentially`. The full
TicketClassifier invocation (validation, the two calls, DynamoDB, Firehose, the asynchronous
hand-over) is timed too, for scale.

    .venv/bin/python -m benchmarks.ticket_classification_latency
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lambdas.ticket_classification.classification import classify, classify_sequentially
from lambdas.ticket_classification.tickets import parse_ticket

ENDPOINT_LATENCY_S = 0.1  # an assumption: real-time endpoints answer in about this time
TICKETS = 30


def _with_latency(engine: Any, seconds: float) -> None:
    original = engine.handle

    def handle(operation: str, params: dict[str, Any], ctx: Any) -> dict[str, Any]:
        if operation == "ClassifyDocument":
            time.sleep(seconds)
        return dict(original(operation, params, ctx))

    engine.handle = handle


def run(
    assembly: Path, tickets: int = TICKETS, latency: float = ENDPOINT_LATENCY_S
) -> dict[str, Any]:
    from localcloud.cloud import LocalCloud
    from localcloud.demos.ticket_classification import deploy, sample_tickets, train_endpoints

    with tempfile.TemporaryDirectory() as work, LocalCloud(assembly, work_dir=work) as cloud:
        stack = deploy(cloud)
        endpoints = train_endpoints(cloud, stack)
        arns = (endpoints["operation"], endpoints["resource"])
        _with_latency(cloud.comprehend, latency)
        comprehend = cloud.client("comprehend")
        pool = ThreadPoolExecutor(max_workers=2)
        samples = sample_tickets(tickets, seed=101)
        concurrent, sequential, handler = [], [], []
        for sample in samples:
            text = parse_ticket(sample.event()).text
            started = time.perf_counter()
            both = classify(comprehend, text, arns, pool)
            concurrent.append(time.perf_counter() - started)
            started = time.perf_counter()
            one_by_one = classify_sequentially(comprehend, text, arns)
            sequential.append(time.perf_counter() - started)
            if both != one_by_one:
                raise RuntimeError(f"{sample.ticket_id}: the two ways disagree")
            started = time.perf_counter()
            stack.classify(sample.event())
            handler.append(time.perf_counter() - started)
        pool.shutdown()
    concurrent_ms = statistics.median(concurrent) * 1000
    sequential_ms = statistics.median(sequential) * 1000
    return {
        "tickets": tickets,
        "endpoint_latency_ms": round(latency * 1000),
        "concurrent_median_ms": round(concurrent_ms, 1),
        "sequential_median_ms": round(sequential_ms, 1),
        "speedup": round(sequential_ms / concurrent_ms, 2),
        "handler_median_ms": round(statistics.median(handler) * 1000, 1),
    }


def markdown(r: dict[str, Any]) -> list[str]:
    return [
        "## Ticket classification latency (two endpoints)",
        "",
        f"{r['tickets']} tickets on the local cloud, each ClassifyDocument call given "
        f"{r['endpoint_latency_ms']} ms of emulated endpoint latency; the two ways interleaved "
        "ticket by ticket (medians):",
        "",
        "| operation and resource endpoints | ms per ticket |",
        "| --- | ---: |",
        f"| concurrently (TicketClassifier) | {r['concurrent_median_ms']} |",
        f"| one after the other | {r['sequential_median_ms']} |",
        "",
        f"Calling both endpoints at once is {r['speedup']}x faster per ticket. The whole "
        f"TicketClassifier invocation on the local cloud takes {r['handler_median_ms']} ms "
        "(median), including DynamoDB, Firehose and the asynchronous hand-over.",
        "",
    ]


if __name__ == "__main__":
    root = Path(__file__).resolve().parents[1]
    assembly_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else root / "cdk.out"
    print(json.dumps(run(assembly_dir), indent=2))
