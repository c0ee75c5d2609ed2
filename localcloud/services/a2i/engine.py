"""Local Amazon Augmented AI (A2I): human loops, their flow definitions and task UIs.

What it emulates:
- SageMaker's `CreateHumanTaskUi`, `DescribeHumanTaskUi`, `DeleteHumanTaskUi`,
  `CreateFlowDefinition`, `DescribeFlowDefinition` and `DeleteFlowDefinition` (moto has none of
  them); every other SageMaker call still reaches moto. `AWS::SageMaker::HumanTaskUi` resources
  are provisioned through `CreateHumanTaskUi`. A flow definition names its task UI,
  its output path (`s3://...`) and the role A2I writes output with; names are unique per
  account and region (`ResourceInUse`), and a missing task UI is `ResourceNotFound`.
- The A2I runtime (`sagemaker-a2i-runtime`, REST-JSON): `StartHumanLoop`, `DescribeHumanLoop`,
  `ListHumanLoops`, `StopHumanLoop`, `DeleteHumanLoop`. Loop names are unique per account and
  region: a second `StartHumanLoop` with a name in use is `ConflictException`. `InputContent`
  must be a JSON object. Statuses follow A2I: `InProgress` until a reviewer submits
  (`Completed`) or someone stops it (`Stopped`); only a finished loop can be deleted.
- A reviewer's submission (`complete`, called by the review portal or the oracle reviewer)
  writes the output where A2I does, `<S3OutputPath>/<flow-definition-name>/YYYY/MM/DD/hh/mm/ss/
  <human-loop-name>/output.json` (the loop's creation time, UTC), with `flowDefinitionArn`,
  `humanAnswers` (`answerContent`, `acceptanceTime`, `submissionTime`, `timeSpentInSeconds`,
  `workerId`, `workerMetadata`), `humanLoopName` and `inputContent`, written with the flow
  definition's role. Completed and stopped loops publish A2I's EventBridge event
  (`source` `aws.sagemaker`, `detail-type` "SageMaker A2I HumanLoop Status Change").

What it does not emulate: work teams and the worker portal (the local review portal stands in
for it; the workteam ARN is kept, not checked), task availability and time limits, more than
one worker per task (`TaskCount`), activation conditions of the built-in task types, output
encryption with KMS, and the Liquid rendering of the task template (the portal shows each
item's text and the categories the input names).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from localcloud.core.clock import LocalClock
from localcloud.core.protocol import CallContext, LocalEngine, ServiceError, existing
from localcloud.core.provision import ProvisionRequest, _state, provisioner
from localcloud.core.template import ResourceState

STATUS_EVENT = "SageMaker A2I HumanLoop Status Change"
FINISHED = ("Completed", "Stopped", "Failed")


@dataclass
class TaskUi:
    name: str
    arn: str
    template: str
    created: datetime


@dataclass
class FlowDefinition:
    name: str
    arn: str
    task_ui_arn: str
    workteam_arn: str
    output_path: str
    role_arn: str
    config: dict[str, Any]
    created: datetime


@dataclass
class HumanLoop:
    name: str
    arn: str
    flow: FlowDefinition
    input_content: str
    created: datetime
    status: str = "InProgress"
    output_uri: str | None = None
    failure_reason: str | None = None
    answers: list[dict[str, Any]] = field(default_factory=list)

    @property
    def input(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.input_content)
        return document


class A2iState:
    """What the SageMaker control plane and the A2I runtime share."""

    def __init__(self) -> None:
        self.task_uis: dict[str, TaskUi] = {}
        self.flows: dict[str, FlowDefinition] = {}
        self.loops: dict[str, HumanLoop] = {}
        self.lock = threading.RLock()


def _not_found(message: str) -> ServiceError:
    return ServiceError("ResourceNotFound", message)


class SageMakerFlowEngine(LocalEngine):
    """The SageMaker control-plane calls for human review resources (the rest is moto's)."""

    service_name = "sagemaker"
    operations: ClassVar[frozenset[str]] = frozenset(
        {
            "CreateHumanTaskUi", "DescribeHumanTaskUi", "DeleteHumanTaskUi",
            "CreateFlowDefinition", "DescribeFlowDefinition", "DeleteFlowDefinition",
        }
    )  # fmt: skip

    def __init__(self, state: A2iState, clock: LocalClock, account_id: str, region: str) -> None:
        super().__init__(clock, account_id, region)
        self.state = state
        self.base = f"arn:aws:sagemaker:{region}:{account_id}"

    def handle(self, operation: str, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        with self.state.lock:
            if operation == "CreateHumanTaskUi":
                return self._create_task_ui(params)
            if operation == "DescribeHumanTaskUi":
                ui = self._task_ui(params["HumanTaskUiName"])
                return {
                    "HumanTaskUiArn": ui.arn,
                    "HumanTaskUiName": ui.name,
                    "HumanTaskUiStatus": "Active",
                    "CreationTime": ui.created,
                    "UiTemplate": {
                        "Url": f"s3://localcloud-task-uis/{ui.name}",
                        "ContentSha256": "",
                    },
                }
            if operation == "DeleteHumanTaskUi":
                self._task_ui(params["HumanTaskUiName"])
                del self.state.task_uis[params["HumanTaskUiName"]]
                return {}
            if operation == "CreateFlowDefinition":
                return self._create_flow(params)
            if operation == "DescribeFlowDefinition":
                flow = self._flow(params["FlowDefinitionName"])
                return {
                    "FlowDefinitionArn": flow.arn,
                    "FlowDefinitionName": flow.name,
                    "FlowDefinitionStatus": "Active",
                    "CreationTime": flow.created,
                    "HumanLoopConfig": flow.config,
                    "OutputConfig": {"S3OutputPath": flow.output_path},
                    "RoleArn": flow.role_arn,
                }
            if operation == "DeleteFlowDefinition":
                self._flow(params["FlowDefinitionName"])
                del self.state.flows[params["FlowDefinitionName"]]
                return {}
        raise ServiceError("UnknownOperationException", f"{operation} is not emulated")

    def _create_task_ui(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["HumanTaskUiName"]
        if name in self.state.task_uis:
            raise ServiceError("ResourceInUse", f"Human task UI {name} already exists.")
        content = params["UiTemplate"]["Content"]
        if "crowd-form" not in content:
            raise ServiceError("ValidationException", "The UI template must contain a crowd-form.")
        arn = f"{self.base}:human-task-ui/{name}"
        self.state.task_uis[name] = TaskUi(name, arn, content, self.clock.now())
        return {"HumanTaskUiArn": arn}

    def _create_flow(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["FlowDefinitionName"]
        if name in self.state.flows:
            raise ServiceError("ResourceInUse", f"Flow definition {name} already exists.")
        config = params["HumanLoopConfig"]
        ui_arn = config["HumanTaskUiArn"]
        if not any(ui.arn == ui_arn for ui in self.state.task_uis.values()):
            raise _not_found(f"Human task UI {ui_arn} does not exist.")
        output = params["OutputConfig"]["S3OutputPath"]
        if not output.startswith("s3://"):
            raise ServiceError("ValidationException", f"S3OutputPath {output} is not an s3:// URI.")
        arn = f"{self.base}:flow-definition/{name}"
        self.state.flows[name] = FlowDefinition(
            name, arn, ui_arn, config["WorkteamArn"], output.rstrip("/"), params["RoleArn"],
            config, self.clock.now(),
        )  # fmt: skip
        return {"FlowDefinitionArn": arn}

    def _task_ui(self, name: str) -> TaskUi:
        return existing(
            self.state.task_uis, name, _not_found(f"Human task UI {name} does not exist.")
        )

    def _flow(self, name: str) -> FlowDefinition:
        return existing(
            self.state.flows, name, _not_found(f"Flow definition {name} does not exist.")
        )


class A2iRuntimeEngine(LocalEngine):
    service_name = "sagemaker-a2i-runtime"

    def __init__(
        self,
        state: A2iState,
        clock: LocalClock,
        s3_for: Callable[[str], Any],
        emit_event: Callable[[dict[str, Any]], None],
        account_id: str,
        region: str,
    ) -> None:
        super().__init__(clock, account_id, region)
        self.state = state
        self.s3_for = s3_for
        self.emit_event = emit_event
        self.base = f"arn:aws:sagemaker:{region}:{account_id}"

    # the API -------------------------------------------------------------------------------
    def handle(self, operation: str, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        with self.state.lock:
            if operation == "StartHumanLoop":
                return self._start(params)
            if operation == "DescribeHumanLoop":
                return self._describe(self._loop(params["HumanLoopName"]))
            if operation == "ListHumanLoops":
                return self._list(params)
            if operation == "StopHumanLoop":
                loop = self._loop(params["HumanLoopName"])
                if loop.status != "InProgress":
                    raise ServiceError(
                        "ValidationException", f"Human loop {loop.name} is {loop.status}."
                    )
                self._finish(loop, "Stopped")
                return {}
            if operation == "DeleteHumanLoop":
                loop = self._loop(params["HumanLoopName"])
                if loop.status not in FINISHED:
                    raise ServiceError(
                        "ValidationException",
                        f"Human loop {loop.name} is {loop.status}; stop it before deleting it.",
                    )
                del self.state.loops[loop.name]
                return {}
        raise ServiceError("UnknownOperationException", f"{operation} is not emulated")

    def _start(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["HumanLoopName"]
        flow_arn = params["FlowDefinitionArn"]
        flow = next((f for f in self.state.flows.values() if f.arn == flow_arn), None)
        if flow is None:
            raise ServiceError(
                "ResourceNotFoundException", f"Flow definition {flow_arn} not found."
            )
        if name in self.state.loops:
            raise ServiceError("ConflictException", f"Human loop {name} already exists.")
        content = params["HumanLoopInput"]["InputContent"]
        try:
            document = json.loads(content)
        except ValueError:
            raise ServiceError("ValidationException", "InputContent is not valid JSON.") from None
        if not isinstance(document, dict):
            raise ServiceError("ValidationException", "InputContent must be a JSON object.")
        arn = f"{self.base}:human-loop/{name}"
        self.state.loops[name] = HumanLoop(name, arn, flow, content, self.clock.now())
        return {"HumanLoopArn": arn}

    def _describe(self, loop: HumanLoop) -> dict[str, Any]:
        result: dict[str, Any] = {
            "CreationTime": loop.created,
            "HumanLoopStatus": loop.status,
            "HumanLoopName": loop.name,
            "HumanLoopArn": loop.arn,
            "FlowDefinitionArn": loop.flow.arn,
        }
        if loop.output_uri:
            result["HumanLoopOutput"] = {"OutputS3Uri": loop.output_uri}
        if loop.failure_reason:
            result["FailureReason"] = loop.failure_reason
        return result

    def _list(self, params: dict[str, Any]) -> dict[str, Any]:
        loops = [
            loop
            for loop in self.state.loops.values()
            if loop.flow.arn == params["FlowDefinitionArn"]
            and ("CreationTimeAfter" not in params or loop.created > params["CreationTimeAfter"])
            and ("CreationTimeBefore" not in params or loop.created < params["CreationTimeBefore"])
        ]
        loops.sort(key=lambda loop: (loop.created, loop.name))
        if params.get("SortOrder", "Ascending") == "Descending":
            loops.reverse()
        start = int(params.get("NextToken") or 0)
        size = int(params.get("MaxResults", 100))
        page = loops[start : start + size]
        result: dict[str, Any] = {
            "HumanLoopSummaries": [
                {
                    "HumanLoopName": loop.name,
                    "HumanLoopStatus": loop.status,
                    "CreationTime": loop.created,
                    "FlowDefinitionArn": loop.flow.arn,
                    **({"FailureReason": loop.failure_reason} if loop.failure_reason else {}),
                }
                for loop in page
            ]
        }
        if start + size < len(loops):
            result["NextToken"] = str(start + size)
        return result

    def _loop(self, name: str) -> HumanLoop:
        missing = ServiceError("ResourceNotFoundException", f"Human loop {name} not found.")
        return existing(self.state.loops, name, missing)

    # reviewers -----------------------------------------------------------------------------
    def pending(self) -> list[HumanLoop]:
        with self.state.lock:
            return sorted(
                (loop for loop in self.state.loops.values() if loop.status == "InProgress"),
                key=lambda loop: (loop.created, loop.name),
            )

    def task_template(self, loop: HumanLoop) -> str:
        ui = next(u for u in self.state.task_uis.values() if u.arn == loop.flow.task_ui_arn)
        return ui.template

    def complete(
        self, name: str, answer_content: dict[str, Any], worker_id: str = "local-reviewer"
    ) -> str:
        """A reviewer submits the task: write A2I's output object and finish the loop.
        Returns the output's S3 URI."""
        with self.state.lock:
            loop = self._loop(name)
            if loop.status != "InProgress":
                raise ServiceError("ValidationException", f"Human loop {name} is {loop.status}.")
            now = self.clock.now()
            answer = {
                "acceptanceTime": _iso(loop.created),
                "answerContent": answer_content,
                "submissionTime": _iso(now),
                "timeSpentInSeconds": max(0.0, (now - loop.created).total_seconds()),
                "workerId": worker_id,
                "workerMetadata": {
                    "identityData": {
                        "identityProviderType": "Local",
                        "issuer": "localcloud",
                        "sub": worker_id,
                    }
                },
            }
            output = {
                "flowDefinitionArn": loop.flow.arn,
                "humanAnswers": [answer],
                "humanLoopName": loop.name,
                "inputContent": loop.input,
            }
            bucket, _, prefix = loop.flow.output_path.removeprefix("s3://").partition("/")
            key = "/".join(
                part
                for part in (
                    prefix.strip("/"),
                    loop.flow.name,
                    loop.created.strftime("%Y/%m/%d/%H/%M/%S"),
                    loop.name,
                    "output.json",
                )
                if part
            )
            self.s3_for(loop.flow.role_arn).put_object(
                Bucket=bucket, Key=key, Body=json.dumps(output).encode()
            )
            loop.output_uri = f"s3://{bucket}/{key}"
            loop.answers = [answer]
            self._finish(loop, "Completed")
            return loop.output_uri

    def _finish(self, loop: HumanLoop, status: str) -> None:
        loop.status = status
        detail: dict[str, Any] = {
            "creationTime": _iso(loop.created),
            "failureCode": None,
            "failureReason": loop.failure_reason,
            "flowDefinitionArn": loop.flow.arn,
            "humanLoopArn": loop.arn,
            "humanLoopName": loop.name,
            "humanLoopStatus": status,
        }
        if loop.output_uri:
            detail["humanLoopOutput"] = {"outputS3Uri": loop.output_uri}
        self.emit_event(
            {
                "Source": "aws.sagemaker",
                "DetailType": STATUS_EVENT,
                "Resources": [loop.arn],
                "Detail": json.dumps(detail),
            }
        )


def _iso(moment: datetime) -> str:
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


@provisioner("AWS::SageMaker::HumanTaskUi")
def _human_task_ui(request: ProvisionRequest) -> ResourceState:
    """CloudFormation creates the task UI with SageMaker's CreateHumanTaskUi."""
    props = request.properties
    arn = request.client("sagemaker").create_human_task_ui(
        HumanTaskUiName=props["HumanTaskUiName"],
        UiTemplate={"Content": props["UiTemplate"]["Content"]},
    )["HumanTaskUiArn"]
    return _state(request, arn, HumanTaskUiArn=arn)
