"""PrepareRound (state machine task): collect pending uploads and build the candidate's data."""

from __future__ import annotations

from typing import Any

from lambdas.comprehend_model_lifecycle.rounds import prepare_round
from lambdas.comprehend_model_lifecycle.settings import LifecycleSettings
from lambdas.comprehend_model_lifecycle.tasks import RoundTask
from lambdas.shared.kit import HandlerKit
from lambdas.shared.s3 import ObjectStore

kit = HandlerKit(LifecycleSettings)


@kit.handler(RoundTask)
def handler(task: RoundTask, settings: LifecycleSettings) -> dict[str, Any]:
    store = ObjectStore(kit.clients("s3"), settings.bucket)
    plan = prepare_round(task.round_id, settings, store, kit.clients("dynamodb"))
    kit.count("UploadsRejected", len(plan.rejected))
    kit.logger.info(
        "round prepared", round_id=task.round_id, has_data=plan.has_data, reason=plan.reason
    )
    return plan.as_dict(settings, store)
