"""The local cloud runs the Glue job scripts of the cloud assembly, and refuses ones that differ
from the repository's (an assembly synthesized before the scripts last changed)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from localcloud.core.provision import StaleAssemblyError
from localcloud.services.glue.provision import _check_fresh

JOBS = Path(__file__).resolve().parents[2] / "glue_jobs" / "glue_ml_pipeline"


def test_job_scripts_as_in_the_repository_run(tmp_path: Path) -> None:
    shutil.copytree(JOBS, tmp_path / "asset", ignore=shutil.ignore_patterns("__pycache__"))

    _check_fresh(tmp_path / "asset")  # nothing raised


def test_a_job_script_older_than_the_repository_is_refused(tmp_path: Path) -> None:
    shutil.copytree(JOBS, tmp_path / "asset", ignore=shutil.ignore_patterns("__pycache__"))
    script = sorted((tmp_path / "asset").glob("*.py"))[0]
    script.write_text(script.read_text() + "\n# an older version\n")

    with pytest.raises(StaleAssemblyError, match=rf"{script.name} in asset differs"):
        _check_fresh(tmp_path / "asset")
