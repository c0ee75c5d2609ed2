"""Command line of the local cloud. Workflows are named by their slug (hyphens work too).

    python -m localcloud demo caption_translation [--input DIR] [--source en] [--targets es,fr] \\
        [--faults merge,drop,reorder,throttle,expand] [--out DIR]
    python -m localcloud demo custom_labels_batch [--images DIR] [--faults throttle,corrupt]
    python -m localcloud demo comprehend_model_lifecycle
    python -m localcloud demo comprehend_feedback_loop [--rounds 3] [--sentences CSV]
    python -m localcloud demo ticket_classification [--count 40]
    python -m localcloud demo glue_ml_pipeline [--rows N]
    python -m localcloud demo all [--out demo-output]
    python -m localcloud report ticket_classification --out DIR [--warehouse PATH]
    python -m localcloud review-portal [--port 8085]
    python -m localcloud cost [--stage dev] [--json | --markdown | --update-readme]
    python -m localcloud event events/<slug>/<module>/<case>.json --stage dev [--region R]
    python -m localcloud serve [--port 4566] [--host 127.0.0.1] [--state DIR] [--stack NAME]

`serve` deploys every stack of the assembly (synthesized for stage `test` when missing) and
answers the AWS APIs on one HTTP endpoint for the `aws` CLI and boto3 (`--endpoint-url`) until
Ctrl-C (`localcloud.serve`, `localcloud.server`); `--state DIR` keeps the stacks' data across
restarts (`localcloud.state`).

`demo`, `review-portal` and `serve` take `--chaos RATE[:SEED]`: each AWS call fails with probability
RATE (0 to 1) with the throttling or internal error AWS answers that operation with, drawn from
SEED so a run can be replayed (`localcloud.core.chaos`); `--chaos-after-effect SHARE` makes that
share of the failures happen after the call took effect. A demo's JSON line then reports
`callsFailedByChaos` (per operation: `callsFailedByChaosByOperation`; of those, the calls that
took effect: `callsFailedAfterTakingEffect`).
Each demo writes under `demo-output/<slug>/` unless `--out` says otherwise. Progress goes to
stderr; the last line on stdout is the demo's JSON result, with `costUsd`: what the run would
have cost on AWS, priced from the local engines' meters.

`event` prints a test event with the local cloud's resource names replaced by those of the
deployed stack of that stage (read with your AWS credentials), ready for `aws lambda invoke`.

`cost` synthesizes the app for the stage and prints each workflow's fixed monthly cost and cost
per item from `localcloud/prices.json`; `--markdown` prints the README's "Costs" section and
`--update-readme` writes it there.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from localcloud.cloud import REPO_ROOT
from localcloud.core.chaos import (
    ChaosRun,
    ChaosSettings,
    ChaosSpecError,
    chaos_run,
    default_settings,
)

FAULT_MODES = ("merge", "drop", "reorder", "throttle", "expand")
SAMPLES = REPO_ROOT / "samples"


def _faults(text: str, allowed: tuple[str, ...] | frozenset[str]) -> list[str]:
    faults = [f for f in (text or "").split(",") if f]
    unknown = sorted(set(faults) - set(allowed))
    if unknown:
        raise SystemExit(f"unknown fault modes {unknown}; choose from {', '.join(sorted(allowed))}")
    return faults


def caption_translation(args: argparse.Namespace) -> dict[str, object]:
    from localcloud.demos import caption_translation as demo

    result = demo.run(
        input_dir=Path(args.input),
        out_dir=Path(args.out),
        source=args.source,
        targets=[t for t in args.targets.split(",") if t],
        faults=_faults(args.faults, FAULT_MODES),
        assembly_dir=Path(args.assembly),
    )
    return result.as_line()


def custom_labels_batch(args: argparse.Namespace) -> dict[str, object]:
    from localcloud.demos import custom_labels_batch as demo

    faults = _faults(args.faults, tuple(demo.FAULTS))
    return demo.run(Path(args.assembly), Path(args.out), Path(args.images), faults)


def comprehend_model_lifecycle(args: argparse.Namespace) -> dict[str, object]:
    from localcloud.demos import comprehend_model_lifecycle as demo

    uploads = [Path(name) for name in args.training] if args.training else None
    for path in uploads or []:
        if not path.is_file():
            raise SystemExit(f"--training {path}: no such file")
    if uploads is None:
        return demo.run(Path(args.assembly), Path(args.out))
    return demo.run(Path(args.assembly), Path(args.out), uploads)


def comprehend_feedback_loop(args: argparse.Namespace) -> dict[str, object]:
    from localcloud.demos import comprehend_feedback_loop as demo

    if not 1 <= args.rounds <= 10:
        raise SystemExit("--rounds must be between 1 and 10")
    if args.sentences is None:
        return demo.run(Path(args.out), rounds=args.rounds)
    try:
        stream = demo.read_sentences(Path(args.sentences))
    except ValueError as error:
        raise SystemExit(f"--sentences {args.sentences}: {error}") from None
    return demo.run(Path(args.out), rounds=args.rounds, stream=stream)


def ticket_classification(args: argparse.Namespace) -> dict[str, object]:
    from localcloud.demos import ticket_classification as demo

    if args.count < 1:
        raise SystemExit("--count must be at least 1")
    if args.tickets is None:
        return demo.run(Path(args.assembly), Path(args.out), count=args.count)
    try:
        events = demo.read_events(Path(args.tickets))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise SystemExit(f"--tickets {args.tickets}: {error}") from None
    if not events:
        raise SystemExit(f"--tickets {args.tickets}: no ticket in the file")
    return demo.run(Path(args.assembly), Path(args.out), events=events)


def glue_ml_pipeline(args: argparse.Namespace) -> dict[str, object]:
    from localcloud.demos import glue_ml_pipeline as demo

    if args.rows is not None and args.rows < 140:
        raise SystemExit("--rows must be at least 140 (10 per class of the 14)")
    if args.source is not None and args.rows is not None:
        raise SystemExit("give --source or --rows, not both")
    if args.source is not None and not Path(args.source).is_file():
        raise SystemExit(f"--source {args.source}: no such file")
    source = None if args.source is None else Path(args.source)
    return demo.run(Path(args.assembly), Path(args.out), rows=args.rows, source=source)


def _review_portal(args: argparse.Namespace) -> int:
    from localcloud.demos import comprehend_feedback_loop as demo

    return demo.serve_portal(Path(args.out), args.port)


def _ticket_report(args: argparse.Namespace) -> dict[str, object]:
    from localcloud.demos.ticket_classification_report import duckdb_query, write_report

    warehouse = Path(args.warehouse)
    if warehouse.is_dir():
        found = sorted(warehouse.glob("tickets-*.duckdb"))
        if not found:
            raise SystemExit(f"no ticket warehouse in {warehouse}: run the demo first")
        warehouse = found[-1]
    if not warehouse.is_file():
        raise SystemExit(f"{warehouse} does not exist: run the demo first")
    return {"report": str(write_report(duckdb_query(warehouse), Path(args.out)))}


def _cost(args: argparse.Namespace) -> str:
    from localcloud import costs
    from stacks.config import STAGE_PATTERN

    if not STAGE_PATTERN.match(args.stage):
        raise SystemExit(f"--stage must match {STAGE_PATTERN.pattern}")
    print(f"synthesizing the app for stage {args.stage}...", file=sys.stderr)
    try:
        model = costs.report(costs.synthesized_templates(args.stage, REPO_ROOT), args.stage)
    except costs.CostModelError as error:
        raise SystemExit(f"cost: {error}") from None
    if args.json:
        return json.dumps(model.as_dict(), indent=2)
    if args.update_readme:
        readme = REPO_ROOT / "README.md"
        text = readme.read_text(encoding="utf-8")
        try:
            readme.write_text(costs.with_readme_section(text, model.markdown()), encoding="utf-8")
        except costs.CostModelError as error:
            raise SystemExit(f"cost: {error}") from None
        return f"updated the Costs section of {readme}"
    return model.markdown() if args.markdown else model.table()


def _event(args: argparse.Namespace) -> str:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from localcloud.events import EventRewriteError, rewrite_file

    try:
        cloudformation = boto3.client("cloudformation", region_name=args.region)
        return rewrite_file(Path(args.path), args.stage, cloudformation)
    except (EventRewriteError, BotoCoreError, ClientError) as error:
        raise SystemExit(f"event: {error}") from None


def _chaos_rate(text: str) -> ChaosSettings:
    try:
        return ChaosSettings.parse(text)
    except ChaosSpecError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _share(text: str) -> float:
    try:
        share = float(text)
    except ValueError:
        share = -1.0
    if not 0.0 <= share <= 1.0:
        raise argparse.ArgumentTypeError(f"a share from 0 to 1, not {text!r}")
    return share


def _chaos_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--chaos",
        type=_chaos_rate,
        default=None,
        metavar="RATE[:SEED]",
        help="fail this share of AWS calls (0 to 1) with throttling or internal errors, "
        "drawn from SEED (default 0)",
    )
    parser.add_argument(
        "--chaos-after-effect",
        type=_share,
        default=0.0,
        metavar="SHARE",
        help="the share of chaos failures that happen after the call took effect",
    )


def _with_chaos_counts(line: dict[str, object], run: ChaosRun) -> dict[str, object]:
    """A demo's line with what the chaos of its run failed (nothing added without chaos)."""
    chaos = run.settings
    counts = dict(sorted(run.counts.items()))
    after_effect = dict(sorted(run.after_effect.items()))
    repeated = dict(sorted(run.repeated.items()))
    if chaos is None or not chaos.active:
        return line
    reported = {
        **line,
        "chaos": f"{chaos.rate}:{chaos.seed}",
        "callsFailedByChaos": sum(counts.values()),
        "callsFailedByChaosByOperation": counts,
    }
    if chaos.after_effect:
        reported["callsFailedAfterTakingEffect"] = sum(after_effect.values())
    # Deliveries made again although nothing failed (standard queues, asynchronous invocation).
    reported["deliveriesRepeatedByChaos"] = sum(repeated.values())
    return reported


