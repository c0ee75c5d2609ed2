"""Local AWS Glue jobs and workflows: job runs really execute the job scripts, and workflow
triggers really fire.

What it emulates, through real boto3 clients (see `localcloud.core.protocol`):

* Jobs: `CreateJob`, `GetJob`, `GetJobs`, `DeleteJob`; `StartJobRun`, `GetJobRun`,
  `GetJobRuns`. A run executes the job's script (`Command.ScriptLocation`, an S3 URI of a file
  asset of the deployed cloud assembly) with Glue's command line: `--JOB_NAME`, `--JOB_RUN_ID`,
  the job's `DefaultArguments`, the trigger action's and the run's `Arguments`,
  `NonOverridableArguments` last, and `--WORKFLOW_NAME`/`--WORKFLOW_RUN_ID` inside a workflow.
  `--extra-py-files` (comma-separated S3 URIs) are fetched from S3 and go on `sys.path` in the
  forms Glue documents per job type (see `localcloud.services.glue.libraries`): `.py` and `.zip`
  for Spark jobs, `.py` and `.whl` (installed as pip would) for Python shell jobs; any other
  form fails the run with the reason. The script runs under the job role's credentials, so the
  least-privilege check sees its calls. `glueetl` jobs get a PySpark `SparkSession` in local
  mode (one per process, two cores, few shuffle partitions), the
  `SparkSession.builder.getOrCreate()` a script calls; `pythonshell` jobs run as the script's
  `__main__`. A run is STARTING, RUNNING, then
  SUCCEEDED, FAILED (the exception as `ErrorMessage`) or TIMEOUT (run longer than the job's
  `Timeout` minutes of the local clock); a failed run is retried up to `MaxRetries` times
  (`Attempt`, `PreviousRunId`). `MaxConcurrentRuns` is enforced (`ConcurrentRunsExceededException`).
* Workflows: `CreateWorkflow`, `GetWorkflow`, `DeleteWorkflow`, `StartWorkflowRun`,
  `GetWorkflowRun` (with `IncludeGraph`: nodes for triggers and jobs with their job runs, and
  edges), `GetWorkflowRuns`, `GetWorkflowRunProperties`, `PutWorkflowRunProperties`.
  `StartWorkflowRun` fires the workflow's start trigger (ON_DEMAND or SCHEDULED); a
  CONDITIONAL trigger fires once per run when its predicate holds (`Logical` AND or ANY over
  `EQUALS` conditions on job states SUCCEEDED, FAILED, STOPPED or TIMEOUT of this run); a run
  is COMPLETED when nothing runs and no trigger can fire, with `Statistics` counting its
  actions as Glue does (a failed job is a FailedAction; the run itself still completes).
* Triggers: `CreateTrigger`, `GetTrigger`, `GetTriggers`, `DeleteTrigger`, `StartTrigger`,
  `StopTrigger`. SCHEDULED triggers are kept (with their cron expression) but not fired by the
  clock: `fire_scheduled(name)` starts their workflow run as the schedule would.

The local cloud routes these operations to the engine; Glue's other operations (the Data
Catalog, crawlers, ...) stay with moto.

What it does not do: no crawlers, catalog, connections, bookmarks, DynamicFrames (`awsglue` is
not installed: scripts use plain PySpark), dev endpoints or interactive sessions; the actions of
one trigger run one after another rather than in parallel; job runs cannot be stopped
(`BatchStopJobRun`) and a run over its timeout is marked TIMEOUT when it ends, not preempted;
worker types and DPUs are recorded, not enforced; Spark reads and writes through the driver
only what the scripts pass it (there is no S3 connector for `s3://` paths in Spark).
"""

from __future__ import annotations

import itertools
import os
import runpy
import shutil
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from localcloud.core.protocol import CallContext, LocalEngine, ServiceError, existing
from localcloud.core.runtime import _STDERR_ROUTER, _STDOUT_ROUTER, LogStream, _install
from localcloud.services.glue.libraries import Installed, LibraryFormError, install

