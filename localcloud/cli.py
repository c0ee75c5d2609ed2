"""Command line of the local cloud.

    python -m localcloud demo captions --input samples/captions --source en --targets es,fr \\
        [--faults merge,drop,reorder,throttle] --out demo-output/captions
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

    everything = workflows.add_parser("all", help="every workflow, with its samples")
    everything.add_argument("--out", default="demo-output")

    args = parser.parse_args(argv)
    if args.workflow == "captions":
        line = _captions(args)
    elif args.workflow == "comprehend-lifecycle":
        line = _lifecycle(args)
    elif args.workflow == "custom-labels":
        line = _custom_labels(args)
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
        line = {"workflows": results}
    print(json.dumps(line))
    return 0
