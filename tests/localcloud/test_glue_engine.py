"""The local Glue engine: job runs execute their scripts with Glue's command line, triggers fire
on job states as Glue's do, and GetWorkflowRun reports the graph. Python shell scripts only
(no Spark), on moto's S3."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from localcloud.core.clock import LocalClock
from localcloud.core.identity import Principals
from localcloud.services.glue.engine import GlueEngine
from tests.helpers.engines import answered_by

ROLE = "arn:aws:iam::123456789012:role/job-role"
BUCKET = "scripts"
SCRIPTS = {
    # Writes its arguments where the test can read them, then succeeds.
    "ok.py": (
        "import sys, json, pathlib\n"
        "out = pathlib.Path(sys.argv[sys.argv.index('--OUT') + 1])\n"
        "name = sys.argv[sys.argv.index('--JOB_NAME') + 1]\n"
        "(out / f'{name}.json').write_text(json.dumps(sys.argv[1:]))\n"
    ),
    "fail.py": "raise ValueError('bad input on line 3')\n",
}


@pytest.fixture
def glue(tmp_path: Path) -> Iterator[tuple[Any, GlueEngine]]:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        principals = Principals()
        engine = GlueEngine(
            LocalClock(1000.0),
            credentials_for=principals.credentials_for,
            s3_for_role=lambda _: s3,
            run_lock=threading.RLock(),
        )
        for name, body in SCRIPTS.items():
            path = tmp_path / name
            path.write_text(body)
            s3.put_object(Bucket=BUCKET, Key=name, Body=body.encode())
            engine.register_asset(f"s3://{BUCKET}/{name}", path)
        with answered_by({"glue": engine}):
            yield boto3.client("glue", region_name="us-east-1"), engine


def _job(client: Any, name: str, script: str, out: Path, retries: int = 0) -> None:
    client.create_job(
        Name=name,
        Role=ROLE,
        Command={"Name": "pythonshell", "ScriptLocation": f"s3://{BUCKET}/{script}"},
        DefaultArguments={"--OUT": str(out)},
        MaxRetries=retries,
    )


def _condition(job: str, state: str) -> dict[str, str]:
    return {"LogicalOperator": "EQUALS", "JobName": job, "State": state}


def _workflow(client: Any, engine: GlueEngine, out: Path, second: str) -> str:
    _job(client, "first", "ok.py", out)
    _job(client, "second", second, out, retries=1)
    _job(client, "after-success", "ok.py", out)
    _job(client, "notify", "ok.py", out)
    client.create_workflow(Name="flow")
    client.create_trigger(Name="start", WorkflowName="flow", Type="ON_DEMAND",
                          Actions=[{"JobName": "first"}])  # fmt: skip
    client.create_trigger(
        Name="then", WorkflowName="flow", Type="CONDITIONAL", StartOnCreation=True,
        Predicate={"Conditions": [_condition("first", "SUCCEEDED")]},
        Actions=[{"JobName": "second", "Arguments": {"--EXTRA": "x"}}],
    )  # fmt: skip
    client.create_trigger(
        Name="success", WorkflowName="flow", Type="CONDITIONAL", StartOnCreation=True,
        Predicate={"Conditions": [_condition("second", "SUCCEEDED")]},
        Actions=[{"JobName": "after-success"}],
    )  # fmt: skip
    client.create_trigger(
        Name="always", WorkflowName="flow", Type="CONDITIONAL", StartOnCreation=True,
        Predicate={"Logical": "ANY", "Conditions": [
            _condition("second", "SUCCEEDED"), _condition("second", "FAILED")]},
        Actions=[{"JobName": "notify"}],
    )  # fmt: skip
    run_id: str = client.start_workflow_run(Name="flow")["RunId"]
    engine.wait(60)
    return run_id


def _finished_run(
    client: Any, engine: GlueEngine, out: Path, second: str
) -> tuple[str, dict[str, Any]]:
    """The workflow run of `_workflow`, its id and its description with the graph."""
    run_id = _workflow(client, engine, out, second)
    return run_id, client.get_workflow_run(Name="flow", RunId=run_id, IncludeGraph=True)["Run"]


def test_a_successful_run_follows_the_triggers_with_glue_arguments(
    glue: tuple[Any, GlueEngine], tmp_path: Path
) -> None:
    client, engine = glue
    run_id, run = _finished_run(client, engine, tmp_path, "ok.py")
    assert run["Status"] == "COMPLETED"
    assert run["Statistics"]["SucceededActions"] == 4
    assert run["Statistics"]["FailedActions"] == 0
    argv = (tmp_path / "second.json").read_text()
    for expected in ('"--WORKFLOW_NAME", "flow"', f'"--WORKFLOW_RUN_ID", "{run_id}"',
                     '"--EXTRA", "x"', '"--JOB_RUN_ID", "jr_'):  # fmt: skip
        assert expected in argv
    nodes = {n["Name"]: n for n in run["Graph"]["Nodes"] if n["Type"] == "JOB"}
    assert set(nodes) == {"first", "second", "after-success", "notify"}
    assert {"SourceId": "JOB_first", "DestinationId": "TRIGGER_then"} in run["Graph"]["Edges"]


def test_a_failed_job_is_retried_then_fires_only_the_failure_path(
    glue: tuple[Any, GlueEngine], tmp_path: Path
) -> None:
    client, engine = glue
    _, run = _finished_run(client, engine, tmp_path, "fail.py")
    assert run["Status"] == "COMPLETED"  # as on Glue: a failed job does not error the run
    assert run["Statistics"]["FailedActions"] == 1
    runs = client.get_job_runs(JobName="second")["JobRuns"]
    assert [r["Attempt"] for r in runs] == [1, 0]
    assert runs[0]["PreviousRunId"] == runs[1]["Id"]
    assert runs[0]["ErrorMessage"] == "ValueError: bad input on line 3"
    assert (tmp_path / "notify.json").exists()
    assert not (tmp_path / "after-success.json").exists()
    assert "ValueError: bad input on line 3" in engine.job_log("second")


def test_run_properties_and_missing_entities(glue: tuple[Any, GlueEngine], tmp_path: Path) -> None:
    client, engine = glue
    run_id = _workflow(client, engine, tmp_path, "ok.py")
    client.put_workflow_run_properties(Name="flow", RunId=run_id, RunProperties={"k": "v"})
    properties = client.get_workflow_run_properties(Name="flow", RunId=run_id)["RunProperties"]
    assert properties == {"k": "v"}
    with pytest.raises(client.exceptions.EntityNotFoundException):
        client.get_workflow_run(Name="flow", RunId="wr_missing")
    with pytest.raises(client.exceptions.EntityNotFoundException):
        client.start_job_run(JobName="missing")


def _library_job(client: Any, engine: GlueEngine, name: str, library: str, out: Path) -> Any:
    client.create_job(
        Name=name,
        Role=ROLE,
        Command={"Name": "pythonshell", "ScriptLocation": f"s3://{BUCKET}/uses_library.py",
                 "PythonVersion": "3.9"},
        DefaultArguments={"--OUT": str(out), "--extra-py-files": f"s3://{BUCKET}/{library}"},
    )  # fmt: skip
    run_id = client.start_job_run(JobName=name)["JobRunId"]
    engine.wait(60)
    return client.get_job_run(JobName=name, RunId=run_id)["JobRun"]


def test_a_python_shell_job_imports_its_wheel_and_refuses_a_zip(
    glue: tuple[Any, GlueEngine], tmp_path: Path
) -> None:
    from stacks.glue_job_library import build_wheel

    client, engine = glue
    s3 = boto3.client("s3", region_name="us-east-1")
    script = (
        "import sys, pathlib, pipeline_text\n"
        "out = pathlib.Path(sys.argv[sys.argv.index('--OUT') + 1])\n"
        "(out / 'imported.txt').write_text(pipeline_text.__file__)\n"
    )
    s3.put_object(Bucket=BUCKET, Key="uses_library.py", Body=script.encode())
    engine.register_asset(f"s3://{BUCKET}/uses_library.py", tmp_path / "uses_library.py")
    (tmp_path / "uses_library.py").write_text(script)
    wheel = build_wheel(Path(__file__).resolve().parents[2] / "glue_jobs" / "glue_ml_pipeline")
    s3.put_object(Bucket=BUCKET, Key=f"lib/{wheel.filename}", Body=wheel.data)
    s3.put_object(Bucket=BUCKET, Key="lib/0f1e2d.zip", Body=wheel.data)  # same modules, a zip

    run = _library_job(client, engine, "with-wheel", f"lib/{wheel.filename}", tmp_path)
    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    imported = (tmp_path / "imported.txt").read_text()
    assert "whl-glue_ml_pipeline_jobs" in imported  # installed from the wheel, not the repo

    run = _library_job(client, engine, "with-zip", "lib/0f1e2d.zip", tmp_path)
    assert run["JobRunState"] == "FAILED"
    assert "Python shell jobs take .py and .whl files" in run["ErrorMessage"]
