"""GlueMlPipeline: one run of the Glue workflow on the configured source (`SourceUri`); every job
succeeds and the run's message arrives on the queue.

A run is the whole pipeline: Glue jobs (billed per DPU-hour), a SageMaker BlazingText training
job and two batch transforms (billed per instance-hour), and, when the new model is better, an
update of the live endpoint. That is why this check runs only when asked."""

from __future__ import annotations

import json
from typing import Any

from smoke.core import Environment, Result, Settings, StackOutputs, Status, poll

WORKFLOW = "glue_ml_pipeline"
STACK = "GlueMlPipeline"
WAIT_SECONDS = 4 * 60 * 60  # the jobs' own budgets: 2 h training, 1 h transforms, 30 min endpoint
POLL_SECONDS = 30
FINISHED = ("COMPLETED", "STOPPED", "ERROR")


def check(env: Environment, outputs: StackOutputs, settings: Settings) -> Result:
    glue = env.client("glue")
    workflow = outputs["WorkflowName"]
    queue = outputs["QueueUrl"]
    run_id = glue.start_workflow_run(Name=workflow)["RunId"]
    look_at_run: tuple[str, ...] = (
        f"aws glue get-workflow-run --name {workflow} --run-id {run_id} --include-graph",
    )
    leaves = (
        f"the run's data under s3://{outputs.get('BucketName')}/ (raw/, processed/, rejects/ "
        f"of run {run_id}) and its SageMaker training job, model and transform jobs",
        f"the endpoint {outputs.get('EndpointName')} and its SSM parameters, moved to the new "
        "model if it scored better (as any run does)",
    )

    def result(status: Status, detail: str, *look_at: str) -> Result:
        return Result(WORKFLOW, outputs.stack, status, detail, tuple(look_at), leaves)

    deadline = env.deadline(settings.wait(WAIT_SECONDS))
    run = poll(
        env,
        deadline,
        lambda: glue.get_workflow_run(Name=workflow, RunId=run_id, IncludeGraph=True)["Run"],
        lambda run: run["Status"] in FINISHED,
        POLL_SECONDS,
    )
    if run["Status"] not in FINISHED:
        return result(
            Status.FAILED,
            f"run {run_id} still {run['Status']} after {settings.wait(WAIT_SECONDS):.0f} s",
            *look_at_run,
        )

    jobs = _job_runs(run)
    failed = {name: job for name, job in jobs.items() if job["JobRunState"] != "SUCCEEDED"}
    message = _take_message(env, queue, run_id, deadline)
    states = ", ".join(f"{name} {job['JobRunState']}" for name, job in jobs.items())
    if run["Status"] != "COMPLETED" or failed:
        reasons = "; ".join(
            f"{name} {job['JobRunState']}: {job.get('ErrorMessage', '')}"
            for name, job in failed.items()
        )
        return result(
            Status.FAILED,
            f"run {run_id} {run['Status']}: {reasons or run.get('ErrorMessage', states)}",
            *look_at_run,
            *(
                f"{name} job run {job.get('Id')}: log groups /aws-glue/jobs/error and "
                "/aws-glue/jobs/output, streams named after the job run"
                for name, job in failed.items()
            ),
            f"the run's message on queue {queue}",
        )
    if message is None:
        return result(
            Status.FAILED,
            f"run {run_id} completed ({states}) but its message is not on the queue "
            "(has another consumer taken it?)",
            f"queue {queue} and its dead-letter queue",
            "MessagingQueueJob's run in the workflow graph",
        )
    if message.get("status") != "SUCCEEDED":
        return result(
            Status.FAILED,
            f"the run's message says {message.get('status')}: {message.get('failure')}",
            *look_at_run,
        )
    metrics = message.get("metrics", {})
    return result(
        Status.PASSED,
        f"run {run_id}: every job succeeded; test accuracy {metrics.get('test_accuracy')}, "
        f"{message.get('decision')}",
    )


def _job_runs(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The last attempt of every job the run started, by job name."""
    found: dict[str, dict[str, Any]] = {}
    for node in run.get("Graph", {}).get("Nodes", []):
        runs = node.get("JobDetails", {}).get("JobRuns", [])
        if node.get("Type") == "JOB" and runs:
            found[node["Name"]] = max(runs, key=lambda r: r.get("Attempt", 0))
    return found


def _take_message(env: Environment, queue: str, run_id: str, deadline: Any) -> Any:
    """Receive the run's message and delete it; other messages go back to the queue at once."""
    sqs = env.client("sqs")
    for _ in range(10):  # the messaging job sends before the run completes
        received = sqs.receive_message(
            QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=2, VisibilityTimeout=30
        ).get("Messages", [])
        found = None
        for message in received:
            try:
                body = json.loads(message["Body"])
            except ValueError:
                body = None
            if isinstance(body, dict) and body.get("run_id") == run_id:
                found = body
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
            else:
                sqs.change_message_visibility(
                    QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
        if found is not None:
            return found
        if deadline.expired():
            break
        env.pause(2)
    return None
