"""EndpointKeeper: applies the endpoint lifecycle policy to the stack's Comprehend endpoints.

Invoked every minute by an EventBridge schedule (scaling policies), asynchronously by a
caller that found an endpoint gone (`{"wake": "<endpoint name>"}`, see
`lambdas/shared/endpoint_usage.py`), and by its own deadline queue: when an idle endpoint's
timeout runs out before the schedule's next run, the keeper sends itself a message delayed
until that moment (`endpoint_policy.deadline_run`), so the endpoint is deleted then rather
than up to a minute later. Every run decides afresh from the table, so a use recorded after
the message was sent keeps the endpoint, and a duplicate or late message deletes nothing
that is not idle. For each endpoint it reads the callers' last use, any wake-up request and
the latest time a caller was told to come back from its table, describes the endpoint and
lets `lambdas.shared.endpoint_policy.decide` choose:

* delete: `DeleteEndpoint`, after recording the endpoint's spec (model, inference units, data
  access role) in the table;
* create: `CreateEndpoint` from that spec, tagged with the stack name, with a client request
  token derived from the wake-up request (a duplicate run creates nothing twice);
* keep: nothing.

With a queue (tickets), work waiting in it wakes the endpoints, and the queue's event source
mapping is enabled only while every endpoint serves, so tickets wait in the queue (never
received, never dead-lettered) while the endpoints are down.

Under `scale-to-zero` the keeper's own schedule rests (the rule is disabled) while no endpoint
exists and nothing waits, so an idle stack runs nothing at all; a caller's wake-up request or
the training workflow (which invokes the keeper after deploying an endpoint) enables it again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from lambdas.endpoint_keeper.settings import KeeperSettings
from lambdas.shared.aws import conditional_write, queue_depth
from lambdas.shared.endpoint_policy import (
    CREATING,
    IN_SERVICE,
    MISSING,
    SCALE_TO_ZERO,
    Action,
    Decision,
    EndpointPolicy,
    Memory,
    Observation,
    deadline_run,
    decide,
)
from lambdas.shared.endpoint_usage import endpoint_name
from lambdas.shared.kit import HandlerKit
from lambdas.shared.s3 import error_code

kit = HandlerKit(KeeperSettings)


def _now() -> float:
    # The module's `time` at call time (the local cloud hands it its clock).
    return time.time()


@dataclass(frozen=True)
class EndpointRecord:
    """The keeper's table item of one endpoint."""

    last_used: float | None
    wake_requested: float | None
    memory: Memory
    spec: dict[str, Any] | None
    retry_due: float | None = None
    deadline_run: float | None = None  # when the deadline run last scheduled comes

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> EndpointRecord:
        def number(key: str) -> float | None:
            return float(item[key]["N"]) if key in item else None

        spec = item.get("spec", {}).get("S")
        return cls(
            number("lastUsed"),
            number("wakeRequested"),
            Memory.from_json(item.get("memory", {}).get("S")),
            json.loads(spec) if spec else None,
            number("retryDue"),
            number("deadlineRun"),
        )


