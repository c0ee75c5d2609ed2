"""CDK stacks: one module per workflow, named by the workflow's slug (`stacks/<slug>.py`);
`stacks.constructs` holds the few shared constructs.

A slug names a workflow everywhere: its stack module, handler package (`lambdas/<slug>/`),
state machines (`statemachines/<slug>*.asl.json`), demo, samples, tests, benchmarks, docs and
context keys (`<slug>:<setting>`). Its stack is `<SlugInPascalCase>-<stage>`.
"""

from __future__ import annotations

import hashlib

WORKFLOWS = (
    "caption_translation",
    "custom_labels_batch",
    "comprehend_model_lifecycle",
    "comprehend_feedback_loop",
    "ticket_classification",
    "glue_ml_pipeline",
)


def stack_id(slug: str, stage: str) -> str:
    """`caption_translation`, `dev` -> `CaptionTranslation-dev`."""
    if slug not in WORKFLOWS:
        raise ValueError(f"unknown workflow {slug!r}; choose from {', '.join(WORKFLOWS)}")
    return "".join(word.capitalize() for word in slug.split("_")) + f"-{stage}"


def stack_digest(stack_name: str) -> str:
    """Eight hex digits of the stack's name, for the names a workflow gives what it creates at
    run time (classifiers, endpoints, warehouses): short, and apart for every stage."""
    return hashlib.sha256(stack_name.encode()).hexdigest()[:8]
