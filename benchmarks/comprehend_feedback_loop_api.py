"""Classify handler overhead and SSM reads per 1,000 requests (ComprehendFeedbackLoop).

Both stacks are deployed on the local cloud (the demo's configuration), the first model is
trained, and the classify function (the deployed handler, through API Gateway's REST proxy
event) answers the same held-out texts twice, one block after the other (uncached first):

- uncached: the handler with `PARAMETER_MAX_AGE_SECONDS=0`, which reads SSM on every
  request (what a handler calling `ssm.get_parameter` directly does);
- as deployed: the endpoint ARN read with Powertools parameters, cached for
  `PARAMETER_MAX_AGE_SECONDS` (60 s).

The handler's overhead is its invocation time minus the time spent inside the
ClassifyDocument call (measured by botocore's before-call/after-call events around that
call), so the local Comprehend engine's inference time is excluded. SSM calls are counted from
the local cloud's record of every AWS call the function's role made.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from botocore.handlers import BUILTIN_HANDLERS

from benchmarks._classify_api import trained_classify_api

REQUESTS = 400


def run(requests: int = REQUESTS) -> dict[str, Any]:
    from localcloud.cloud import LocalCloud
    from localcloud.demos import comprehend_feedback_loop
    from localcloud.demos.review import SAMPLES, labelled_rows

    inside: list[float] = []
    started: dict[str, float] = {}

    def before(**_: Any) -> None:
        started["call"] = time.perf_counter()

    def after(**_: Any) -> None:
        inside.append(time.perf_counter() - started.pop("call"))

    with tempfile.TemporaryDirectory() as work:
        out = Path(work)
        comprehend_feedback_loop.synthesize(out / "assembly")
        BUILTIN_HANDLERS.append(("before-call.comprehend.ClassifyDocument", before))
        BUILTIN_HANDLERS.append(("after-call.comprehend.ClassifyDocument", after))
        try:
            with LocalCloud(out / "assembly", work_dir=out / "cloud") as cloud:
                api = trained_classify_api(cloud, settle_seconds=600)
                stack, gateway, key, name = api.stack, api.gateway, api.key, api.function
                texts = [text for _, text in labelled_rows(SAMPLES / "holdout.csv")]
                config = cloud.runtime.functions[name]
                results = {}
                # Uncached first: a value Powertools cached for 60 s would be served to the
                # uncached block too (max_age applies when a value is stored, not when read).
                for mode, max_age in (("uncached", "0"), ("cached", "60")):
                    config.environment["PARAMETER_MAX_AGE_SECONDS"] = max_age
                    results[mode] = _measure(
                        cloud, gateway, str(stack.outputs["ApiUrl"]), key, name, texts,
                        requests, inside,
                    )  # fmt: skip
                cloud.settle(timeout=600)
        finally:
            BUILTIN_HANDLERS.remove(("before-call.comprehend.ClassifyDocument", before))
            BUILTIN_HANDLERS.remove(("after-call.comprehend.ClassifyDocument", after))
    cached, uncached = results["cached"], results["uncached"]
    return {
        "requests": requests,
        "cached": cached,
        "uncached": uncached,
        "ssm_calls_ratio": round(
            uncached["ssm_calls_per_1000"] / max(cached["ssm_calls_per_1000"], 0.001), 1
        ),
        "overhead_ratio": round(uncached["overhead_ms_median"] / cached["overhead_ms_median"], 2),
    }


def _measure(cloud: Any, gateway: Any, url: str, key: str, function: str, texts: list[str],
             requests: int, inside: list[float]) -> dict[str, Any]:  # fmt: skip
    def ssm_calls() -> int:
        role = cloud.runtime.functions[function].role_arn
        return sum(
            1
            for call in cloud.recorder.calls()
            if call.principal == role and call.operation == "GetParameter"
        )

    before_calls = ssm_calls()
    overheads, totals = [], []
    for number in range(requests):
        inside.clear()
        invocations = len(cloud.runtime.invocations)
        response = gateway.request(
            "POST", url + "classify", headers={"x-api-key": key},
            body=json.dumps({"classifier": "news", "text": texts[number % len(texts)]}),
        )  # fmt: skip
        if response.status != 200:
            raise RuntimeError(f"classify answered {response.status}: {response.body}")
        (result,) = [r for n, _, r in cloud.runtime.invocations[invocations:] if n == function]
        total = result.duration_ms / 1000
        totals.append(total)
        overheads.append(total - sum(inside))
    calls = ssm_calls() - before_calls
    return {
        "overhead_ms_median": round(statistics.median(overheads) * 1000, 3),
        "overhead_ms_p90": round(statistics.quantiles(overheads, n=10)[-1] * 1000, 3),
        "handler_ms_median": round(statistics.median(totals) * 1000, 3),
        "ssm_calls": calls,
        "ssm_calls_per_1000": round(calls * 1000 / requests, 1),
    }


def markdown(r: dict[str, Any]) -> list[str]:
    c, u = r["cached"], r["uncached"]
    return [
        "## Classify API: handler overhead and SSM reads (ComprehendFeedbackLoop)",
        "",
        f"{r['requests']} `POST /classify` requests per mode through the local API Gateway, "
        "the deployed handler, one block after the other (uncached first). Overhead is the "
        "handler's time minus the time inside its ClassifyDocument call; a GetParameter call "
        "answered by the in-process local cloud costs well under a millisecond, far less than "
        "the network round trip it costs on AWS, so the overhead ratio is a lower bound.",
        "",
        "| endpoint ARN from SSM | overhead ms (median) | overhead ms (p90) | "
        "handler ms (median) | GetParameter calls per 1,000 requests |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| cached 60 s (as deployed) | {c['overhead_ms_median']} | {c['overhead_ms_p90']} | "
        f"{c['handler_ms_median']} | {c['ssm_calls_per_1000']} |",
        f"| read every request | {u['overhead_ms_median']} | {u['overhead_ms_p90']} | "
        f"{u['handler_ms_median']} | {u['ssm_calls_per_1000']} |",
        "",
        f"Caching makes {r['ssm_calls_ratio']}x fewer SSM calls and the uncached handler's "
        f"overhead is {r['overhead_ratio']}x the cached one's. The cached block ran for a few "
        "seconds, within one 60 s cache period: on AWS each warm execution environment reads "
        "the parameter once a minute, so under steady traffic the count per 1,000 requests "
        "is (environments x minutes) / (requests / 1,000).",
        "",
    ]