class Keeper:
    def __init__(
        self,
        comprehend: Any,
        dynamodb: Any,
        settings: KeeperSettings,
        clock: Callable[[], float] | None = None,
        sqs: Any = None,
        lambda_client: Any = None,
        events: Any = None,
    ) -> None:
        self.comprehend = comprehend
        self.dynamodb = dynamodb
        self.sqs = sqs
        self.lambda_client = lambda_client
        self.events = events
        self.settings = settings
        self.policy = EndpointPolicy.from_json(settings.policy)
        self.clock = clock or _now

    def run(self) -> dict[str, Any]:
        waiting = self._waiting()
        results = {arn: self.keep(arn, waiting) for arn in self.settings.endpoint_arns}
        if self.settings.event_source_mapping:
            serving = all(r["status"] == IN_SERVICE for r in results.values())
            self._feed_queue(serving)
        if self.settings.rule_name and self.policy.mode == SCALE_TO_ZERO:
            resting = waiting == 0 and all(r["status"] == MISSING for r in results.values())
            self._schedule(enabled=not resting)
        return {"waiting": waiting, "endpoints": results}

    def keep(self, arn: str, waiting: int) -> dict[str, Any]:
        name, now = endpoint_name(arn), self.clock()
        record = EndpointRecord.from_item(
            self.dynamodb.get_item(
                TableName=self.settings.table, Key={"endpoint": {"S": name}}, ConsistentRead=True
            ).get("Item", {})
        )
        properties = self._describe(arn)
        status = MISSING if properties is None else str(properties["Status"])
        ready_at = None
        spec = record.spec
        if properties is not None and status == IN_SERVICE:
            ready_at = properties["LastModifiedTime"].timestamp()
            spec = {
                "ModelArn": properties["ModelArn"],
                "DesiredInferenceUnits": properties.get("CurrentInferenceUnits")
                or properties["DesiredInferenceUnits"],
                **(
                    {"DataAccessRoleArn": properties["DataAccessRoleArn"]}
                    if properties.get("DataAccessRoleArn")
                    else {}
                ),
            }
        wake = record.wake_requested
        memory = record.memory.observe(
            record.last_used, ready_at, now, warming=status == CREATING, retry_due=record.retry_due
        )
        decision = decide(
            Observation(status, ready_at, record.last_used, wake, waiting, record.retry_due),
            self.policy,
            now,
            memory,
            self.settings.warm_up_seconds,
        )
        acted = self._act(arn, name, decision, spec, wake, now)
        scheduled = self._schedule_deadline(name, decision, record.deadline_run, now)
        self._save(
            name, memory, spec, answered=wake if status == IN_SERVICE else None, run=scheduled
        )
        kit.logger.info(
            "endpoint kept",
            endpoint=name,
            status=status,
            action=decision.action.value,
            acted=acted,
            reason=decision.reason,
            idle_timeout=decision.idle_timeout_seconds,
            deadline_run=scheduled,
        )
        after = {Action.CREATE: "CREATING", Action.DELETE: "DELETING"}
        return {
            "status": after[decision.action] if acted else status,
            "action": decision.action.value,
            "acted": acted,
            "reason": decision.reason,
        }

    def _describe(self, arn: str) -> dict[str, Any] | None:
        try:
            properties: dict[str, Any] = self.comprehend.describe_endpoint(EndpointArn=arn)[
                "EndpointProperties"
            ]
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                return None
            raise
        return properties

    def _act(
        self,
        arn: str,
        name: str,
        decision: Decision,
        spec: dict[str, Any] | None,
        wake: float | None,
        now: float,
    ) -> bool:
        try:
            if decision.action is Action.DELETE:
                self.comprehend.delete_endpoint(EndpointArn=arn)
                kit.count("EndpointsDeleted")
                return True
            if decision.action is Action.CREATE:
                if spec is None:
                    kit.logger.warning(
                        "no model known for the endpoint yet: the training workflow creates it "
                        "first",
                        endpoint=name,
                    )
                    return False
                tags = [{"Key": "StackName", "Value": self.settings.stack_name}]
                self.comprehend.create_endpoint(
                    EndpointName=name,
                    **spec,
                    Tags=tags if self.settings.stack_name else [],
                    ClientRequestToken=f"keeper-{int((wake or now) * 1000)}",
                )
                kit.count("EndpointsCreated")
                return True
        except ClientError as error:
            # Still DELETING (a create) or CREATING/UPDATING (a delete): the next run acts.
            if error_code(error) != "ResourceInUseException":
                raise
            kit.logger.info("endpoint busy; acting on a later run", endpoint=name)
        return False

    def _schedule_deadline(
        self, name: str, decision: Decision, pending: float | None, now: float
    ) -> float | None:
        """Send the keeper a message delayed until its next run for the endpoint is due
        (`Decision.run_at`: the idle deadline, just after callers are due back, or a look at
        a wanted endpoint still being deleted), if that comes before the schedule's next run
        and no run is pending; when the run comes."""
        if not self.settings.deadline_queue_url or self.sqs is None:
            return None
        delay = deadline_run(decision, now, pending)
        if delay is None:
            return None
        self.sqs.send_message(
            QueueUrl=self.settings.deadline_queue_url,
            MessageBody=json.dumps({"deadline": name, "at": decision.run_at}),
            DelaySeconds=delay,
        )
        return now + delay

    def _save(
        self,
        name: str,
        memory: Memory,
        spec: dict[str, Any] | None,
        answered: float | None,
        run: float | None = None,
    ) -> None:
        names = {"#memory": "memory"}
        values: dict[str, Any] = {":memory": {"S": memory.as_json()}}
        expression = "SET #memory = :memory"
        if spec is not None:
            expression += ", spec = :spec"
            values[":spec"] = {"S": json.dumps(spec, sort_keys=True)}
        if run is not None:
            expression += ", deadlineRun = :run"
            values[":run"] = {"N": f"{run:.3f}"}
        if answered is not None:
            self._remove_wake(name, answered)
        self.dynamodb.update_item(
            TableName=self.settings.table,
            Key={"endpoint": {"S": name}},
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def _remove_wake(self, name: str, answered: float) -> None:
        """The wake-up request is answered; a newer request (another value) stays."""
        conditional_write(
            self.dynamodb.update_item,
            TableName=self.settings.table,
            Key={"endpoint": {"S": name}},
            UpdateExpression="REMOVE wakeRequested",
            ConditionExpression="wakeRequested = :answered",
            ExpressionAttributeValues={":answered": {"N": f"{answered:.3f}"}},
        )

    def _waiting(self) -> int:
        if not self.settings.queue_url or self.sqs is None:
            return 0
        return queue_depth(self.sqs, self.settings.queue_url)

    def _schedule(self, enabled: bool) -> None:
        """Run every minute while an endpoint exists or work waits; rest otherwise."""
        name = self.settings.rule_name
        state = self.events.describe_rule(Name=name)["State"]
        if (state == "ENABLED") != enabled:
            if enabled:
                self.events.enable_rule(Name=name)
            else:
                self.events.disable_rule(Name=name)
            kit.logger.info("keeper schedule switched", enabled=enabled)

    def _feed_queue(self, serving: bool) -> None:
        """The queue feeds the classifier only while every endpoint serves."""
        uuid = self.settings.event_source_mapping
        mapping = self.lambda_client.get_event_source_mapping(UUID=uuid)
        enabled = mapping.get("State") in ("Enabled", "Enabling", "Updating")
        if enabled != serving:
            self.lambda_client.update_event_source_mapping(UUID=uuid, Enabled=serving)
            kit.logger.info("queue feed switched", enabled=serving)


def _is_deadline_batch(event: Any) -> bool:
    records = event.get("Records") if isinstance(event, dict) else None
    return isinstance(records, list) and bool(records)


@kit.handler()
def handler(event: Any, settings: KeeperSettings) -> dict[str, Any]:
    keeper = Keeper(
        kit.clients("comprehend"),
        kit.clients("dynamodb"),
        settings,
        sqs=kit.clients("sqs") if settings.queue_url or settings.deadline_queue_url else None,
        lambda_client=kit.clients("lambda") if settings.event_source_mapping else None,
        events=kit.clients("events") if settings.rule_name else None,
    )
    result = keeper.run()
    if _is_deadline_batch(event):
        # One run serves every deadline in the batch; an error fails the batch, which comes
        # back after its visibility timeout.
        return {"batchItemFailures": []}
    return result
