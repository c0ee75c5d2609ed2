"""How the local Glue engine puts a job's `--extra-py-files` on the Python path: in the forms
AWS Glue documents for each job type, judged by the file names of the S3 objects as Glue sees
them, and refused otherwise with the reason.

* Spark (`glueetl`) jobs: `.py` files (imported by their file name) and `.zip` archives with
  the modules at the root.
* Python shell jobs: `.py` files and `.whl` wheels, which Glue installs with pip: the file name
  must be a wheel name (`<name>-<version>[-<build>]-<python>-<abi>-<platform>.whl`) for a pure
  `py3`/`none`/`any` wheel, holding `<name>-<version>.dist-info/` with METADATA, WHEEL and a
  RECORD whose hashes match. `.egg` files are refused for Python 3.9, as Glue documents; other
  forms (such as `.zip`) are not documented for Python shell jobs and are refused.

Not emulated: pip's dependency resolution (`Requires-Dist` is not installed), `.egg` on
Python 3.6 shells, and Spark's `--additional-python-modules`.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

WHEEL_NAME = re.compile(
    r"^(?P<name>[A-Za-z0-9_.]+)-(?P<version>[A-Za-z0-9_.!+]+)(-(?P<build>\d[^-]*))?"
    r"-(?P<python>[^-]+)-(?P<abi>[^-]+)-(?P<platform>[^-]+)\.whl$"
)
MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class LibraryFormError(ValueError):
    """An `--extra-py-files` entry Glue would not load; the message says why."""


@dataclass(frozen=True)
class Installed:
    path: Path  # what goes on sys.path
    modules: frozenset[str]  # top-level modules it provides


def install(command: str, python_version: str, name: str, data: bytes, target: Path) -> Installed:
    """Place the `--extra-py-files` object `name` (its S3 file name) with contents `data` under
    `target` the way Glue would for a job of type `command`."""
    suffix = Path(name).suffix.lower()
    if suffix == ".py":
        return _module(name, data, target)
    if command == "glueetl":
        if suffix == ".zip":
            return _zip(name, data, target)
        raise LibraryFormError(
            f"{name}: Spark jobs take .py files and .zip archives in --extra-py-files"
        )
    if suffix == ".whl":
        return _wheel(name, data, target)
    if suffix == ".egg":
        raise LibraryFormError(
            f"{name}: Python shell {python_version} does not take .egg files; package the "
            "library as a .whl"
        )
    raise LibraryFormError(
        f"{name}: Python shell jobs take .py and .whl files in --extra-py-files, not {suffix!r}"
    )


def _module(name: str, data: bytes, target: Path) -> Installed:
    stem = Path(name).stem
    if not MODULE_NAME.match(stem):
        raise LibraryFormError(f"{name}: a .py file is imported by its name, {stem!r} is not one")
    directory = target / f"py-{stem}"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(data)
    return Installed(directory, frozenset({stem}))


def _open(name: str, data: bytes) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise LibraryFormError(f"{name}: not a zip archive ({exc})") from None


def _top_level(names: list[str]) -> frozenset[str]:
    found = set()
    for entry in names:
        head = entry.split("/", 1)[0]
        if entry.endswith(".py") and "/" not in entry:
            found.add(head[:-3])
        elif "/" in entry and entry.endswith("/__init__.py") and entry.count("/") == 1:
            found.add(head)
    return frozenset(found)


def _zip(name: str, data: bytes, target: Path) -> Installed:
    with _open(name, data) as archive:
        modules = _top_level(archive.namelist())
    if not modules:
        raise LibraryFormError(f"{name}: no modules or packages at the root of the archive")
    path = target / name
    path.write_bytes(data)
    return Installed(path, modules)


def _wheel(name: str, data: bytes, target: Path) -> Installed:
    match = WHEEL_NAME.match(name)
    if match is None:
        raise LibraryFormError(f"{name} is not a valid wheel filename")
    if not (
        match["python"].startswith("py3") and match["abi"] == "none" and match["platform"] == "any"
    ):
        raise LibraryFormError(f"{name}: only pure-Python py3-none-any wheels are emulated")
    dist_info = f"{match['name']}-{match['version']}.dist-info"
    with _open(name, data) as archive:
        names = archive.namelist()
        for required in ("METADATA", "WHEEL", "RECORD"):
            if f"{dist_info}/{required}" not in names:
                raise LibraryFormError(f"{name} has an invalid wheel: no {dist_info}/{required}")
        record = archive.read(f"{dist_info}/RECORD").decode()
        listed = {row[0]: row for row in csv.reader(io.StringIO(record)) if row}
        for entry in names:
            if entry.endswith("/") or entry == f"{dist_info}/RECORD":
                continue
            row = listed.get(entry)
            content = archive.read(entry)
            if row is None or len(row) < 3:
                raise LibraryFormError(f"{name} has an invalid wheel: {entry} is not in RECORD")
            digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=")
            if row[1] != f"sha256={digest.decode()}" or row[2] != str(len(content)):
                raise LibraryFormError(
                    f"{name} has an invalid wheel: {entry} does not match RECORD"
                )
        # Installed as `pip install --target` would: the wheel's files under one directory.
        directory = target / f"whl-{match['name']}"
        directory.mkdir(parents=True, exist_ok=True)
        archive.extractall(directory)
    return Installed(directory, _top_level(names))
