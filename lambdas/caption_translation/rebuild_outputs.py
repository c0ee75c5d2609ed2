"""RebuildOutputs (state machine task): caption files from batch translation job output."""

from __future__ import annotations

from typing import Any

from lambdas.caption_translation.settings import CaptionSettings
from lambdas.caption_translation.tasks import BatchTask, count_outcomes
from lambdas.caption_translation.translation import rebuild_outputs
from lambdas.caption_translation.translator import translator_factory
from lambdas.shared.kit import HandlerKit
from lambdas.shared.s3 import ObjectStore

kit = HandlerKit(CaptionSettings)


@kit.handler(BatchTask)
def handler(task: BatchTask, settings: CaptionSettings) -> dict[str, Any]:
    translate = kit.clients("translate")

    def describe_job(job_id: str) -> dict[str, Any]:
        response = translate.describe_text_translation_job(JobId=job_id)
        return dict(response["TextTranslationJobProperties"])

    summary = rebuild_outputs(
        task.batch_id,
        task.jobs,
        ObjectStore(kit.clients("s3"), settings.bucket),
        translator_factory(translate, settings.terminology_names),
        describe_job,
    )
    return count_outcomes(kit, summary, "batch rebuilt")
