"""Handler import time in a fresh interpreter, as a cold-start proxy.

Each handler is imported from its synthesized asset directory (code asset + dependency layer +
the SDK the Lambda runtime provides), in a new `python -I -S` process, side by side with a
baseline process that imports only boto3, which every Python function using the SDK pays.
Both run with the environment variables the Lambda runtime sets.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from localcloud.core.assembly import CloudAssembly

RUNS = 7
RUNTIME_SDK = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")


def _sdk_dir(directory: Path) -> Path:
    site = Path(__import__("boto3").__file__).parents[1]
    for name in RUNTIME_SDK:
        source = site / name if (site / name).exists() else site / f"{name}.py"
        (directory / source.name).symlink_to(source)
    return directory


def _time_import(paths: list[str], statement: str) -> float:
    """Wall time of one fresh interpreter importing `statement` with `paths` first."""
    script = f"import sys; sys.path[:0] = {paths!r}; {statement}"
    # What the Lambda runtime sets: libraries such as the X-Ray SDK behave differently
    # (and start faster) when they see them.
    env = {
        "LAMBDA_TASK_ROOT": paths[0],
        "AWS_LAMBDA_FUNCTION_NAME": "benchmark",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.14",
    }
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-I", "-S", "-c", script], check=True, capture_output=True, env=env
    )
    return time.perf_counter() - started


def _handlers(assembly_dir: Path) -> dict[str, list[str]]:
    """Handler -> the sys.path entries of its asset and layers."""
    found: dict[str, list[str]] = {}
    for stack in CloudAssembly(assembly_dir).stacks():
        resources = stack.template["Resources"]
        for resource in resources.values():
            props = resource.get("Properties", {})
            if resource["Type"] != "AWS::Lambda::Function" or "S3Key" not in props.get("Code", {}):
                continue
            code = stack.asset_for_key(props["Code"]["S3Key"])
            layers = [
                stack.asset_for_key(resources[ref["Ref"]]["Properties"]["Content"]["S3Key"])
                for ref in props.get("Layers", [])
            ]
            found[props["Handler"]] = [
                str(code.source),
                *(str(layer.source / "python") for layer in layers),
            ]
    return found


def run(assembly_dir: Path) -> dict[str, Any]:
    """Rounds interleave the baselines and every handler, so machine load falls on all alike."""
    handlers = _handlers(assembly_dir)
    timings: dict[str, list[float]] = {name: [] for name in ["empty", "boto3", *handlers]}
    with tempfile.TemporaryDirectory() as scratch:
        sdk = str(_sdk_dir(Path(scratch)))
        for _ in range(RUNS):
            timings["empty"].append(_time_import([sdk], "pass"))
            timings["boto3"].append(_time_import([sdk], "import boto3"))
            for handler, paths in handlers.items():
                module = handler.rsplit(".", 1)[0]
                statement = f"import importlib; importlib.import_module({module!r})"
                timings[handler].append(_time_import([*paths, sdk], statement))
    baseline = statistics.median(timings["boto3"])
    return {
        "runs": RUNS,
        "interpreter_ms": round(statistics.median(timings["empty"]) * 1000, 1),
        "boto3_baseline_ms": round(baseline * 1000, 1),
        "handlers": {
            handler: {
                "median_ms": round(statistics.median(timings[handler]) * 1000, 1),
                "ratio_to_boto3_baseline": round(statistics.median(timings[handler]) / baseline, 2),
            }
            for handler in handlers
        },
    }
