"""Command line of the local cloud.

    python -m localcloud demo captions --input samples/captions --source en --targets es,fr \\
        [--faults merge,drop,reorder,throttle] --out demo-output/captions
    python -m localcloud demo tickets [--count 40] --out demo-output/tickets
    python -m localcloud demo glue-pipeline [--rows N] --out demo-output/glue-pipeline
    python -m localcloud report tickets --out DIR [--warehouse demo-output/tickets/...]
    python -m localcloud demo active-learning [--rounds 3] --out demo-output/active-learning
    python -m localcloud review-portal [--port 8085]
    python -m localcloud demo all --out demo-output

Progress goes to stderr; the last line on stdout is the demo's JSON result.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from localcloud.cloud import REPO_ROOT

FAULT_MODES = ("merge", "drop", "reorder", "throttle")


def _captions(args: argparse.Namespace) -> dict[str, object]:
    from localcloud.demos import captions

    faults = [f for f in (args.faults or "").split(",") if f]
    unknown = sorted(set(faults) - set(FAULT_MODES))
    if unknown:
        raise SystemExit(f"unknown fault modes {unknown}; choose from {', '.join(FAULT_MODES)}")
    result = captions.run(
        input_dir=Path(args.input),
        out_dir=Path(args.out),
        source=args.source,
        targets=[t for t in args.targets.split(",") if t],
        faults=faults,
        assembly_dir=Path(args.assembly),
    )
    return result.as_line()


def _custom_labels(args: argparse.Namespace) -> dict[str, object]:
    from localcloud.demos import custom_labels

    faults = [f for f in (args.faults or "").split(",") if f]
    unknown = sorted(set(faults) - set(custom_labels.FAULTS))
    if unknown:
        raise SystemExit(f"unknown fault modes {unknown}; choose from throttle, corrupt")
    return custom_labels.run(Path(args.assembly), Path(args.out), Path(args.images), faults)


def _lifecycle(args: argparse.Namespace) -> dict[str, object]:
    from localcloud.demos import comprehend_lifecycle

    return comprehend_lifecycle.run(Path(args.assembly), Path(args.out))


def _active_learning(args: argparse.Namespace) -> dict[str, object]:
    from localcloud.demos import active_learning

    if not 1 <= args.rounds <= 10:
        raise SystemExit("--rounds must be between 1 and 10")
    return active_learning.run(Path(args.out), rounds=args.rounds)


def _review_portal(args: argparse.Namespace) -> int:
    from localcloud.demos import active_learning

    return active_learning.serve_portal(Path(args.out), args.port)


def _glue_pipeline(args: argparse.Namespace) -> dict[str, object]:
    from localcloud.demos import glue_pipeline

    if args.rows is not None and args.rows < 140:
        raise SystemExit("--rows must be at least 140 (10 per class of the 14)")
    return glue_pipeline.run(Path(args.assembly), Path(args.out), rows=args.rows)


def _tickets(args: argparse.Namespace) -> dict[str, object]:
    from localcloud.demos import tickets

    if args.count < 1:
        raise SystemExit("--count must be at least 1")
    return tickets.run(Path(args.assembly), Path(args.out), count=args.count)


def _tickets_report(args: argparse.Namespace) -> dict[str, object]:
    from localcloud.report.tickets import duckdb_query, write_report

    warehouse = Path(args.warehouse)
    if warehouse.is_dir():
        found = sorted(warehouse.glob("tickets-*.duckdb"))
        if not found:
            raise SystemExit(f"no ticket warehouse in {warehouse}: run the tickets demo first")
        warehouse = found[-1]
    if not warehouse.is_file():
        raise SystemExit(f"{warehouse} does not exist: run the tickets demo first")
    return {"report": str(write_report(duckdb_query(warehouse), Path(args.out)))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m localcloud",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--assembly", default=str(REPO_ROOT / "cdk.out"), help="cloud assembly")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run a workflow end to end on the local cloud")
    workflows = demo.add_subparsers(dest="workflow", required=True)

    captions = workflows.add_parser("captions", help="caption translation")
    captions.add_argument("--input", default=str(REPO_ROOT / "samples" / "captions"))
    captions.add_argument("--source", default="en")
    captions.add_argument("--targets", default="es,fr")
    captions.add_argument("--faults", default="", help=f"comma list of {', '.join(FAULT_MODES)}")
    captions.add_argument("--out", default="demo-output/captions")

    labels = workflows.add_parser("custom-labels", help="Custom Labels batch inference")
    labels.add_argument(
        "--images", default=str(REPO_ROOT / "samples" / "custom_labels" / "incoming")
    )
    labels.add_argument("--faults", default="", help="comma list of throttle, corrupt")
    labels.add_argument("--out", default="demo-output/custom-labels")

    lifecycle = workflows.add_parser(
        "comprehend-lifecycle", help="Comprehend classifier lifecycle, three rounds"
    )
    lifecycle.add_argument("--out", default="demo-output/comprehend-lifecycle")

    learning = workflows.add_parser(
        "active-learning", help="Comprehend active learning: feedback, review, retraining"
    )
    learning.add_argument("--rounds", type=int, default=3, help="review and retraining rounds")
    learning.add_argument("--out", default="demo-output/active-learning")

    tickets = workflows.add_parser("tickets", help="support-ticket classification")
    tickets.add_argument("--count", type=int, default=40, help="tickets to generate")
    tickets.add_argument("--out", default="demo-output/tickets")

    pipeline = workflows.add_parser("glue-pipeline", help="Glue + SageMaker ML pipeline")
    pipeline.add_argument(
        "--rows", type=int, default=None, help="generate N rows (default: the committed sample)"
    )
    pipeline.add_argument("--out", default="demo-output/glue-pipeline")

    everything = workflows.add_parser("all", help="every workflow, with its samples")
    everything.add_argument("--out", default="demo-output")

    portal = commands.add_parser(
        "review-portal", help="serve the human review page for the feedback loop's pending loops"
    )
    portal.add_argument("--port", type=int, default=8085)
    portal.add_argument("--out", default="demo-output/review-portal")

    report = commands.add_parser("report", help="render a workflow's analysis report")
    reports = report.add_subparsers(dest="report", required=True)
    tickets_report = reports.add_parser("tickets", help="the support-ticket analysis")
    tickets_report.add_argument(
        "--warehouse",
        default="demo-output/tickets/.localcloud/warehouse",
        help="a saved DuckDB warehouse, or the directory holding it",
    )
    tickets_report.add_argument("--out", required=True, help="directory for the charts and HTML")

    args = parser.parse_args(argv)
    if args.command == "review-portal":
        return _review_portal(args)
    if args.command == "report":
        print(json.dumps(_tickets_report(args)))
        return 0
    if args.workflow == "captions":
        line = _captions(args)
    elif args.workflow == "comprehend-lifecycle":
        line = _lifecycle(args)
    elif args.workflow == "custom-labels":
        line = _custom_labels(args)
    elif args.workflow == "tickets":
        line = _tickets(args)
    elif args.workflow == "glue-pipeline":
        line = _glue_pipeline(args)
    elif args.workflow == "active-learning":
        line = _active_learning(args)
    else:
        results = []
        for name in ("captions",):
            sub = argparse.Namespace(
                assembly=args.assembly,
                input=str(REPO_ROOT / "samples" / "captions"),
                source="en",
                targets="es,fr",
                faults="merge,drop,reorder",
                out=str(Path(args.out) / name),
            )
            results.append(_captions(sub))
            print(json.dumps(results[-1]), file=sys.stderr)
        labels_args = argparse.Namespace(
            assembly=args.assembly,
            images=str(REPO_ROOT / "samples" / "custom_labels" / "incoming"),
            faults="corrupt",
            out=str(Path(args.out) / "custom-labels"),
        )
        results.append(_custom_labels(labels_args))
        print(json.dumps(results[-1]), file=sys.stderr)
        lifecycle_args = argparse.Namespace(
            assembly=args.assembly, out=str(Path(args.out) / "comprehend-lifecycle")
        )
        results.append(_lifecycle(lifecycle_args))
        print(json.dumps(results[-1]), file=sys.stderr)
        tickets_args = argparse.Namespace(
            assembly=args.assembly, count=40, out=str(Path(args.out) / "tickets")
        )
        results.append(_tickets(tickets_args))
        print(json.dumps(results[-1]), file=sys.stderr)
        pipeline_args = argparse.Namespace(
            assembly=args.assembly, rows=None, out=str(Path(args.out) / "glue-pipeline")
        )
        results.append(_glue_pipeline(pipeline_args))
        print(json.dumps(results[-1]), file=sys.stderr)
        learning_args = argparse.Namespace(rounds=3, out=str(Path(args.out) / "active-learning"))
        results.append(_active_learning(learning_args))
        print(json.dumps(results[-1]), file=sys.stderr)
        line = {"workflows": results}
    print(json.dumps(line))
    return 0
