"""TranslateRealtime (state machine task): translate a small batch with TranslateText."""

from __future__ import annotations

from typing import Any

from lambdas.caption_translation.settings import CaptionSettings
from lambdas.caption_translation.tasks import BatchTask, count_outcomes
from lambdas.caption_translation.translation import translate_realtime
from lambdas.caption_translation.translator import translator_factory
from lambdas.shared.kit import HandlerKit
from lambdas.shared.s3 import ObjectStore

kit = HandlerKit(CaptionSettings)


@kit.handler(BatchTask)
def handler(task: BatchTask, settings: CaptionSettings) -> dict[str, Any]:
    summary = translate_realtime(
        task.batch_id,
        ObjectStore(kit.clients("s3"), settings.bucket),
        translator_factory(kit.clients("translate"), settings.terminology_names),
    )
    return count_outcomes(kit, summary, "batch translated in real time")