# slug -> (what it is, its options, its demo, the options `demo all` gives it)
Demo = tuple[str, Callable[[argparse.ArgumentParser], None], Callable[..., dict[str, object]],
             dict[str, Any]]  # fmt: skip


def _caption_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", default=str(SAMPLES / "caption_translation"))
    parser.add_argument("--source", default="en")
    parser.add_argument("--targets", default="es,fr")
    parser.add_argument("--faults", default="", help=f"comma list of {', '.join(FAULT_MODES)}")


def _labels_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--images", default=str(SAMPLES / "custom_labels_batch" / "incoming"))
    parser.add_argument("--faults", default="", help="comma list of throttle, corrupt")


def _lifecycle_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--training",
        nargs="+",
        metavar="CSV",
        help="training files (label,text), one round each, in order (default: the samples)",
    )


def _feedback_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rounds", type=int, default=3, help="review and retraining rounds")
    parser.add_argument(
        "--sentences",
        default=None,
        metavar="CSV",
        help="your own sentences to classify, flag and review, as label,text rows (the label is "
        "the true one, which the reviewer answers with; labels of the first model: "
        "World, Sports, Business, SciTech), instead of the sample stream",
    )


def _ticket_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--count", type=int, default=40, help="tickets to generate")
    parser.add_argument(
        "--tickets",
        default=None,
        metavar="FILE",
        help="your own ticket events (a JSON list or JSON Lines of TicketId, TicketTitle, "
        "TicketDescription, TicketCreationTime) instead of generated ones",
    )


