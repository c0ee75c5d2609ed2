"""EvaluateRound (state machine task): both models' metrics on the same test set, and the
decision."""

from __future__ import annotations

from typing import Any

from lambdas.comprehend_model_lifecycle.evaluation import JobResult, evaluate_round
from lambdas.comprehend_model_lifecycle.settings import LifecycleSettings
from lambdas.shared.aws import ClientCache
from lambdas.shared.observability import observability
from lambdas.shared.s3 import ObjectStore

logger, tracer, metrics = observability()
clients = ClientCache()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = LifecycleSettings.from_env()
    jobs = [
        JobResult(job["role"], job["modelArn"], job["jobId"], job["outputUri"])
        for job in event["evaluations"]
    ]
    summary = evaluate_round(
        event["roundId"], jobs, settings, ObjectStore(clients("s3"), settings.bucket),
        clients("dynamodb"), event.get("rejected", []),
    )  # fmt: skip
    metrics.add_metric(name="CandidateScore", unit="None", value=summary["candidateValue"])
    logger.info("round evaluated", decision=summary["decision"], reason=summary["reason"])
    return summary
