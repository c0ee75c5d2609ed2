"""`python -m localcloud demo glue-ml-pipeline [--rows N]`: the Glue + SageMaker pipeline, offline.

Deploys the GlueMlPipeline stack, uploads a DBpedia-style CSV (the committed sample, or one
generated with `--rows`) with a few malformed rows to the source location, starts the Glue
workflow as a user would (`StartWorkflowRun`), waits for it, reads the run's message from the
queue and asks the endpoint to classify a held-out abstract.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from localcloud.cloud import REPO_ROOT, DeployedStack, LocalCloud
from localcloud.demos.common import accounting, find_stack, least_privilege, narrator

SAMPLE = REPO_ROOT / "samples" / "glue_ml_pipeline" / "dbpedia.csv"
JOB_NAMES = ("DataExtractionJob", "DataProcessingJob", "TrainingJob", "MessagingQueueJob")
MALFORMED_ROWS = (
    b'3,only two fields\n,Nameless,An abstract without a class.\n5,"Unclosed quote,An abstract\n'
)


def generator() -> Any:
    """The sample generator (`samples/glue_ml_pipeline/generate.py`), loaded as a module."""
    path = REPO_ROOT / "samples" / "glue_ml_pipeline" / "generate.py"
    spec = importlib.util.spec_from_file_location("dbpedia_generate", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _words(text: str) -> str:
    return " ".join(re.findall(r"[^\W_]+", text.lower()))


def source_items(data: bytes) -> dict[int, str]:
    """Each non-blank line of the uploaded CSV: its line number and what BlazingText's
    supervised line for it would hold (`__label__<class> <words>`), or "" where it is no row."""
    items: dict[int, str] = {}
    for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            fields = next(csv.reader(io.StringIO(line)))
        except csv.Error:
            fields = []
        if len(fields) == 3:
            items[number] = f"__label__{fields[0].strip()} {_words(fields[1] + ' ' + fields[2])}"
        else:
            items[number] = ""
    return items


def read_uri(s3: Any, uri: str) -> bytes:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


def processing_report(cloud: LocalCloud, stack: DeployedStack, run_id: str) -> dict[str, Any]:
    """What DataProcessingJob wrote: its report in the run's properties (`processing_report`,
    glue_jobs/glue_ml_pipeline/pipeline_common.py), with the channels' and rejects' locations."""
    properties = cloud.client("glue").get_workflow_run_properties(
        Name=stack.outputs["WorkflowName"], RunId=run_id
    )["RunProperties"]
    report: dict[str, Any] = json.loads(properties["processing_report"])
    return report


def channels_accounting(s3: Any, data: bytes, report: dict[str, Any]) -> dict[str, int]:
    """Each uploaded row, found in the run's outputs: once among the training, validation and
    test channels' lines, or once in the rejects file (by line number). A channel line carries
    no line number, so it is traced back by its content; identical rows share one content and
    are counted as copies of each other."""
    items = source_items(data)
    by_content: dict[str, list[int]] = {}
    for number, content in items.items():
        by_content.setdefault(content, []).append(number)
    written: list[str] = []
    for uri in report["channels"].values():
        split = uri.rstrip("/").rsplit("/", 1)[-1]
        for line in read_uri(s3, f"{uri}{split}.txt").decode().splitlines():
            numbers = by_content.get(line)
            # Copies of one content take its line numbers in turn; one copy too many is a
            # duplicate of the last.
            written.append(str(numbers.pop(0) if len(numbers) > 1 else numbers[0])
                           if numbers else f"unknown:{line[:60]}")  # fmt: skip
    rejected = [
        str(json.loads(line)["line"])
        for line in read_uri(s3, report["rejects_uri"]).decode().splitlines()
        if line.strip()
    ]
    return accounting([str(n) for n in items], written, rejected)


def keep_outputs(s3: Any, report: dict[str, Any], message: dict[str, Any], out_dir: Path) -> None:
    """What a person opens after a run: the BlazingText channels, the rejected rows with their
    reasons, and the run's message."""
    for uri in report["channels"].values():
        split = uri.rstrip("/").rsplit("/", 1)[-1]
        target = out_dir / "channels" / f"{split}.txt"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(read_uri(s3, f"{uri}{split}.txt"))
    (out_dir / "rejects.jsonl").write_bytes(read_uri(s3, report["rejects_uri"]))
    (out_dir / "message.json").write_text(json.dumps(message, indent=2) + "\n")


@dataclass
class PipelineRun:
    run_id: str
    status: str
    statistics: dict[str, int]
    jobs: dict[str, str]
    errors: dict[str, str]
    message: dict[str, Any] | None

    @property
    def failed(self) -> bool:
        return (
            self.statistics.get("FailedActions", 0) + self.statistics.get("TimeoutActions", 0) > 0
        )


def upload_source(cloud: LocalCloud, stack: DeployedStack, data: bytes) -> None:
    uri = stack.outputs["SourceUri"]
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    cloud.client("s3").put_object(Bucket=bucket, Key=key, Body=data)


