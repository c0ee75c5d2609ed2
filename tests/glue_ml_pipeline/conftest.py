"""Glue job modules import each other by their bare names, as on Glue, where the job library
is one archive on the Python path: the tests put `glue_jobs/glue_ml_pipeline/` on the path
the same way."""

from __future__ import annotations

import sys
from pathlib import Path

GLUE_JOBS = Path(__file__).resolve().parents[2] / "glue_jobs" / "glue_ml_pipeline"
if str(GLUE_JOBS) not in sys.path:
    sys.path.insert(0, str(GLUE_JOBS))
