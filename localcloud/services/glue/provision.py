"""Provisioners for Glue jobs, workflows and triggers and for SSM parameters (see
`localcloud.core.provision`): created through the same APIs CloudFormation calls, answered by the
local Glue engine and moto."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from botocore.exceptions import ClientError

from localcloud.core.assembly import REPO_ROOT
from localcloud.core.provision import (
    NotEmulatedError,
    ProvisionRequest,
    StaleAssemblyError,
    _state,
    provisioner,
)
from localcloud.core.template import ResourceState


def _asset_uri(request: ProvisionRequest, uri: str) -> None:
    """Upload the file asset behind `uri` to the bootstrap bucket, as `cdk deploy` does, and
    tell the Glue engine where it lives in the cloud assembly."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    asset = request.artifact.asset_for_key(key)
    if asset is None or not uri.startswith("s3://"):
        raise NotEmulatedError(f"{request.logical_id}: {uri} is not a file asset of this assembly")
    _check_fresh(asset.source)
    s3 = request.client("s3")
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=key, Body=_asset_bytes(asset.source))
    request.cloud.partial_engines["glue"].register_asset(uri, asset.source)


def _check_fresh(source: Path) -> None:
    """The local cloud runs the synthesized job library (a directory for the Spark job's .zip,
    a wheel for the Python shell jobs); refuse one older than the sources."""
    if source.is_dir():
        shipped = {path.name: path.read_bytes() for path in source.glob("*.py")}
    elif source.suffix == ".whl":
        with zipfile.ZipFile(source) as wheel:
            shipped = {
                n: wheel.read(n) for n in wheel.namelist() if "/" not in n and n.endswith(".py")
            }
    else:
        return
    jobs = REPO_ROOT / "glue_jobs"
    for name, data in shipped.items():
        originals = list(jobs.rglob(name))
        if originals and all(original.read_bytes() != data for original in originals):
            raise StaleAssemblyError(
                f"{name} in {source.name} differs from glue_jobs/: run `make synth` (or "
                "`cdk synth`) so the local cloud runs the job scripts that deploy"
            )


def _asset_bytes(source: Path) -> bytes:
    if source.is_file():
        return source.read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(source.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(source).as_posix())
    return buffer.getvalue()


def _create(
    request: ProvisionRequest, operation: str, required: tuple[str, ...], optional: tuple[str, ...]
) -> ResourceState:
    """Create the resource with Glue's `operation`, named by its `Name` property or a generated
    name, passing the template's properties of the same names as the API's parameters."""
    props = request.properties
    name = props.get("Name") or request.physical_name(255)
    arguments = {
        "Name": name,
        **{key: props[key] for key in required},
        **{key: props.get(key) for key in optional},
    }
    getattr(request.client("glue"), operation)(
        **{key: value for key, value in arguments.items() if value is not None}
    )
    return _state(request, name)


@provisioner("AWS::Glue::Job")
def _glue_job(request: ProvisionRequest) -> ResourceState:
    props = request.properties
    _asset_uri(request, props["Command"]["ScriptLocation"])
    for uri in props.get("DefaultArguments", {}).get("--extra-py-files", "").split(","):
        if uri.strip():
            _asset_uri(request, uri.strip())
    return _create(
        request,
        "create_job",
        ("Role", "Command"),
        ("Description", "DefaultArguments", "NonOverridableArguments", "ExecutionProperty",
         "MaxRetries", "Timeout", "GlueVersion", "WorkerType", "NumberOfWorkers", "MaxCapacity"),
    )  # fmt: skip


@provisioner("AWS::Glue::Workflow")
def _glue_workflow(request: ProvisionRequest) -> ResourceState:
    return _create(
        request,
        "create_workflow",
        (),
        ("Description", "DefaultRunProperties", "MaxConcurrentRuns"),
    )


@provisioner("AWS::Glue::Trigger")
def _glue_trigger(request: ProvisionRequest) -> ResourceState:
    return _create(
        request,
        "create_trigger",
        ("Type", "Actions"),
        ("WorkflowName", "Schedule", "Predicate", "Description", "StartOnCreation"),
    )


# END