FINISHED = ("SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED", "ERROR")
DEFAULT_TIMEOUT_MINUTES = 2880


@dataclass
class _Job:
    definition: dict[str, Any]
    created: float

    @property
    def name(self) -> str:
        return str(self.definition["Name"])


@dataclass
class _JobRun:
    id: str
    job_name: str
    arguments: dict[str, str]
    started: float
    attempt: int = 0
    previous_run_id: str | None = None
    trigger_name: str | None = None
    workflow_run: _WorkflowRun | None = None
    state: str = "STARTING"
    completed: float | None = None
    error: str | None = None
    log: LogStream = field(default_factory=LogStream)

    def as_dict(self, timeout: int) -> dict[str, Any]:
        data: dict[str, Any] = {
            "Id": self.id,
            "Attempt": self.attempt,
            "JobName": self.job_name,
            "StartedOn": self.started,
            "LastModifiedOn": self.completed or self.started,
            "JobRunState": self.state,
            "Arguments": self.arguments,
            "Timeout": timeout,
        }
        if self.previous_run_id:
            data["PreviousRunId"] = self.previous_run_id
        if self.trigger_name:
            data["TriggerName"] = self.trigger_name
        if self.completed is not None:
            data["CompletedOn"] = self.completed
            data["ExecutionTime"] = int(self.completed - self.started)
        if self.error:
            data["ErrorMessage"] = self.error
        return data


@dataclass
class _WorkflowRun:
    id: str
    workflow: str
    properties: dict[str, str]
    started: float
    status: str = "RUNNING"
    completed: float | None = None
    fired: set[str] = field(default_factory=set)
    job_runs: list[_JobRun] = field(default_factory=list)

    def final_states(self) -> dict[str, str]:
        """Each job's state in this run: that of its last attempt."""
        return {run.job_name: run.state for run in self.job_runs if run.state in FINISHED}


