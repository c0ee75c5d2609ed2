"""MessagingQueueJob: one SQS message per workflow run, on success or failure, with the run
id, the metrics, the deployment decision and the endpoint name."""

from __future__ import annotations

import json
from typing import Any

from pipeline_common import FAILURE, PROCESSING_REPORT, TRAINING_REPORT, RunProperties


def failed_jobs(glue: Any, workflow_name: str, run_id: str) -> dict[str, str]:
    """{job name: error message} of every failed job run in the workflow run's graph."""
    run = glue.get_workflow_run(Name=workflow_name, RunId=run_id, IncludeGraph=True)
    failed: dict[str, str] = {}
    for node in run["Run"].get("Graph", {}).get("Nodes", []):
        for job_run in node.get("JobDetails", {}).get("JobRuns", []):
            if job_run.get("JobRunState") in ("FAILED", "ERROR", "TIMEOUT", "STOPPED"):
                failed[node["Name"]] = job_run.get("ErrorMessage", job_run["JobRunState"])
    return failed


def build_message(properties: dict[str, str], failed: dict[str, str], run_id: str,
                  workflow_name: str) -> dict[str, Any]:  # fmt: skip
    training = json.loads(properties[TRAINING_REPORT]) if TRAINING_REPORT in properties else {}
    processing = (
        json.loads(properties[PROCESSING_REPORT]) if PROCESSING_REPORT in properties else {}
    )
    failure = json.loads(properties[FAILURE]) if FAILURE in properties else None
    succeeded = not failed and failure is None and bool(training)
    message: dict[str, Any] = {
        "workflow": workflow_name,
        "run_id": run_id,
        "status": "SUCCEEDED" if succeeded else "FAILED",
        "metrics": {
            key: training[key]
            for key in ("test_accuracy", "live_accuracy", "test_rows", "min_improvement")
            if key in training
        }
        | {
            key: processing[key]
            for key in ("rows", "rejected", "reject_ratio")
            if key in processing
        },
        "deployed": bool(training.get("deployed")) if succeeded else False,
        "decision": training.get("decision", "no change: the run failed"),
        "endpoint": training.get("endpoint"),
        "live_model": training.get("live_model"),
    }
    if not succeeded:
        message["failure"] = failure or {
            "job": next(iter(failed), "unknown"),
            "reason": next(iter(failed.values()), "the run ended without a training report"),
        }
        message["failed_jobs"] = failed
    return message


def send(sqs: Any, glue: Any, queue_url: str, workflow_name: str, run_id: str) -> dict[str, Any]:
    properties = RunProperties(glue, workflow_name, run_id).get()
    message = build_message(properties, failed_jobs(glue, workflow_name, run_id), run_id,
                            workflow_name)  # fmt: skip
    sqs.send_message(
        QueueUrl=queue_url,
        MessageBody=json.dumps(message),
        MessageAttributes={
            "status": {"DataType": "String", "StringValue": message["status"]},
            "runId": {"DataType": "String", "StringValue": run_id},
        },
    )
    return message
