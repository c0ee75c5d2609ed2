"""The frame around every job's work: the workflow run it belongs to, and a failure recorded in
the run's properties (for the failure message) before the job run fails."""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable
from typing import Any

import boto3
from pipeline_common import FAILURE, RunProperties, resolved_options


def run_job(job: str, argv: list[str], work: Callable[[RunProperties], Any]) -> None:
    args = resolved_options(argv, ["WORKFLOW_NAME", "WORKFLOW_RUN_ID"])
    properties = RunProperties(boto3.client("glue"), args["WORKFLOW_NAME"], args["WORKFLOW_RUN_ID"])
    try:
        work(properties)
    except Exception as exc:
        print(f"{job} failed: {exc}\n{traceback.format_exc()}")
        properties.put(**{FAILURE: json.dumps({"job": job, "reason": str(exc)})})
        raise
