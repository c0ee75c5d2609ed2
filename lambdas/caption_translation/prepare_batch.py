"""PrepareBatch (state machine task): validate the batch's files and plan the translation."""

from __future__ import annotations

from typing import Any

from lambdas.caption_translation.planning import prepare_batch
from lambdas.caption_translation.settings import CaptionSettings
from lambdas.caption_translation.tasks import BatchTask
from lambdas.shared.kit import HandlerKit
from lambdas.shared.s3 import ObjectStore

kit = HandlerKit(CaptionSettings)


@kit.handler(BatchTask)
def handler(task: BatchTask, settings: CaptionSettings) -> dict[str, Any]:
    store = ObjectStore(kit.clients("s3"), settings.bucket)
    plan = prepare_batch(task.batch_id, task.execution_name, settings, store)
    kit.count("TranslationJobs", len(plan["jobs"]))
    kit.logger.info(
        "batch prepared", batch_id=plan["batchId"], mode=plan["mode"], jobs=len(plan["jobs"])
    )
    return plan
