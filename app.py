#!/usr/bin/env python3
"""The CDK application: one stack per workflow, named `<Workflow>-<stage>`.

    cdk synth -c stage=dev
    cdk deploy CaptionTranslation-dev -c caption_translation:targetLanguages=es,fr,de

cdk-nag's AwsSolutions checks run on every synth; every acknowledgment sits on the narrowest
construct with its reason.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_cdk import App, DefaultStackSynthesizer, Environment, Validations
from cdk_nag import AwsSolutionsChecks

from stacks import config, stack_id
from stacks.caption_translation import CaptionTranslationStack
from stacks.comprehend_feedback_loop import ComprehendFeedbackLoopStack
from stacks.comprehend_model_lifecycle import ComprehendModelLifecycleStack
from stacks.custom_labels_batch import CustomLabelsBatchStack
from stacks.glue_ml_pipeline import GlueMlPipelineStack
from stacks.glue_ml_pipeline_settings import GluePipelineSettings
from stacks.ticket_classification import TicketClassificationStack


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
        stack_id("caption_translation", stage),
        settings=config.CaptionSettings.from_context(app.node),
        description="Caption translation (WebVTT/SRT) with Amazon Translate",
        synthesizer=DefaultStackSynthesizer(**synthesizer_options),
        env=env,
    )
    CustomLabelsBatchStack(
        app,
        stack_id("custom_labels_batch", stage),
        settings=config.CustomLabelsSettings.from_context(app.node),
        description="Rekognition Custom Labels batch inference, model running only while needed",
        synthesizer=DefaultStackSynthesizer(**synthesizer_options),
        env=env,
    )
    lifecycle = ComprehendModelLifecycleStack(
        app,
        stack_id("comprehend_model_lifecycle", stage),
        settings=config.ComprehendLifecycleSettings.from_context(app.node),
        description="Comprehend custom classifier lifecycle: train, evaluate, keep the best model",
        synthesizer=DefaultStackSynthesizer(**synthesizer_options),
        env=env,
    )
    ComprehendFeedbackLoopStack(
        app,
        stack_id("comprehend_feedback_loop", stage),
        settings=config.FeedbackLoopSettings.from_context(app.node),
        training_bucket=lifecycle.training_bucket,
        endpoint_parameter=lifecycle.endpoint_parameter,
        endpoint_name=lifecycle.endpoint_name,
        endpoint_keeper=lifecycle.endpoint_keeper,
        description="Comprehend active learning: classify API, feedback, human review, retraining",
        synthesizer=DefaultStackSynthesizer(**synthesizer_options),
        env=env,
    )
    TicketClassificationStack(
        app,
        stack_id("ticket_classification", stage),
        settings=config.TicketSettings.from_context(app.node),
        description="Support tickets classified by operation and resource, stored in Redshift",
        synthesizer=DefaultStackSynthesizer(**synthesizer_options),
        env=env,
    )
    GlueMlPipelineStack(
        app,
        stack_id("glue_ml_pipeline", stage),
        stage=stage,
        settings=GluePipelineSettings.from_context(app.node),
        description="Glue + SageMaker ML pipeline: extract, process, train BlazingText, notify",
        # The default synthesizer (a DefaultStackSynthesizer with the bootstrap version rule):
        # one made in Python is bound as a copy the stack's Python code cannot reach, and the
        # stack registers its job wheel with its synthesizer (stacks/glue_job_library.py).
        env=env,
    )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


if __name__ == "__main__":
    build_app().synth()