def _pipeline_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rows", type=int, default=None, help="generate N rows (default: the committed sample)"
    )
    parser.add_argument(
        "--source", default=None, metavar="CSV", help="your own class,title,abstract CSV file"
    )


DEMOS: dict[str, Demo] = {
    "caption_translation": (
        "caption translation",
        _caption_options,
        caption_translation,
        {"faults": "merge,drop,reorder"},
    ),
    "custom_labels_batch": (
        "Custom Labels batch inference",
        _labels_options,
        custom_labels_batch,
        {"faults": "corrupt"},
    ),
    "comprehend_model_lifecycle": (
        "Comprehend classifier lifecycle, three rounds",
        _lifecycle_options,
        comprehend_model_lifecycle,
        {},
    ),
    "ticket_classification": (
        "support-ticket classification",
        _ticket_options,
        ticket_classification,
        {},
    ),
    "glue_ml_pipeline": ("Glue + SageMaker ML pipeline", _pipeline_options, glue_ml_pipeline, {}),
    "comprehend_feedback_loop": (
        "Comprehend active learning: feedback, review, retraining",
        _feedback_options,
        comprehend_feedback_loop,
        {},
    ),
}


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="python -m localcloud",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parse.add_argument("--assembly", default=str(REPO_ROOT / "cdk.out"), help="cloud assembly")
    commands = parse.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run a workflow end to end on the local cloud")
    workflows = demo.add_subparsers(dest="workflow", required=True, metavar="<slug> | all")
    for slug, (what, options, _, _) in DEMOS.items():
        hyphenated = slug.replace("_", "-")
        sub = workflows.add_parser(slug, aliases=[hyphenated], help=what)
        options(sub)
        _chaos_options(sub)
        sub.add_argument("--out", default=f"demo-output/{slug}")
        sub.set_defaults(workflow=slug)
    everything = workflows.add_parser("all", help="every workflow, with its samples")
    everything.add_argument("--out", default="demo-output")
    _chaos_options(everything)

    portal = commands.add_parser(
        "review-portal", help="serve the human review page for the feedback loop's pending loops"
    )
    portal.add_argument("--port", type=int, default=8085)
    portal.add_argument("--out", default="demo-output/review-portal")
    _chaos_options(portal)

    cost = commands.add_parser(
        "cost", help="each workflow's fixed monthly cost and cost per item on AWS"
    )
    cost.add_argument("--stage", default="dev", help="the stage to synthesize (default dev)")
    formats = cost.add_mutually_exclusive_group()
    formats.add_argument("--json", action="store_true", help="the report as JSON")
    formats.add_argument("--markdown", action="store_true", help="the README's Costs section")
    formats.add_argument(
        "--update-readme", action="store_true", help="write the Costs section into README.md"
    )

    event = commands.add_parser(
        "event", help="rewrite a test event for the deployed stack of a stage"
    )
    event.add_argument("path", help="an event under events/<slug>/<module>/")
    event.add_argument("--stage", default="dev", help="the deployed stage (default dev)")
    event.add_argument("--region", default=None, help="the stack's region (default: your AWS's)")

    serve = commands.add_parser(
        "serve", help="every stack deployed, served on one endpoint for the aws CLI and boto3"
    )
    serve.add_argument("--port", type=int, default=4566, help="the port (default 4566; 0: any)")
    serve.add_argument("--host", default="127.0.0.1", help="the address to listen on")
    serve.add_argument(
        "--state", default=None, metavar="DIR", help="keep the stacks' data in DIR across restarts"
    )
    serve.add_argument(
        "--stack", action="append", default=None, help="deploy only this stack (repeatable)"
    )
    _chaos_options(serve)

    report = commands.add_parser("report", help="render a workflow's analysis report")
    reports = report.add_subparsers(dest="report", required=True)
    ticket_report = reports.add_parser(
        "ticket_classification", aliases=["ticket-classification"], help="the ticket analysis"
    )
    ticket_report.add_argument(
        "--warehouse",
        default="demo-output/ticket_classification/.localcloud/warehouse",
        help="a saved DuckDB warehouse, or the directory holding it",
    )
    ticket_report.add_argument("--out", required=True, help="directory for the charts and HTML")
    return parse


