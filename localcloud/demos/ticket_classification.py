"""`python -m localcloud demo tickets [--count N]`: support tickets classified, offline.

Deploys the TicketClassification stack, uploads the project's training data
(`samples/ticket_classification/`) and runs the stack's training workflow, which trains the
operation and
resource classifiers (on the local Comprehend engine), deploys their endpoints and records
them in the stack's SSM parameters; then invokes TicketClassifier for N generated tickets (and
once more for a few of them, to show that a repeated TicketId adds no row), waits for Firehose
to load the warehouse, queries it through the Redshift Data API and writes the report.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from lambdas.ticket_classification.warehouse import TABLE
from localcloud.cloud import REPO_ROOT, DeployedStack, LocalCloud
from localcloud.costs import local_run_cost
from localcloud.demos.common import accounting, find_stack, least_privilege, narrator

SAMPLES = REPO_ROOT / "samples" / "ticket_classification"
TRAINING_FILES = {"operation": "operation.csv", "resource": "resource.csv"}
DEFAULT_COUNT = 40


def _sample_generator() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("tickets_samples", SAMPLES / "generate.py")
    if spec is None or spec.loader is None:  # pragma: no cover - the file is in the repository
        raise RuntimeError(f"cannot load {SAMPLES / 'generate.py'}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def sample_tickets(count: int, seed: int = 7) -> list[Any]:
    """`count` new tickets (with their true labels) from the sample generator."""
    return list(_sample_generator().tickets(count, seed))


@dataclass
class TicketsStack:
    cloud: LocalCloud
    stack: DeployedStack

    def output(self, name: str) -> str:
        return str(self.stack.outputs[name])

    def classify(self, event: Any) -> dict[str, Any]:
        """Invoke TicketClassifier as a user would and return its answer."""
        answer = self.cloud.client("lambda").invoke(
            FunctionName=self.output("ClassifierFunctionName"),
            Payload=json.dumps(event).encode(),
        )
        payload = json.loads(answer["Payload"].read() or b"null")
        if answer.get("FunctionError"):
            raise RuntimeError(f"TicketClassifier failed: {payload}")
        return dict(payload)

    @property
    def warehouse_target(self) -> dict[str, str]:
        """How the Data API names this stack's warehouse: its workgroup, or its cluster."""
        if "ClusterIdentifier" in self.stack.outputs:
            return {"ClusterIdentifier": self.output("ClusterIdentifier")}
        return {"WorkgroupName": self.output("WorkgroupName")}

    @property
    def delivery(self) -> Any:
        return self.cloud.engines["redshift-data"].firehose

    def wait_delivered(self, timeout: float = 60.0) -> None:
        """Until Firehose holds nothing: buffers flushed, staged files loaded or skipped."""
        self.delivery.wait_idle(timeout)

    def sql(self, query: str, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Run `query` through the Redshift Data API with the admin secret; rows as dicts."""
        data = self.cloud.client("redshift-data")
        statement = data.execute_statement(
            **self.warehouse_target,
            Database=self.output("DatabaseName"),
            SecretArn=self.output("AdminSecretArn"),
            Sql=query,
        )
        deadline = time.monotonic() + timeout
        while True:
            described = data.describe_statement(Id=statement["Id"])
            if described["Status"] == "FINISHED":
                break
            if described["Status"] in ("FAILED", "ABORTED"):
                raise RuntimeError(f"{query!r}: {described.get('Error')}")
            if time.monotonic() > deadline:
                raise TimeoutError(query)
            time.sleep(0.005)
        if not described["HasResultSet"]:
            return []
        result = data.get_statement_result(Id=statement["Id"])
        names = [column["name"] for column in result["ColumnMetadata"]]
        return [
            dict(zip(names, (_value(field) for field in record), strict=True))
            for record in result["Records"]
        ]


def _value(field: dict[str, Any]) -> Any:
    if field.get("isNull"):
        return None
    for key in ("stringValue", "longValue", "doubleValue", "booleanValue"):
        if key in field:
            return field[key]
    return None


def train_endpoints(
    cloud: LocalCloud, stack: TicketsStack, say: Callable[[str], None] = lambda _: None
) -> dict[str, str]:
    """What a user does after deploying without endpoint ARNs: upload the training files under
    `training/` and start the training workflow, which trains both classifiers, deploys their
    endpoints and records the ARNs in the SSM parameters. The endpoint ARNs by role."""
    s3 = cloud.client("s3")
    for file_name in TRAINING_FILES.values():
        s3.put_object(
            Bucket=stack.output("TrainingBucketName"),
            Key=f"training/{file_name}",
            Body=(SAMPLES / file_name).read_bytes(),
        )
    sfn = cloud.client("stepfunctions")
    execution = sfn.start_execution(
        stateMachineArn=stack.output("TrainingStateMachineArn"), name="initial-training"
    )["executionArn"]
    say("uploaded training/operation.csv and training/resource.csv; training both classifiers")
    cloud.settle(timeout=300)
    described = sfn.describe_execution(executionArn=execution)
    if described["status"] != "SUCCEEDED":
        raise RuntimeError(f"training ended {described['status']}: {described.get('cause')}")
    classifiers = json.loads(described["output"])["classifiers"]
    comprehend = cloud.client("comprehend")
    for classifier in classifiers:
        properties = comprehend.describe_document_classifier(
            DocumentClassifierArn=classifier["modelArn"]
        )["DocumentClassifierProperties"]
        metrics = properties["ClassifierMetadata"]["EvaluationMetrics"]
        say(
            f"{classifier['role']} classifier trained (held-out accuracy {metrics['Accuracy']}, "
            f"F1 {metrics['F1Score']}); endpoint in service, its ARN in SSM"
        )
    return {c["role"]: c["endpointArn"] for c in classifiers}


def deploy(cloud: LocalCloud, stack_name: str | None = None) -> TicketsStack:
    return TicketsStack(
        cloud, cloud.deploy(stack_name or find_stack(cloud, "TicketClassification-"))
    )


def read_events(path: Path) -> list[Any]:
    """Ticket events from a file: a JSON list, or one JSON object per line (JSON Lines)."""
    text = path.read_text(encoding="utf-8")
    try:
        loaded = json.loads(text)
    except json.JSONDecodeError:
        loaded = None
    if isinstance(loaded, list):
        return loaded
    if isinstance(loaded, dict):
        return [loaded]
    events = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise ValueError(f"{path} line {number}: not JSON: {error.msg}") from None
    return events


def run(
    assembly_dir: Path,
    out_dir: Path,
    count: int = DEFAULT_COUNT,
    progress: TextIO = sys.stderr,
    events: list[Any] | None = None,
) -> dict[str, Any]:
    """Classify `count` generated tickets and one bad one, or the user's own `events`
    (the classifier's event format), each as an invocation of TicketClassifier."""
    from localcloud.demos.ticket_classification_report import write_report

    say = narrator(progress)

    tickets = [] if events is not None else sample_tickets(count)
    if events is None:
        # the samples, and a ticket without description or time
        events = [t.event() for t in tickets] + [{"TicketId": "T-bad", "TicketTitle": "x"}]
    with LocalCloud(assembly_dir, work_dir=out_dir / ".localcloud") as cloud:
        stack = deploy(cloud)
        say(f"deployed {stack.stack.name}; the tickets table exists in the warehouse")
        train_endpoints(cloud, stack, say)
        accepted: list[tuple[str, Any]] = []
        rejected: list[str] = []
        for number, event in enumerate(events, start=1):
            ticket_id = event.get("TicketId") if isinstance(event, dict) else None
            name = str(ticket_id) if ticket_id else f"ticket #{number}"
            answer = stack.classify(event)
            if "Error" in answer:
                rejected.append(name)  # answered with its error and written nowhere
                say(f"{name}: {answer['Error']['Code']}: {answer['Error']['Message']}")
            else:
                accepted.append((name, event))
        repeats = accepted[: max(1, len(accepted) // 10)]
        for name, event in repeats:
            if not stack.classify(event)["Duplicate"]:
                raise RuntimeError(f"{name} was classified twice")
        say(f"classified {len(accepted)} tickets, then sent {len(repeats)} of them again")
        cloud.settle(timeout=120)
        stack.wait_delivered()
        rows = stack.sql("SELECT id, operation, resource FROM tickets")
        duplicates = len(rows) - len({row["id"] for row in rows})
        delivered = stack.sql(f"SELECT COUNT(*) AS n FROM {TABLE}")[0]["n"]
        say(
            f"warehouse: {len(rows)} rows in tickets, {duplicates} duplicate ids "
            f"({delivered} records loaded: Firehose delivers at least once)"
        )
        items = accounting(
            [name for name, _ in accepted] + rejected, [row["id"] for row in rows], rejected
        )
        truth = {t.ticket_id: t for t in tickets}  # known for the generated tickets only
        operation_hits = sum(
            1 for r in rows if r["id"] in truth and truth[r["id"]].operation == r["operation"]
        )
        resource_hits = sum(
            1 for r in rows if r["id"] in truth and truth[r["id"]].resource == r["resource"]
        )
        scored = max(1, sum(1 for r in rows if r["id"] in truth))
        report = write_report(stack.sql, out_dir / "report")
        say(f"report written to {report}")
        least_privilege(cloud, say, unused=False)
        return {
            "workflow": "ticket_classification",
            "tickets": len(accepted),
            "rows": len(rows),
            "duplicates": duplicates,
            "items": items,
            "operation_accuracy": round(operation_hits / scored, 3) if truth else None,
            "resource_accuracy": round(resource_hits / scored, 3) if truth else None,
            "report": str(report),
            "costUsd": local_run_cost(cloud),
        }
