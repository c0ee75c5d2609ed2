"""Self-contained Lambda assets, built without Docker.

A workflow's code asset holds `lambdas/__init__.py`, `lambdas/shared/` and `lambdas/<workflow>/`,
so handler import paths are the same as in the repository. Third-party packages from
`lambdas/requirements.txt` go into one dependency layer, installed by pip for the Lambda
platform (`--platform manylinux2014_aarch64 --only-binary=:all:`), never for the build machine.
The SDK that the Python runtime already provides (boto3, botocore and their dependencies) is
left out of the layer.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
LAMBDAS_DIR = REPO_ROOT / "lambdas"
BUILD_DIR = REPO_ROOT / "build"
REQUIREMENTS = LAMBDAS_DIR / "requirements.txt"

LAMBDA_PYTHON_VERSION = "3.14"
LAMBDA_PLATFORM = "manylinux2014_aarch64"

# Provided by the Lambda Python runtime; bundling them would only grow the layer.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "urllib3", "dateutil", "six", "jmespath")
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache", "requirements.txt")


def _digest_tree(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for root in paths:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            if "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            digest.update(str(path.relative_to(REPO_ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def code_asset_dir(workflow: str) -> Path:
    """Assemble (or reuse) the code asset directory of one workflow package."""
    package = LAMBDAS_DIR / workflow
    if not (package / "__init__.py").is_file():
        raise ValueError(f"no handler package lambdas/{workflow}")
    sources = [LAMBDAS_DIR / "__init__.py", LAMBDAS_DIR / "shared", package]
    target = BUILD_DIR / "lambda" / f"{workflow}-{_digest_tree(sources)}"
    if not (target / ".complete").exists():
        if target.exists():
            shutil.rmtree(target)
        staging = target.with_name(target.name + ".tmp")
        shutil.rmtree(staging, ignore_errors=True)
        (staging / "lambdas").mkdir(parents=True)
        shutil.copy2(LAMBDAS_DIR / "__init__.py", staging / "lambdas" / "__init__.py")
        shutil.copytree(LAMBDAS_DIR / "shared", staging / "lambdas" / "shared", ignore=_IGNORED)
        shutil.copytree(package, staging / "lambdas" / workflow, ignore=_IGNORED)
        staging.rename(target)
        (target / ".complete").touch()
    return target


def dependency_layer_dir() -> Path:
    """Install the handler dependencies for the Lambda platform into a layer directory."""
    key = hashlib.sha256(
        REQUIREMENTS.read_bytes() + f"{LAMBDA_PLATFORM}-{LAMBDA_PYTHON_VERSION}".encode()
    ).hexdigest()[:16]
    target = BUILD_DIR / "layers" / f"dependencies-{key}"
    if (target / ".complete").exists():
        return target
    shutil.rmtree(target, ignore_errors=True)
    site = target / "python"
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--no-compile", "--target", str(site),
        "--platform", LAMBDA_PLATFORM, "--implementation", "cp",
        "--python-version", LAMBDA_PYTHON_VERSION, "--only-binary=:all:",
        "-r", str(REQUIREMENTS),
    ]  # fmt: skip
    subprocess.run(command, check=True)
    for path in list(site.iterdir()):
        name = path.name.split("-")[0].split(".")[0].lower().replace("python_", "")
        if path.name in {"bin", "share"} or name in RUNTIME_PROVIDED:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    (target / ".complete").touch()
    return target
