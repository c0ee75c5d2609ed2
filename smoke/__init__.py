"""Post-deploy smoke check: one small item through each deployed workflow.

    python -m smoke --stage dev [--workflows caption_translation,tickets] [--custom-labels] [--glue]

Every check finds its stack by name (`<Stack>-<stage>`) and everything else from the stack's
CloudFormation outputs, runs one item through the workflow as a user would, waits (bounded) for
the result, removes the objects it made, and returns a `Result`: passed, failed or skipped,
what happened, where to look when it failed, and what it leaves behind. `run_checks` runs the
selected checks side by side; the same code runs against AWS (`AwsEnvironment`) and, in the
tests, against the local cloud.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from botocore.exceptions import ClientError

from smoke import (
    caption_translation,
    comprehend_feedback_loop,
    comprehend_model_lifecycle,
    custom_labels_batch,
    glue_ml_pipeline,
    ticket_classification,
)
from smoke.core import (
    AwsEnvironment,
    Environment,
    MissingOutputError,
    Result,
    Settings,
    StackNotFoundError,
    StackOutputs,
    Status,
    error_text,
    stack_outputs,
)

__all__ = [
    "OPT_IN",
    "WORKFLOWS",
    "AwsEnvironment",
    "Environment",
    "Result",
    "Settings",
    "Status",
    "Workflow",
    "new_run_id",
    "run_checks",
]

Check = Callable[[Environment, StackOutputs, Settings], Result]


@dataclass(frozen=True)
class Workflow:
    name: str
    stack: str  # the stack's name without the stage
    check: Check
    what: str


WORKFLOWS: dict[str, Workflow] = {
    w.name: w
    for w in (
        Workflow(
            caption_translation.WORKFLOW,
            caption_translation.STACK,
            caption_translation.check,
            "a 3-cue WebVTT file and the trigger file; every target language's output",
        ),
        Workflow(
            custom_labels_batch.WORKFLOW,
            custom_labels_batch.STACK,
            custom_labels_batch.check,
            "an image and a run started at once; its labels (starts the billed model)",
        ),
        Workflow(
            comprehend_model_lifecycle.WORKFLOW,
            comprehend_model_lifecycle.STACK,
            comprehend_model_lifecycle.check,
            "the live endpoint is in service (read only)",
        ),
        Workflow(
            comprehend_feedback_loop.WORKFLOW,
            comprehend_feedback_loop.STACK,
            comprehend_feedback_loop.check,
            "POST /classify with the stack's API key",
        ),
        Workflow(
            ticket_classification.WORKFLOW,
            ticket_classification.STACK,
            ticket_classification.check,
            "a ticket through TicketClassifier; its recommendation and warehouse row",
        ),
        Workflow(
            glue_ml_pipeline.WORKFLOW,
            glue_ml_pipeline.STACK,
            glue_ml_pipeline.check,
            "a run of the Glue workflow; every job and the run's message (billed)",
        ),
    )
}
# Checks that start billed resources run only when asked for by name.
OPT_IN = frozenset({custom_labels_batch.WORKFLOW, glue_ml_pipeline.WORKFLOW})


def new_run_id() -> str:
    """Unique per run, valid in S3 keys, execution names, ticket ids: `20260105t101500-1a2b`."""
    return f"{datetime.now(UTC).strftime('%Y%m%dt%H%M%S')}-{secrets.token_hex(2)}"


def run_checks(
    env: Environment,
    stage: str,
    names: Sequence[str],
    settings: Settings,
    on_done: Callable[[Result], None] = lambda _: None,
) -> list[Result]:
    """Run the named checks side by side; results in the order asked."""
    unknown = [name for name in names if name not in WORKFLOWS]
    if unknown:
        raise ValueError(f"unknown workflows {unknown}; choose from {', '.join(WORKFLOWS)}")

    def one(name: str) -> Result:
        result = _run_one(env, WORKFLOWS[name], stage, settings)
        on_done(result)
        return result

    if not names:
        return []
    with ThreadPoolExecutor(max_workers=len(names), thread_name_prefix="smoke") as pool:
        return list(pool.map(one, names))


def _run_one(env: Environment, workflow: Workflow, stage: str, settings: Settings) -> Result:
    stack = f"{workflow.stack}-{stage}"
    started = time.monotonic()
    try:
        outputs = stack_outputs(env, stack)
        result = workflow.check(env, outputs, settings)
    except StackNotFoundError as error:
        result = Result(
            workflow.name,
            stack,
            Status.FAILED,
            f"stack not found ({error}): deploy it, or leave this workflow out with --workflows",
            ("aws cloudformation describe-stacks (the account and region of your credentials)",),
        )
    except MissingOutputError as error:
        result = Result(workflow.name, stack, Status.FAILED, str(error), (f"stack {stack}",))
    except ClientError as error:
        result = Result(
            workflow.name,
            stack,
            Status.FAILED,
            f"{error.operation_name} failed: {error_text(error)}",
            (f"stack {stack} (its resources and outputs); the permissions of your credentials",),
        )
    except Exception as error:  # one broken check must not hide the others' results
        result = Result(
            workflow.name,
            stack,
            Status.FAILED,
            f"the check stopped: {type(error).__name__}: {error}",
            (f"stack {stack}",),
        )
    return replace(result, seconds=round(time.monotonic() - started, 1))
