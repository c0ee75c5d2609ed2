"""EvaluateRound (state machine task): both models' metrics on the same test set, and the
decision."""

from __future__ import annotations

from typing import Any

from lambdas.comprehend_model_lifecycle.evaluation import JobResult, evaluate_round
from lambdas.comprehend_model_lifecycle.settings import LifecycleSettings
from lambdas.comprehend_model_lifecycle.tasks import RoundTask
from lambdas.shared.kit import HandlerKit
from lambdas.shared.s3 import ObjectStore

kit = HandlerKit(LifecycleSettings)


@kit.handler(RoundTask)
def handler(task: RoundTask, settings: LifecycleSettings) -> dict[str, Any]:
    jobs = [
        JobResult(job["role"], job["modelArn"], job["jobId"], job["outputUri"])
        for job in task.evaluations
    ]
    store = ObjectStore(kit.clients("s3"), settings.bucket)
    summary = evaluate_round(
        task.round_id, jobs, settings, store, kit.clients("dynamodb"), task.rejected
    )
    kit.metrics.add_metric(name="CandidateScore", unit="None", value=summary["candidateValue"])
    kit.logger.info("round evaluated", decision=summary["decision"], reason=summary["reason"])
    return summary