def run_workflow(cloud: LocalCloud, stack: DeployedStack, timeout: float = 600) -> PipelineRun:
    """Start the workflow as a user would, wait for it, and read its message off the queue."""
    glue = cloud.client("glue")
    workflow = stack.outputs["WorkflowName"]
    run_id = glue.start_workflow_run(Name=workflow)["RunId"]
    deadline = time.monotonic() + timeout
    while True:
        run = glue.get_workflow_run(Name=workflow, RunId=run_id, IncludeGraph=True)["Run"]
        if run["Status"] != "RUNNING":
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"workflow run {run_id} still running after {timeout} s")
        time.sleep(0.1)
    jobs: dict[str, str] = {}
    errors: dict[str, str] = {}
    for node in run["Graph"]["Nodes"]:
        job_runs = node.get("JobDetails", {}).get("JobRuns", [])
        if node["Type"] == "JOB" and job_runs:
            short = node["Name"].rsplit("-", 1)[-1]
            last = max(job_runs, key=lambda r: r.get("Attempt", 0))
            jobs[short] = last["JobRunState"]
            if "ErrorMessage" in last:
                errors[short] = last["ErrorMessage"]
    sqs = cloud.client("sqs")
    message = None
    received = sqs.receive_message(
        QueueUrl=stack.outputs["QueueUrl"], MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )
    for item in received.get("Messages", []):
        body = json.loads(item["Body"])
        sqs.delete_message(QueueUrl=stack.outputs["QueueUrl"], ReceiptHandle=item["ReceiptHandle"])
        if body.get("run_id") == run_id:
            message = body
    return PipelineRun(run_id, run["Status"], run["Statistics"], jobs, errors, message)


def run(
    assembly_dir: Path,
    out_dir: Path,
    rows: int | None = None,
    progress: TextIO = sys.stderr,
    source: Path | None = None,
) -> dict[str, Any]:
    say = narrator(progress)

    if source is not None:
        data = source.read_bytes()  # the user's own rows, as they are
    else:
        # The sample (or generated rows) with a few malformed rows, to show their rejection.
        data = SAMPLE.read_bytes() if rows is None else generator().to_csv(rows)
        data = data.rstrip(b"\n") + b"\n" + MALFORMED_ROWS
    with LocalCloud(assembly_dir, work_dir=out_dir / ".localcloud") as cloud:
        stack = cloud.deploy(find_stack(cloud, "GlueMlPipeline-"))
        say(f"deployed {stack.name}: workflow {stack.outputs['WorkflowName']}")
        upload_source(cloud, stack, data)
        say(f"uploaded {len(data.splitlines())} rows to {stack.outputs['SourceUri']}")
        say("StartWorkflowRun: extraction, Spark processing, BlazingText training, message")
        result = run_workflow(cloud, stack)
        for job in JOB_NAMES:
            say(f"  {job}: {result.jobs.get(job, 'NOT RUN')} {result.errors.get(job, '')}")
        if result.message is None:
            raise RuntimeError(f"no message for run {result.run_id}")
        if result.failed:
            raise RuntimeError(f"the run failed: {result.message.get('failure')}")
        metrics = result.message["metrics"]
        processed = processing_report(cloud, stack, result.run_id)
        items = channels_accounting(cloud.client("s3"), data, processed)
        keep_outputs(cloud.client("s3"), processed, result.message, out_dir)
        say(f"channels, rejected rows and the run's message copied to {out_dir}")
        say(f"rejected {metrics['rejected']} of {metrics['rows']} rows (reasons under rejects/); "
            f"test accuracy {metrics['test_accuracy']} (live model on the same split: "
            f"{metrics.get('live_accuracy')}): {result.message['decision']}")  # fmt: skip
        endpoint = stack.outputs["EndpointName"]
        sample_text = "the striker played the league season for the club and won the championship"
        answer = cloud.client("sagemaker-runtime").invoke_endpoint(
            EndpointName=endpoint,
            ContentType="application/json",
            Body=json.dumps({"instances": [sample_text], "configuration": {"k": 2}}),
        )
        prediction = json.loads(answer["Body"].read())
        say(f"InvokeEndpoint({sample_text!r}) -> {prediction[0]}")
        least_privilege(cloud, say, unused=False)
        return {
            "workflow": "glue_ml_pipeline",
            "run_id": result.run_id,
            "jobs": {job: result.jobs.get(job, "NOT RUN") for job in JOB_NAMES},
            "test_accuracy": metrics["test_accuracy"],
            "live_accuracy": metrics.get("live_accuracy"),
            "deployed": result.message["deployed"],
            "items": items,
            "endpoint": endpoint,
            "message": result.message,
            # The local Glue and SageMaker engines record instance types and counts but meter
            # no billed time, so this run has no honest price; `python -m localcloud cost`
            # estimates one from the stack.
            "costUsd": None,
            "costNote": "not metered: the local Glue and SageMaker engines do not meter DPU or "
            "instance time; see `python -m localcloud cost` for an estimate per run",
        }
