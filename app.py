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
    env = Environment(
        account=app.node.try_get_context("account"), region=app.node.try_get_context("region")
    )

    def options(slug: str, description: str, synthesizer: bool = True) -> dict[str, Any]:
        """The id, description and environment of a workflow's stack, and its own synthesizer
        (one with the bootstrap version rule: a synthesizer serves one stack)."""
        stack = {"construct_id": stack_id(slug, stage), "description": description, "env": env}
        if synthesizer:
            stack["synthesizer"] = DefaultStackSynthesizer(generate_bootstrap_version_rule=True)
        return stack

    CaptionTranslationStack(
        app,
        settings=config.CaptionSettings.from_context(app.node),
        **options("caption_translation", "Caption translation (WebVTT/SRT) with Amazon Translate"),
    )
    CustomLabelsBatchStack(
        app,
        settings=config.CustomLabelsSettings.from_context(app.node),
        **options(
            "custom_labels_batch",
            "Rekognition Custom Labels batch inference, model running only while needed",
        ),
    )
    lifecycle = ComprehendModelLifecycleStack(
        app,
        settings=config.ComprehendLifecycleSettings.from_context(app.node),
        **options(
            "comprehend_model_lifecycle",
            "Comprehend custom classifier lifecycle: train, evaluate, keep the best model",
        ),
    )
    ComprehendFeedbackLoopStack(
        app,
        settings=config.FeedbackLoopSettings.from_context(app.node),
        training_bucket=lifecycle.training_bucket,
        endpoint_parameter=lifecycle.endpoint_parameter,
        endpoint_name=lifecycle.endpoint_name,
        endpoint_keeper=lifecycle.endpoint_keeper,
        **options(
            "comprehend_feedback_loop",
            "Comprehend active learning: classify API, feedback, human review, retraining",
        ),
    )
    TicketClassificationStack(
        app,
        settings=config.TicketSettings.from_context(app.node),
        **options(
            "ticket_classification",
            "Support tickets classified by operation and resource, stored in Redshift",
        ),
    )
    GlueMlPipelineStack(
        app,
        stage=stage,
        settings=GluePipelineSettings.from_context(app.node),
        # The default synthesizer (a DefaultStackSynthesizer with the bootstrap version rule):
        # one made in Python is bound as a copy the stack's Python code cannot reach, and the
        # stack registers its job wheel with its synthesizer (stacks/glue_job_library.py).
        **options(
            "glue_ml_pipeline",
            "Glue + SageMaker ML pipeline: extract, process, train BlazingText, notify",
            synthesizer=False,
        ),
    )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


if __name__ == "__main__":
    build_app().synth()
