"""The Glue jobs' shared modules, packaged in the form each job type takes in `--extra-py-files`.

AWS Glue documents `.py` files and `.zip` archives (modules at the archive's root) for Spark
jobs, and `.py`, `.egg` and `.whl` files for Python shell jobs, where Python 3.9 no longer
takes `.egg`. Glue installs a Python shell job's wheel with pip, which accepts only a file named
as a wheel (`<name>-<version>-<python>-<abi>-<platform>.whl`), so the wheel cannot live under
the content-hash key CDK gives a file asset: it is registered with the stack's synthesizer
under `<content digest>/<wheel file name>`, which keeps both the name and a new key per
content.

The wheel is built here at synth time with the standard library, deterministically (sorted
entries, fixed timestamps and modes), so an unchanged library keeps its key and contents.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import FileAssetLocation, FileAssetPackaging, Stack, Stage
from constructs import Construct

DISTRIBUTION = "glue_ml_pipeline_jobs"
VERSION = "1.0.0"
WHEEL_TAG = "py3-none-any"
_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Wheel:
    filename: str
    data: bytes
    digest: str


def library_modules(source: Path) -> list[Path]:
    """The shared modules: every `pipeline_*.py` (the `*_job.py` entries ship as scripts)."""
    return sorted(source.glob("pipeline_*.py"))


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return f"sha256={digest.decode()}"


def build_wheel(source: Path) -> Wheel:
    """A pure-Python wheel of the modules in `source`, identical bytes for identical sources."""
    dist_info = f"{DISTRIBUTION}-{VERSION}.dist-info"
    files: list[tuple[str, bytes]] = [(p.name, p.read_bytes()) for p in library_modules(source)]
    if not files:
        raise ValueError(f"no pipeline_*.py modules in {source}")
    metadata = (
        f"Metadata-Version: 2.1\nName: {DISTRIBUTION}\nVersion: {VERSION}\n"
        "Summary: Shared modules of the Glue ML pipeline's jobs\nRequires-Python: >=3.9\n"
    )
    wheel = (
        f"Wheel-Version: 1.0\nGenerator: glue_ml_pipeline\nRoot-Is-Purelib: true\n"
        f"Tag: {WHEEL_TAG}\n"
    )
    files += [(f"{dist_info}/METADATA", metadata.encode()), (f"{dist_info}/WHEEL", wheel.encode())]
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in files)
    files.append((f"{dist_info}/RECORD", (record + f"{dist_info}/RECORD,,\n").encode()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files:
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data, compresslevel=9)
    content = hashlib.sha256()
    for name, data in files:
        content.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return Wheel(f"{DISTRIBUTION}-{VERSION}-{WHEEL_TAG}.whl", buffer.getvalue(),
                 content.hexdigest())  # fmt: skip


def wheel_asset(scope: Construct, source: Path) -> FileAssetLocation:
    """Stage the library's wheel in the cloud assembly and register it as a file asset whose
    object key ends with the wheel's own file name."""
    wheel = build_wheel(source)
    stack = Stack.of(scope)
    outdir = Path(Stage.of(scope).outdir)  # type: ignore[union-attr]
    staged = outdir / f"asset.{wheel.digest[:16]}" / wheel.filename
    staged.parent.mkdir(parents=True, exist_ok=True)
    staged.write_bytes(wheel.data)
    try:
        return stack.synthesizer.add_file_asset(
            file_name=staged.relative_to(outdir).as_posix(),
            packaging=FileAssetPackaging.FILE,
            source_hash=f"{wheel.digest[:16]}/{wheel.filename.removesuffix('.whl')}",
        )
    except RuntimeError as exc:
        if "BoundStackFirst" not in str(exc):
            raise
        raise ValueError(
            f"{stack.stack_name}: create the stack without a synthesizer (it gets the default "
            "one): a synthesizer object made in Python is bound as a copy Python cannot reach"
        ) from exc
