"""`python -m smoke`: the post-deploy smoke check against AWS (see --help)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from smoke import OPT_IN, WORKFLOWS, Result, Settings, Status, new_run_id, run_checks
from smoke.core import AwsEnvironment, Environment

DEFAULT_WORKFLOWS = [name for name in WORKFLOWS if name not in OPT_IN]
OPT_IN_FLAGS = {"custom_labels_batch": "--custom-labels", "glue_ml_pipeline": "--glue"}

DESCRIPTION = """\
Run one small item through each deployed workflow of a stage and print pass, FAIL or skip per
workflow, with where to look when it failed and what the check leaves behind. Uses the default
AWS credentials and region (as the AWS CLI finds them: environment, profile, SSO, role), or
--profile and --region. Stacks are found by name (<Stack>-<stage>); everything else comes from
their CloudFormation outputs.

Checks (all by default, except the two that start billed resources):
{checks}

Waits are bounded (per check, see --wait-minutes). Each check deletes the objects it made
(every version) and says what stays: execution histories, notifications, Firehose staging
objects, and for --glue the run's data and SageMaker jobs.

Exit status: 0 when no selected workflow failed (a workflow skipped because it has no model
yet is not a failure, unless --fail-on-skip), 1 when one failed, 2 on a usage error."""


def _checks_help() -> str:
    lines = []
    for name, workflow in WORKFLOWS.items():
        flag = OPT_IN_FLAGS.get(name, "")
        flag = f" [{flag}]" if flag else ""
        lines.append(f"  {name}{flag} ({workflow.stack}): {workflow.what}")
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="python -m smoke",
        description=DESCRIPTION.format(checks=_checks_help()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parse.add_argument("--stage", default="dev", help="the stage of the stacks (default: dev)")
    parse.add_argument(
        "--workflows",
        help="comma-separated subset to check (default: "
        f"{','.join(DEFAULT_WORKFLOWS)}, plus the opt-in ones asked for)",
    )
    parse.add_argument(
        "--custom-labels",
        action="store_true",
        help="also check CustomLabelsBatch: uploads an image and starts a run of the state "
        "machine at once, which STARTS THE CUSTOM LABELS MODEL (billed per inference unit and "
        "hour while it runs; the run stops it when the queue is empty)",
    )
    parse.add_argument(
        "--glue",
        action="store_true",
        help="also check GlueMlPipeline: runs the whole pipeline on the stack's source (billed "
        "Glue jobs, a SageMaker training job and batch transforms; a better model replaces the "
        "live one on the endpoint); takes up to hours",
    )
    parse.add_argument(
        "--image", type=Path, help="the PNG or JPEG for --custom-labels (default: a generated PNG)"
    )
    parse.add_argument(
        "--wait-minutes",
        type=float,
        help="how long each check waits for its result (default per check: "
        "caption_translation 15, ticket_classification 10, custom_labels_batch 45, "
        "glue_ml_pipeline 240)",
    )
    parse.add_argument("--profile", help="an AWS CLI profile instead of the default credentials")
    parse.add_argument("--region", help="a region instead of the default one")
    parse.add_argument(
        "--fail-on-skip", action="store_true", help="exit 1 when a workflow was skipped, too"
    )
    return parse


def selected(args: argparse.Namespace, parse: argparse.ArgumentParser) -> list[str]:
    opted = [
        name
        for name, asked in (
            ("custom_labels_batch", args.custom_labels),
            ("glue_ml_pipeline", args.glue),
        )
        if asked
    ]
    if not args.workflows:
        return DEFAULT_WORKFLOWS + opted
    # Workflows are named by their slug; `caption-translation` is taken for it too.
    names = [name.strip().replace("-", "_") for name in args.workflows.split(",") if name.strip()]
    unknown = [name for name in names if name not in WORKFLOWS]
    if unknown:
        parse.error(f"unknown workflows {', '.join(unknown)}; choose from {', '.join(WORKFLOWS)}")
    not_asked = [name for name in names if name in OPT_IN and name not in opted]
    if not_asked:
        parse.error(
            f"{', '.join(not_asked)} start billed resources: add "
            f"{' '.join(OPT_IN_FLAGS[name] for name in not_asked)} to run them"
        )
    return names + [name for name in opted if name not in names]


def render(result: Result) -> str:
    width = max(len(name) for name in WORKFLOWS)
    lines = [
        f"{result.status.value:<4}  {result.workflow:<{width}}  {result.stack}: {result.detail} "
        f"({result.seconds:.0f} s)"
    ]
    lines += [f"        look at: {where}" for where in result.look_at]
    lines += [f"        leaves:  {what}" for what in result.leaves]
    return "\n".join(lines)


def main(
    argv: Sequence[str] | None = None,
    env: Environment | None = None,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    parse = parser()
    args = parse.parse_args(argv)
    names = selected(args, parse)
    image = args.image.read_bytes() if args.image else None
    if env is None:
        import boto3

        session = boto3.Session(profile_name=args.profile, region_name=args.region)
        if not session.region_name:
            parse.error("no AWS region: set AWS_REGION, configure a profile's region or --region")
        env = AwsEnvironment(session)
        where = f"region {session.region_name}"
    else:
        where = "the given environment"
    run_id = new_run_id()
    wait = args.wait_minutes * 60 if args.wait_minutes is not None else None
    settings = Settings(run_id=run_id, wait_seconds=wait, image=image)
    err.write(f"smoke check smoke-{run_id} of stage {args.stage} in {where}: {', '.join(names)}\n")
    err.flush()

    def done(result: Result) -> None:
        err.write(f"  {result.workflow}: {result.status.value} ({result.seconds:.0f} s)\n")
        err.flush()

    results = run_checks(env, args.stage, names, settings, on_done=done)
    for result in results:
        out.write(render(result) + "\n")
    counts = {status: sum(r.status is status for r in results) for status in Status}
    out.write(
        f"{counts[Status.PASSED]} passed, {counts[Status.FAILED]} failed, "
        f"{counts[Status.SKIPPED]} skipped\n"
    )
    failed = counts[Status.FAILED] or (args.fail_on_skip and counts[Status.SKIPPED])
    return 1 if failed else 0
