"""The job library's packaging: the Python shell jobs get a wheel pip accepts, built the same
byte for byte from the same sources; the local Glue engine takes each job type's documented
forms of `--extra-py-files` and refuses the others with the reason."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from localcloud.services.glue.libraries import LibraryFormError, install
from stacks.glue_job_library import build_wheel, library_modules

GLUE_JOBS = Path(__file__).resolve().parents[2] / "glue_jobs" / "glue_ml_pipeline"


def test_the_wheel_is_deterministic_and_holds_every_shared_module() -> None:
    first, second = build_wheel(GLUE_JOBS), build_wheel(GLUE_JOBS)
    assert first.data == second.data and first.digest == second.digest
    assert first.filename == "glue_ml_pipeline_jobs-1.0.0-py3-none-any.whl"
    with zipfile.ZipFile(io.BytesIO(first.data)) as wheel:
        names = set(wheel.namelist())
    modules = {path.name for path in library_modules(GLUE_JOBS)}
    assert {"pipeline_common.py", "pipeline_model.py"} <= modules
    assert not any(name.endswith("_job.py") for name in names)
    dist_info = "glue_ml_pipeline_jobs-1.0.0.dist-info"
    assert names == modules | {f"{dist_info}/{f}" for f in ("METADATA", "WHEEL", "RECORD")}


def test_pip_installs_the_wheel_as_glue_does(tmp_path: Path) -> None:
    wheel = build_wheel(GLUE_JOBS)
    path = tmp_path / wheel.filename
    path.write_bytes(wheel.data)
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps",
         "--disable-pip-version-check", f"--target={target}", str(path)],
        check=True,
    )  # fmt: skip
    assert (target / "pipeline_model.py").read_bytes() == (
        GLUE_JOBS / "pipeline_model.py"
    ).read_bytes()
    assert (target / "glue_ml_pipeline_jobs-1.0.0.dist-info" / "RECORD").is_file()


def test_a_python_shell_job_installs_a_wheel_and_imports_from_it(tmp_path: Path) -> None:
    wheel = build_wheel(GLUE_JOBS)
    installed = install("pythonshell", "3.9", wheel.filename, wheel.data, tmp_path)
    assert {"pipeline_common", "pipeline_model"} <= installed.modules
    assert (installed.path / "pipeline_common.py").is_file()


def _zip_of_modules() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("pipeline_common.py", "X = 1\n")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("library.zip", "Python shell jobs take .py and .whl files"),
        ("library.egg", "does not take .egg files"),
        # A CDK file asset's content-hash key: pip refuses the file name.
        ("39d4e197da3bdd0550996db0b5ce5fe5.whl", "not a valid wheel filename"),
        ("lib-1.0-cp39-cp39-manylinux2014_x86_64.whl", "only pure-Python"),
    ],
)
def test_a_python_shell_job_refuses_other_forms_with_the_reason(
    tmp_path: Path, name: str, reason: str
) -> None:
    with pytest.raises(LibraryFormError, match=reason):
        install("pythonshell", "3.9", name, _zip_of_modules(), tmp_path)


def test_a_wheel_whose_files_do_not_match_its_record_is_refused(tmp_path: Path) -> None:
    wheel = build_wheel(GLUE_JOBS)
    source = zipfile.ZipFile(io.BytesIO(wheel.data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as tampered:
        for name in source.namelist():
            data = source.read(name)
            tampered.writestr(name, data + b"# changed\n" if name == "pipeline_text.py" else data)
    with pytest.raises(LibraryFormError, match=r"pipeline_text\.py does not match RECORD"):
        install("pythonshell", "3.9", wheel.filename, buffer.getvalue(), tmp_path)


def test_a_spark_job_takes_a_zip_of_modules_but_not_a_wheel(tmp_path: Path) -> None:
    installed = install("glueetl", "3", "0a1b2c.zip", _zip_of_modules(), tmp_path)
    assert installed.modules == {"pipeline_common"}
    assert installed.path.suffix == ".zip"
    wheel = build_wheel(GLUE_JOBS)
    with pytest.raises(LibraryFormError, match=r"Spark jobs take \.py files and \.zip archives"):
        install("glueetl", "3", wheel.filename, wheel.data, tmp_path)


def test_a_py_file_is_imported_by_its_name(tmp_path: Path) -> None:
    installed = install("pythonshell", "3.9", "text_tools.py", b"X = 1\n", tmp_path)
    assert installed.modules == {"text_tools"} and (installed.path / "text_tools.py").is_file()
    with pytest.raises(LibraryFormError, match="imported by its name"):
        install("pythonshell", "3.9", "3f9a-b.py", b"X = 1\n", tmp_path)
