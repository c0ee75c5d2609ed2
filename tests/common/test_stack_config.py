"""CDK context settings are validated at synth time, with the reason in the error."""

from __future__ import annotations

from typing import Any

import pytest

from lambdas.shared.errors import ConfigurationError
from stacks.config import CaptionSettings, stage


class FakeNode:
    def __init__(self, **context: Any) -> None:
        self.context = context

    def try_get_context(self, key: str) -> Any:
        return self.context.get(key)


def settings(**context: Any) -> CaptionSettings:
    return CaptionSettings.from_context(FakeNode(**context))  # type: ignore[arg-type]


def test_defaults_translate_english_to_spanish_in_real_time_under_200_kb() -> None:
    result = settings()
    assert (result.source_language, result.target_languages) == ("en", ("es",))
    assert (result.trigger_file, result.realtime_max_bytes) == ("triggerfile", 200_000)
    assert (result.poll_interval_seconds, result.max_polls) == (60, 720)


def test_target_languages_accept_lists_and_comma_strings_and_drop_duplicates() -> None:
    assert settings(**{"caption_translation:targetLanguages": "de, ja,de"}).target_languages == (
        "de",
        "ja",
    )
    assert settings(**{"caption_translation:targetLanguages": ["fr-CA"]}).target_languages == (
        "fr-CA",
    )


@pytest.mark.parametrize(
    ("context", "message"),
    [
        (
            {"caption_translation:sourceLanguage": "english"},
            "unsupported source language code 'english'",
        ),
        ({"caption_translation:targetLanguages": "es,klingon"}, "klingon"),
        ({"caption_translation:targetLanguages": "en"}, "include the source language"),
        ({"caption_translation:targetLanguages": ""}, "at least one target language"),
        ({"caption_translation:terminologyNames": "a,b"}, "at most one custom terminology"),
        ({"caption_translation:triggerFile": "../trigger"}, "plain file name"),
        ({"caption_translation:realtimeMaxBytes": "lots"}, "must be an integer"),
        ({"caption_translation:maxPolls": 0}, "between 1 and 10000"),
        (
            {"caption_translation:pollIntervalSeconds": 3600, "caption_translation:maxPolls": 100},
            "24-hour",
        ),
    ],
)
def test_bad_settings_fail_with_the_reason(context: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(")):
        settings(**context)


def test_stage_names_are_short_lowercase_words() -> None:
    assert stage(FakeNode(stage="prod")) == "prod"  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="stage must match"):
        stage(FakeNode(stage="Prod_1"))  # type: ignore[arg-type]


def test_endpoints_scale_to_zero_on_the_dev_stage_and_stay_on_elsewhere() -> None:
    from stacks.config import ComprehendLifecycleSettings, TicketSettings
    from stacks.glue_ml_pipeline_settings import GluePipelineSettings

    def lifecycle(**context: Any) -> ComprehendLifecycleSettings:
        return ComprehendLifecycleSettings.from_context(FakeNode(**context))  # type: ignore[arg-type]

    assert lifecycle().endpoint_policy.mode == "scale-to-zero"  # no stage: dev
    assert lifecycle(stage="prod").endpoint_policy.mode == "always-on"
    chosen = lifecycle(
        stage="prod",
        **{
            "comprehend_model_lifecycle:endpointPolicy": "schedule",
            "comprehend_model_lifecycle:businessDays": "MON-THU",
            "comprehend_model_lifecycle:businessTimeZone": "Europe/Paris",
        },
    ).endpoint_policy
    assert (chosen.mode, chosen.hours.days, chosen.hours.time_zone) == (
        "schedule",
        (0, 1, 2, 3),
        "Europe/Paris",
    )
    tickets = TicketSettings.from_context(FakeNode(stage="dev"))  # type: ignore[arg-type]
    assert tickets.endpoint_policy.mode == "scale-to-zero"
    glue = GluePipelineSettings.from_context(FakeNode(stage="dev"))  # type: ignore[arg-type]
    assert glue.serverless and glue.serverless_memory_mib == 2048
    assert not GluePipelineSettings.from_context(FakeNode(stage="test")).serverless  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"comprehend_model_lifecycle:endpointPolicy": "sometimes"},
         "comprehend_model_lifecycle:endpointPolicy must be one of"),
        ({"comprehend_model_lifecycle:idleMinutes": -1},
         "comprehend_model_lifecycle:idleMinutes must be between 0 and 1440"),
        ({"comprehend_model_lifecycle:businessStartHour": 18,
          "comprehend_model_lifecycle:businessEndHour": 9}, "must be after businessStartHour"),
    ],
)  # fmt: skip
def test_a_bad_endpoint_policy_fails_synth_naming_the_key(
    context: dict[str, Any], message: str
) -> None:
    from stacks.config import ComprehendLifecycleSettings

    with pytest.raises(ConfigurationError, match=message):
        ComprehendLifecycleSettings.from_context(FakeNode(**context))  # type: ignore[arg-type]


def test_the_pipeline_offers_no_schedule_for_its_serverless_endpoint() -> None:
    from stacks.glue_ml_pipeline_settings import GluePipelineSettings

    node = FakeNode(**{"glue_ml_pipeline:endpointPolicy": "schedule"})
    with pytest.raises(ConfigurationError, match="serverless under scale-to-zero"):
        GluePipelineSettings.from_context(node)  # type: ignore[arg-type]
    memory = FakeNode(**{"glue_ml_pipeline:serverlessMemoryMiB": 1500})
    with pytest.raises(ConfigurationError, match="multiple of 1024"):
        GluePipelineSettings.from_context(memory)  # type: ignore[arg-type]