def _write_summary(out: Path, line: dict[str, object]) -> Path:
    """The run's result beside its outputs, for a person to open; its path goes to stderr."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "summary.json"
    path.write_text(json.dumps(line, indent=2) + "\n", encoding="utf-8")
    print(f"summary: {path}", file=sys.stderr)
    return path


def main(argv: list[str] | None = None) -> int:
    parse = parser()
    args = parse.parse_args(argv)
    chaos: ChaosSettings | None = getattr(args, "chaos", None)
    if chaos is not None and args.chaos_after_effect:
        chaos = ChaosSettings(chaos.rate, chaos.seed, args.chaos_after_effect)
    with chaos_run(chaos):
        return _command(args)


def _command(args: argparse.Namespace) -> int:
    chaos: ChaosSettings | None = default_settings()
    if args.command == "review-portal":
        return _review_portal(args)
    if args.command == "serve":
        from localcloud import serve

        try:
            return serve.run(
                Path(args.assembly),
                host=args.host,
                port=args.port,
                state_dir=Path(args.state) if args.state else None,
                stacks=args.stack,
            )
        except KeyboardInterrupt:  # during the deployment, before the server was up
            print("interrupted before the server was ready", file=sys.stderr)
            return 130
    if args.command == "report":
        print(json.dumps(_ticket_report(args)))
        return 0
    if args.command == "cost":
        print(_cost(args))
        return 0
    if args.command == "event":
        print(_event(args))
        return 0
    if args.workflow != "all":
        with chaos_run(chaos) as chaos_of_run:
            done = DEMOS[args.workflow][2](args)
        line = _with_chaos_counts(done, chaos_of_run)
        _write_summary(Path(args.out), line)
    else:
        results = []
        for slug, (_, options, run, overrides) in DEMOS.items():
            sub = argparse.ArgumentParser()
            options(sub)
            defaults = vars(sub.parse_args([]))
            namespace = argparse.Namespace(
                **{**defaults, **overrides},
                assembly=args.assembly,
                out=str(Path(args.out) / slug),
            )
            with chaos_run(chaos) as chaos_of_run:
                done = run(namespace)
            results.append(_with_chaos_counts(done, chaos_of_run))
            print(json.dumps(results[-1]), file=sys.stderr)
            _write_summary(Path(namespace.out), results[-1])
        line = {"workflows": results}
        _write_summary(Path(args.out), line)
    print(json.dumps(line))
    return 0
