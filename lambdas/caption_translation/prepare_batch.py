"""PrepareBatch (state machine task): validate the batch's files and plan the translation."""

from __future__ import annotations

from typing import Any

from lambdas.caption_translation.planning import prepare_batch
from lambdas.caption_translation.settings import CaptionSettings
from lambdas.caption_translation.tasks import BatchTask
from lambdas.caption_translation.terminology import never_translate_terms
from lambdas.shared.kit import HandlerKit
from lambdas.shared.s3 import ObjectStore

kit = HandlerKit(CaptionSettings)


@kit.handler(BatchTask)
def handler(task: BatchTask, settings: CaptionSettings) -> dict[str, Any]:
    store = ObjectStore(kit.clients("s3"), settings.bucket)
    terms = None
    if settings.terminology_names:

        def terms(source: str, targets: tuple[str, ...]) -> dict[str, list[str]]:
            return never_translate_terms(
                kit.clients("translate"), settings.terminology_names, source, targets
            )

    plan = prepare_batch(task.batch_id, task.execution_name, settings, store, terms)
    kit.count("TranslationJobs", len(plan["jobs"]))
    kit.logger.info(
        "batch prepared", batch_id=plan["batchId"], mode=plan["mode"], jobs=len(plan["jobs"])
    )
    return plan
