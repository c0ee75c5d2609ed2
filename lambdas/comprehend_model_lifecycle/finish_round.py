"""FinishRound (state machine task): promote or keep the round's data; tidy up models."""

from __future__ import annotations

from typing import Any

from lambdas.comprehend_model_lifecycle.models import clean_up_models, discard
from lambdas.comprehend_model_lifecycle.rounds import finish_round
from lambdas.comprehend_model_lifecycle.settings import LifecycleSettings
from lambdas.comprehend_model_lifecycle.tasks import RoundTask
from lambdas.shared.kit import HandlerKit
from lambdas.shared.s3 import ObjectStore

kit = HandlerKit(LifecycleSettings)


@kit.handler(RoundTask)
def handler(task: RoundTask, settings: LifecycleSettings) -> dict[str, Any]:
    store = ObjectStore(kit.clients("s3"), settings.bucket)
    finish_round(task.round_id, task.decision, settings, store)
    comprehend = kit.clients("comprehend")
    candidate = task.candidate_arn
    deleted: list[str] = []
    if task.decision == "promoted":
        deleted = clean_up_models(
            comprehend, settings.classifier_name, candidate, settings.retain_models
        )
    elif discard(comprehend, candidate):
        deleted = [str(candidate)]
    kit.count("ModelsDeleted", len(deleted))
    kit.logger.info("round finished", decision=task.decision, deleted=deleted)
    return {"decision": task.decision, "deletedModels": deleted}