class GlueEngine(LocalEngine):
    """AWS Glue jobs, triggers and workflows on the local cloud; see the module docstring."""

    service_name = "glue"

    def __init__(
        self,
        clock: Any,
        *,
        credentials_for: Callable[[str], Any],
        s3_for_role: Callable[[str], Any],
        run_lock: Any,
        account_id: str = "123456789012",
        region: str = "us-east-1",
    ) -> None:
        super().__init__(clock, account_id, region)
        self._credentials_for = credentials_for
        self._s3_for_role = s3_for_role
        # Job scripts change process-wide state (environment, sys.path, sys.argv): they run
        # one at a time, and never while a Lambda handler runs.
        self._run_lock = run_lock
        self._assets: dict[str, Path] = {}
        self._jobs: dict[str, _Job] = {}
        self._runs: dict[str, list[_JobRun]] = {}
        self._workflows: dict[str, dict[str, Any]] = {}
        self._workflow_runs: dict[str, dict[str, _WorkflowRun]] = {}
        self._triggers: dict[str, dict[str, Any]] = {}
        self._threads: list[threading.Thread] = []
        self._ids = itertools.count(1)
        self.operations: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "CreateJob": self._create_job,
            "GetJob": self._get_job,
            "GetJobs": self._get_jobs,
            "DeleteJob": self._delete_job,
            "StartJobRun": self._start_job_run,
            "GetJobRun": self._get_job_run,
            "GetJobRuns": self._get_job_runs,
            "CreateWorkflow": self._create_workflow,
            "GetWorkflow": self._get_workflow,
            "DeleteWorkflow": self._delete_workflow,
            "StartWorkflowRun": self._start_workflow_run,
            "GetWorkflowRun": self._get_workflow_run,
            "GetWorkflowRuns": self._get_workflow_runs,
            "GetWorkflowRunProperties": self._get_run_properties,
            "PutWorkflowRunProperties": self._put_run_properties,
            "CreateTrigger": self._create_trigger,
            "GetTrigger": self._get_trigger,
            "GetTriggers": self._get_triggers,
            "DeleteTrigger": self._delete_trigger,
            "StartTrigger": self._start_trigger,
            "StopTrigger": self._stop_trigger,
        }

    # -- wiring -----------------------------------------------------------------------------------
    def register_asset(self, uri: str, path: Path) -> None:
        """Where the file asset uploaded to `uri` lives in the cloud assembly."""
        self._assets[uri] = path

    def handle(self, operation: str, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        handler = self._handler(self.operations, operation)
        with self._lock:
            return handler(params)

    def idle(self) -> bool:
        with self._lock:
            return all(not thread.is_alive() for thread in self._threads)

    def wait(self, timeout: float = 600.0) -> None:
        """Block until every job run started so far has finished (tests and demos)."""
        deadline = time.monotonic() + timeout
        while not self.idle():
            if time.monotonic() > deadline:
                raise TimeoutError(f"Glue job runs still running after {timeout} s")
            time.sleep(0.05)

    def job_log(self, job_name: str) -> str:
        with self._lock:
            return "".join(line for run in self._runs.get(job_name, []) for line in run.log.lines)

    def _now(self) -> float:
        return round(self.clock.time(), 3)

    @staticmethod
    def _not_found(kind: str, name: str) -> ServiceError:
        return ServiceError("EntityNotFoundException", f"{kind} {name} not found")

    # -- jobs -------------------------------------------------------------------------------------
    def _create_job(self, p: dict[str, Any]) -> dict[str, Any]:
        name = p["Name"]
        if name in self._jobs:
            raise ServiceError("IdempotentParameterMismatchException", f"Job {name} exists")
        command = p["Command"]
        if command.get("Name") not in ("glueetl", "pythonshell"):
            raise ServiceError(
                "InvalidInputException",
                "the local Glue engine runs glueetl and pythonshell jobs, "
                f"not {command.get('Name')}",
            )
        self._jobs[name] = _Job(dict(p), self._now())
        self._runs[name] = []
        return {"Name": name}

    def _job(self, name: str) -> _Job:
        return existing(self._jobs, name, self._not_found("Job", name))

    def _job_dict(self, job: _Job) -> dict[str, Any]:
        data = dict(job.definition)
        data.setdefault("Timeout", DEFAULT_TIMEOUT_MINUTES)
        data["CreatedOn"] = job.created
        data["LastModifiedOn"] = job.created
        return data

    def _get_job(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"Job": self._job_dict(self._job(p["JobName"]))}

    def _get_jobs(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"Jobs": [self._job_dict(job) for job in self._jobs.values()]}

    def _delete_job(self, p: dict[str, Any]) -> dict[str, Any]:
        self._jobs.pop(p["JobName"], None)
        return {"JobName": p["JobName"]}

    def _start_job_run(self, p: dict[str, Any]) -> dict[str, Any]:
        run = self._new_run(p["JobName"], p.get("Arguments", {}), None, None)
        self._spawn(lambda: self._execute(run))
        return {"JobRunId": run.id}

    def _new_run(
        self,
        job_name: str,
        arguments: dict[str, str],
        trigger: str | None,
        workflow_run: _WorkflowRun | None,
        previous: _JobRun | None = None,
    ) -> _JobRun:
        job = self._job(job_name)
        limit = int(job.definition.get("ExecutionProperty", {}).get("MaxConcurrentRuns", 1))
        active = [r for r in self._runs[job_name] if r.state not in FINISHED]
        if len(active) >= limit:
            raise ServiceError(
                "ConcurrentRunsExceededException", f"Concurrent runs exceeded for {job_name}"
            )
        run = _JobRun(
            id=f"jr_{uuid.uuid4().hex}{uuid.uuid4().hex}",
            job_name=job_name,
            arguments=dict(arguments),
            started=self._now(),
            attempt=previous.attempt + 1 if previous else 0,
            previous_run_id=previous.id if previous else None,
            trigger_name=trigger,
            workflow_run=workflow_run,
        )
        self._runs[job_name].append(run)
        if workflow_run is not None:
            workflow_run.job_runs.append(run)
        return run

    def _find_run(self, job_name: str, run_id: str) -> _JobRun:
        self._job(job_name)
        for run in self._runs[job_name]:
            if run.id == run_id:
                return run
        raise self._not_found("Job run", run_id)

    def _timeout(self, job_name: str) -> int:
        return int(self._jobs[job_name].definition.get("Timeout", DEFAULT_TIMEOUT_MINUTES))

    def _get_job_run(self, p: dict[str, Any]) -> dict[str, Any]:
        run = self._find_run(p["JobName"], p["RunId"])
        return {"JobRun": run.as_dict(self._timeout(run.job_name))}

    def _get_job_runs(self, p: dict[str, Any]) -> dict[str, Any]:
        self._job(p["JobName"])
        runs = sorted(self._runs[p["JobName"]], key=lambda r: r.started, reverse=True)
        return {"JobRuns": [r.as_dict(self._timeout(r.job_name)) for r in runs]}

    # -- execution --------------------------------------------------------------------------------
    def _spawn(self, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name="glue-job-run", daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def _command_line(self, job: _Job, run: _JobRun) -> list[str]:
        arguments = dict(job.definition.get("DefaultArguments", {}))
        arguments.update(run.arguments)
        arguments.update(job.definition.get("NonOverridableArguments", {}))
        arguments["--JOB_NAME"] = job.name
        arguments["--JOB_RUN_ID"] = run.id
        if run.workflow_run is not None:
            arguments["--WORKFLOW_NAME"] = run.workflow_run.workflow
            arguments["--WORKFLOW_RUN_ID"] = run.workflow_run.id
        script = self._local_path(job.definition["Command"]["ScriptLocation"])
        argv = [str(script)]
        for key, value in arguments.items():
            argv += [key if key.startswith("--") else f"--{key}", value]
        return argv

    def _local_path(self, uri: str) -> Path:
        path = self._assets.get(uri)
        if path is None:
            raise FileNotFoundError(f"{uri} is not a file asset of the deployed stacks")
        return path

    def _execute(self, run: _JobRun) -> None:
        """Run one job run to its end, retry it if allowed, then advance its workflow run."""
        with self._lock:
            job = self._jobs[run.job_name]
            run.state = "RUNNING"
        state, error = self._run_script(job, run)
        with self._lock:
            run.state, run.error, run.completed = state, error, self._now()
            retries = int(job.definition.get("MaxRetries", 0))
            retry = None
            if state == "FAILED" and run.attempt < retries:
                retry = self._new_run(
                    run.job_name, run.arguments, run.trigger_name, run.workflow_run, run
                )
        if retry is not None:
            self._execute(retry)
            return
        if run.workflow_run is not None:
            self._advance(run.workflow_run)

    def _run_script(self, job: _Job, run: _JobRun) -> tuple[str, str | None]:
        role_arn = job.definition["Role"]
        if not role_arn.startswith("arn:"):
            role_arn = f"arn:aws:iam::{self.account_id}:role/{role_arn}"
        try:
            argv = self._command_line(job, run)
            extra_uris = [
                uri.strip()
                for uri in job.definition.get("DefaultArguments", {})
                .get("--extra-py-files", "")
                .split(",")
                if uri.strip()
            ]
            # Glue fetches the script and the extra files with the job's role.
            s3 = self._s3_for_role(role_arn)
            fetched: list[tuple[str, bytes]] = []
            for uri in [job.definition["Command"]["ScriptLocation"], *extra_uris]:
                bucket, _, key = uri.removeprefix("s3://").partition("/")
                fetched.append(
                    (key.rsplit("/", 1)[-1], s3.get_object(Bucket=bucket, Key=key)["Body"].read())
                )
        except FileNotFoundError as exc:
            return "FAILED", str(exc)
        except Exception as exc:  # the script cannot be fetched: the run fails, as on Glue
            return "FAILED", f"cannot fetch the job's files: {exc}"
        # The extra files go on the path in the forms Glue takes for the job type.
        command = job.definition["Command"]
        workdir = Path(tempfile.mkdtemp(prefix="glue-job-run-"))
        try:
            installed = [
                install(
                    command["Name"], str(command.get("PythonVersion", "3")), name, data, workdir
                )
                for name, data in fetched[1:]
            ]
        except LibraryFormError as exc:
            shutil.rmtree(workdir, ignore_errors=True)
            return "FAILED", str(exc)
        try:
            return self._run_installed(job, run, argv, installed, workdir)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def _run_installed(
        self, job: _Job, run: _JobRun, argv: list[str], installed: list[Installed], workdir: Path
    ) -> tuple[str, str | None]:
        role_arn = job.definition["Role"]
        if not role_arn.startswith("arn:"):
            role_arn = f"arn:aws:iam::{self.account_id}:role/{role_arn}"
        extra = [item.path for item in installed]
        started = time.monotonic()
        waited = [0.0]  # virtual seconds the script slept: polls of other services
        with self._run_lock:
            if job.definition["Command"]["Name"] == "glueetl":
                spark_session()
            saved_env = dict(os.environ)
            saved_argv = list(sys.argv)
            saved_path = list(sys.path)
            saved_session = boto3.DEFAULT_SESSION
            # The job imports its library from its own files, as a fresh Glue run does: modules
            # of the same names imported elsewhere in this process step aside meanwhile.
            shipped = {module for item in installed for module in item.modules}
            shadowed = {name: sys.modules.pop(name) for name in shipped if name in sys.modules}
            saved_modules = set(sys.modules)
            saved_sleep = time.sleep
            thread = threading.get_ident()
            _install(_STDOUT_ROUTER, "stdout")
            _install(_STDERR_ROUTER, "stderr")
            for router in (_STDOUT_ROUTER, _STDERR_ROUTER):
                router.routes[thread] = run.log
            clock = self.clock

            def sleep(seconds: float) -> None:
                # The job's waits run on the local clock; other threads sleep in real time.
                if threading.get_ident() == thread:
                    waited[0] += max(0.0, seconds)
                    saved_sleep(max(0.0, seconds) / clock.speed)  # LocalClock.sleep, unpatched
                else:
                    saved_sleep(seconds)

            try:
                credentials = self._credentials_for(role_arn)
                for key in list(os.environ):
                    if key.startswith("AWS_"):
                        del os.environ[key]
                os.environ.update(
                    {
                        "AWS_REGION": self.region,
                        "AWS_DEFAULT_REGION": self.region,
                        **credentials.as_environment(),
                    }
                )
                boto3.DEFAULT_SESSION = None
                sys.argv = argv
                sys.path[:0] = [str(path) for path in extra]
                time.sleep = sleep  # type: ignore[assignment]
                runpy.run_path(argv[0], run_name="__main__")
                outcome: tuple[str, str | None] = ("SUCCEEDED", None)
            except SystemExit as exc:
                outcome = ("SUCCEEDED", None) if not exc.code else ("FAILED", f"exit {exc.code}")
            except Exception as exc:  # the script's failure is the run's result
                run.log.write(traceback.format_exc())
                outcome = ("FAILED", f"{type(exc).__name__}: {exc}")
            finally:
                time.sleep = saved_sleep
                os.environ.clear()
                os.environ.update(saved_env)
                sys.argv = saved_argv
                sys.path[:] = saved_path
                boto3.DEFAULT_SESSION = saved_session
                for name in set(sys.modules) - saved_modules:
                    module = sys.modules.get(name)
                    origin = str(getattr(module, "__file__", "") or "")
                    if origin.startswith(str(workdir)):
                        del sys.modules[name]
                sys.modules.update(shadowed)
                for router in (_STDOUT_ROUTER, _STDERR_ROUTER):
                    router.routes.pop(thread, None)
        # The run's duration: its real compute time plus the virtual time it spent waiting.
        limit = self._timeout(job.name) * 60
        duration = time.monotonic() - started + waited[0]
        if outcome[0] == "SUCCEEDED" and duration > limit:
            return "TIMEOUT", f"Job run exceeded its timeout of {limit // 60} minutes"
        return outcome

    # -- workflows --------------------------------------------------------------------------------
    def _create_workflow(self, p: dict[str, Any]) -> dict[str, Any]:
        name = p["Name"]
        if name in self._workflows:
            raise ServiceError("AlreadyExistsException", f"Workflow {name} already exists")
        self._workflows[name] = {**p, "CreatedOn": self._now()}
        self._workflow_runs[name] = {}
        return {"Name": name}

    def _workflow(self, name: str) -> dict[str, Any]:
        return existing(self._workflows, name, self._not_found("Workflow", name))

    def _get_workflow(self, p: dict[str, Any]) -> dict[str, Any]:
        workflow = self._workflow(p["Name"])
        data = {
            "Name": workflow["Name"],
            "DefaultRunProperties": workflow.get("DefaultRunProperties", {}),
            "CreatedOn": workflow["CreatedOn"],
            "LastModifiedOn": workflow["CreatedOn"],
            "MaxConcurrentRuns": workflow.get("MaxConcurrentRuns", 1),
        }
        if p.get("IncludeGraph"):
            data["Graph"] = self._graph(workflow["Name"], None)
        if "Description" in workflow:
            data["Description"] = workflow["Description"]
        return {"Workflow": data}

    def _delete_workflow(self, p: dict[str, Any]) -> dict[str, Any]:
        self._workflows.pop(p["Name"], None)
        return {"Name": p["Name"]}

    def _workflow_triggers(self, workflow: str) -> list[dict[str, Any]]:
        return [t for t in self._triggers.values() if t.get("WorkflowName") == workflow]

    def _start_workflow_run(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"RunId": self.start_workflow_run(p["Name"], p.get("RunProperties", {}))}

    def start_workflow_run(self, name: str, properties: dict[str, str], trigger: str = "") -> str:
        with self._lock:
            workflow = self._workflow(name)
            limit = workflow.get("MaxConcurrentRuns")
            running = [r for r in self._workflow_runs[name].values() if r.status == "RUNNING"]
            if limit and len(running) >= int(limit):
                raise ServiceError(
                    "ConcurrentRunsExceededException", f"Concurrent runs exceeded for {name}"
                )
            starts = [
                t
                for t in self._workflow_triggers(name)
                # StartWorkflowRun starts a scheduled workflow's start trigger too.
                if (t["Name"] == trigger if trigger else t["Type"] in ("ON_DEMAND", "SCHEDULED"))
            ]
            if not starts:
                raise ServiceError("InvalidInputException", f"Workflow {name} has no start trigger")
            run = _WorkflowRun(
                id=f"wr_{uuid.uuid4().hex}{uuid.uuid4().hex}",
                workflow=name,
                properties={**workflow.get("DefaultRunProperties", {}), **properties},
                started=self._now(),
            )
            self._workflow_runs[name][run.id] = run
            for start in starts:
                self._fire(start, run)
            self._advance(run)
            return run.id

    def fire_scheduled(self, trigger_name: str) -> str:
        """Start the workflow run a SCHEDULED trigger starts when its cron expression is due."""
        with self._lock:
            trigger = self._trigger(trigger_name)
            if trigger["Type"] != "SCHEDULED" or trigger["State"] != "ACTIVATED":
                raise ValueError(f"{trigger_name} is not an activated scheduled trigger")
            return self.start_workflow_run(trigger["WorkflowName"], {}, trigger_name)

    def _fire(self, trigger: dict[str, Any], run: _WorkflowRun) -> None:
        run.fired.add(trigger["Name"])
        for action in trigger.get("Actions", []):
            if "JobName" not in action:
                continue
            try:
                job_run = self._new_run(
                    action["JobName"], action.get("Arguments", {}), trigger["Name"], run
                )
            except ServiceError as error:  # e.g. the job is still running for another run
                failed = _JobRun(
                    id=f"jr_{uuid.uuid4().hex}",
                    job_name=action["JobName"],
                    arguments={},
                    started=self._now(),
                    trigger_name=trigger["Name"],
                    workflow_run=run,
                    state="FAILED",
                    completed=self._now(),
                    error=error.message,
                )
                self._runs.setdefault(action["JobName"], []).append(failed)
                run.job_runs.append(failed)
                continue
            self._spawn(lambda job_run=job_run: self._execute(job_run))  # type: ignore[misc]

    def _advance(self, run: _WorkflowRun) -> None:
        """After a job run ends: fire the conditional triggers it satisfies; complete the run
        when nothing is left running."""
        with self._lock:
            fired = True
            while fired:  # an action that fails at once can satisfy further triggers
                fired = False
                states = run.final_states()
                for trigger in self._workflow_triggers(run.workflow):
                    if trigger["Type"] != "CONDITIONAL" or trigger["Name"] in run.fired:
                        continue
                    if trigger.get("State") != "ACTIVATED":  # created without StartOnCreation
                        continue
                    predicate = trigger.get("Predicate", {})
                    met = [
                        states.get(c.get("JobName", "")) == c.get("State")
                        for c in predicate.get("Conditions", [])
                    ]
                    logical = predicate.get("Logical", "AND")
                    if met and (any(met) if logical == "ANY" else all(met)):
                        self._fire(trigger, run)
                        fired = True
            if all(job_run.state in FINISHED for job_run in run.job_runs):
                run.status = "COMPLETED"
                run.completed = self._now()

    def _run(self, name: str, run_id: str) -> _WorkflowRun:
        self._workflow(name)
        run = self._workflow_runs[name].get(run_id)
        if run is None:
            raise self._not_found("Workflow run", run_id)
        return run

    def _statistics(self, run: _WorkflowRun) -> dict[str, int]:
        last: dict[str, _JobRun] = {}
        for job_run in run.job_runs:
            last[job_run.job_name] = job_run
        states = [job_run.state for job_run in last.values()]
        total = len(
            {a["JobName"] for t in self._workflow_triggers(run.workflow) for a in t["Actions"]}
        )
        return {
            "TotalActions": total,
            "TimeoutActions": states.count("TIMEOUT"),
            "FailedActions": states.count("FAILED"),
            "StoppedActions": states.count("STOPPED"),
            "SucceededActions": states.count("SUCCEEDED"),
            "RunningActions": sum(1 for s in states if s not in FINISHED),
            "ErroredActions": states.count("ERROR"),
            "WaitingActions": 0,
        }

    def _run_dict(self, run: _WorkflowRun, include_graph: bool) -> dict[str, Any]:
        data: dict[str, Any] = {
            "Name": run.workflow,
            "WorkflowRunId": run.id,
            "WorkflowRunProperties": dict(run.properties),
            "StartedOn": run.started,
            "Status": run.status,
            "Statistics": self._statistics(run),
        }
        if run.completed is not None:
            data["CompletedOn"] = run.completed
        if include_graph:
            data["Graph"] = self._graph(run.workflow, run)
        return data

    def _graph(self, workflow: str, run: _WorkflowRun | None) -> dict[str, Any]:
        nodes: dict[str, dict[str, Any]] = {}
        edges: list[dict[str, str]] = []

        def node(kind: str, name: str) -> str:
            unique = f"{kind}_{name}"
            nodes.setdefault(unique, {"Type": kind, "Name": name, "UniqueId": unique})
            return unique

        for trigger in self._workflow_triggers(workflow):
            trigger_id = node("TRIGGER", trigger["Name"])
            nodes[trigger_id]["TriggerDetails"] = {"Trigger": self._trigger_dict(trigger)}
            for condition in trigger.get("Predicate", {}).get("Conditions", []):
                if "JobName" in condition:
                    edges.append(
                        {"SourceId": node("JOB", condition["JobName"]), "DestinationId": trigger_id}
                    )
            for action in trigger.get("Actions", []):
                if "JobName" in action:
                    edges.append(
                        {"SourceId": trigger_id, "DestinationId": node("JOB", action["JobName"])}
                    )
        for data in nodes.values():
            if data["Type"] == "JOB":
                runs = [r for r in (run.job_runs if run else []) if r.job_name == data["Name"]]
                data["JobDetails"] = {
                    "JobRuns": [r.as_dict(self._timeout(r.job_name)) for r in runs]
                }
        return {"Nodes": list(nodes.values()), "Edges": edges}

    def _get_workflow_run(self, p: dict[str, Any]) -> dict[str, Any]:
        run = self._run(p["Name"], p["RunId"])
        return {"Run": self._run_dict(run, bool(p.get("IncludeGraph")))}

    def _get_workflow_runs(self, p: dict[str, Any]) -> dict[str, Any]:
        self._workflow(p["Name"])
        runs = sorted(self._workflow_runs[p["Name"]].values(), key=lambda r: -r.started)
        return {"Runs": [self._run_dict(r, bool(p.get("IncludeGraph"))) for r in runs]}

    def _get_run_properties(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"RunProperties": dict(self._run(p["Name"], p["RunId"]).properties)}

    def _put_run_properties(self, p: dict[str, Any]) -> dict[str, Any]:
        run = self._run(p["Name"], p["RunId"])
        run.properties.update(p["RunProperties"])
        return {}

    # -- triggers ---------------------------------------------------------------------------------
    def _create_trigger(self, p: dict[str, Any]) -> dict[str, Any]:
        name = p["Name"]
        if name in self._triggers:
            raise ServiceError("AlreadyExistsException", f"Trigger {name} already exists")
        if p["Type"] == "SCHEDULED" and not p.get("Schedule"):
            raise ServiceError("InvalidInputException", "a SCHEDULED trigger needs a Schedule")
        if p["Type"] == "CONDITIONAL" and not p.get("Predicate", {}).get("Conditions"):
            raise ServiceError("InvalidInputException", "a CONDITIONAL trigger needs conditions")
        for action in p["Actions"]:
            if "JobName" in action:
                self._job(action["JobName"])
        workflow = p.get("WorkflowName")
        if workflow:
            self._workflow(workflow)
        state = "ACTIVATED" if p.get("StartOnCreation") or p["Type"] == "ON_DEMAND" else "CREATED"
        self._triggers[name] = {**p, "State": state}
        return {"Name": name}

    def _trigger(self, name: str) -> dict[str, Any]:
        return existing(self._triggers, name, self._not_found("Trigger", name))

    @staticmethod
    def _trigger_dict(trigger: dict[str, Any]) -> dict[str, Any]:
        keys = ("Name", "WorkflowName", "Type", "State", "Description", "Schedule", "Actions",
                "Predicate")  # fmt: skip
        return {k: trigger[k] for k in keys if k in trigger}

    def _get_trigger(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"Trigger": self._trigger_dict(self._trigger(p["Name"]))}

    def _get_triggers(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"Triggers": [self._trigger_dict(t) for t in self._triggers.values()]}

    def _delete_trigger(self, p: dict[str, Any]) -> dict[str, Any]:
        self._triggers.pop(p["Name"], None)
        return {"Name": p["Name"]}

    def _start_trigger(self, p: dict[str, Any]) -> dict[str, Any]:
        self._trigger(p["Name"])["State"] = "ACTIVATED"
        return {"Name": p["Name"]}

    def _stop_trigger(self, p: dict[str, Any]) -> dict[str, Any]:
        self._trigger(p["Name"])["State"] = "DEACTIVATED"
        return {"Name": p["Name"]}


_SPARK_LOCK = threading.Lock()


def spark_session() -> Any:
    """The process's one local-mode SparkSession, created on first use: Spark's start-up takes
    seconds, so every job run (and every test) shares it."""
    with _SPARK_LOCK:
        from pyspark.sql import SparkSession

        return (
            SparkSession.builder.master("local[2]")
            .appName("localcloud-glue")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.default.parallelism", "2")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.driver.memory", "2g")
            .config("spark.sql.execution.arrow.pyspark.enabled", "false")
            .getOrCreate()
        )
