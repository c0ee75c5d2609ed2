"""Deployment asset sizes: what each function ships, and what bundling the SDK would add."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

from localcloud.core.assembly import CloudAssembly

RUNTIME_SDK = ("boto3", "botocore", "s3transfer")


def _sizes(directory: Path) -> tuple[int, int]:
    """Unzipped bytes and deflated zip bytes of a directory."""
    raw = 0
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                raw += path.stat().st_size
                archive.write(path, path.relative_to(directory))
    return raw, len(buffer.getvalue())


def run(assembly_dir: Path) -> dict[str, Any]:
    results: dict[str, Any] = {}
    seen: set[Path] = set()
    for stack in CloudAssembly(assembly_dir).stacks():
        for asset in stack.assets:
            if asset.source in seen or not asset.source.is_dir():
                continue
            seen.add(asset.source)
            if (asset.source / "lambdas").is_dir():
                kind = "code"
            elif (asset.source / "python").is_dir():
                kind = "layer"
            else:
                kind = "glue-library"  # the Spark job's modules, zipped by CDK
            raw, zipped = _sizes(asset.source)
            results[f"{stack.stack_name}/{kind}"] = {"bytes": raw, "zip_bytes": zipped}
    site = Path(__import__("boto3").__file__).parents[1]
    sdk_raw = sdk_zip = 0
    for name in RUNTIME_SDK:
        raw, zipped = _sizes(site / name)
        sdk_raw, sdk_zip = sdk_raw + raw, sdk_zip + zipped
    results["sdk_if_bundled"] = {"bytes": sdk_raw, "zip_bytes": sdk_zip}
    layers = [v for k, v in results.items() if k.endswith("/layer")]
    if layers:
        layer = layers[0]
        results["layer_with_sdk_ratio"] = round(
            (layer["zip_bytes"] + sdk_zip) / layer["zip_bytes"], 2
        )
    return results
