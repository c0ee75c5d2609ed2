#!/usr/bin/env python3
"""The CDK application: one stack per workflow, named `<Workflow>-<stage>`.

    cdk synth -c stage=dev
    cdk deploy CaptionTranslation-dev -c captions:targetLanguages=es,fr,de

cdk-nag's AwsSolutions checks run on every synth; every acknowledgment sits on the narrowest
construct with its reason.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_cdk import App, DefaultStackSynthesizer, Environment, Validations
from cdk_nag import AwsSolutionsChecks

from stacks import config
from stacks.caption_translation import CaptionTranslationStack
from stacks.comprehend_model_lifecycle import ComprehendModelLifecycleStack
from stacks.custom_labels_batch import CustomLabelsBatchStack


def cdk_json_context() -> dict[str, Any]:
    """The context in cdk.json, for synthesizing in-process the way the CDK CLI does."""
    cdk_json = json.loads((Path(__file__).parent / "cdk.json").read_text(encoding="utf-8"))
    return dict(cdk_json["context"])


def build_app(app: App | None = None) -> App:
    app = app or App()
    stage = config.stage(app.node)
    synthesizer_options = {"generate_bootstrap_version_rule": True}
    env = Environment(
        account=app.node.try_get_context("account"), region=app.node.try_get_context("region")
    )
    CaptionTranslationStack(
        app,
        f"CaptionTranslation-{stage}",
        settings=config.CaptionSettings.from_context(app.node),
        description="Caption translation (WebVTT/SRT) with Amazon Translate",
        synthesizer=DefaultStackSynthesizer(**synthesizer_options),
        env=env,
    )
    CustomLabelsBatchStack(
        app,
        f"CustomLabelsBatch-{stage}",
        settings=config.CustomLabelsSettings.from_context(app.node),
        description="Rekognition Custom Labels batch inference, model running only while needed",
        synthesizer=DefaultStackSynthesizer(**synthesizer_options),
        env=env,
    )
    ComprehendModelLifecycleStack(
        app,
        f"ComprehendModelLifecycle-{stage}",
        settings=config.ComprehendLifecycleSettings.from_context(app.node),
        description="Comprehend custom classifier lifecycle: train, evaluate, keep the best model",
        synthesizer=DefaultStackSynthesizer(**synthesizer_options),
        env=env,
    )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


if __name__ == "__main__":
    build_app().synth()
