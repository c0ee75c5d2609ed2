"""Event delivery between services: what AWS does in the background between API calls.

- SQS event source mappings: a poller receives batches as the function's role, invokes the
  function, and deletes what succeeded (all of the batch, or all but the `batchItemFailures`
  when the mapping reports batch item failures). A failed batch stays on the queue until its
  visibility timeout passes on the local clock; SQS moves it to the dead-letter queue after
  `maxReceiveCount` receives.
- Asynchronous invocations (S3 and SNS triggers, EventBridge targets, `InvocationType=Event`):
  two retries, one and two minutes apart on the local clock, then the on-failure destination
  or dead-letter queue, as Lambda does by default.
- EventBridge rules: events are matched by moto; this module delivers them to Lambda, SQS and
  SNS targets (as `events.amazonaws.com`) and Step Functions targets (as the target's role), and
  fires `rate(...)`/`cron(...)` schedules on the local clock. A target EventBridge may not
  deliver to goes to the target's dead-letter queue, if it has one, without retries.
- Service-to-service deliveries (S3 notifications, SNS subscriptions, EventBridge targets,
  CloudWatch alarm actions) are authorized by the target's resource-based policy as AWS
  authorizes them: the delivering service principal, the source resource as `aws:SourceArn`
  and its account as `aws:SourceAccount`, over TLS; for an encrypted topic, the KMS key's
  policy too. What a policy refuses is not delivered; it is recorded in `Delivery.denied`.
- CloudWatch alarms of the deployed templates are evaluated once a minute of local time
  (`localcloud.core.alarms`).
- A call a delivery makes that fails with a transient error (throttling, a server fault, a
  timeout; e.g. under `--chaos`) is retried later, as the services retry: the SQS poller polls
  again after a second, a batch whose deletion failed comes back after its visibility timeout
  (delivered again: at least once), and a destination or a Step Functions target is tried again
  with backoff (`BACKGROUND_RETRY_DELAYS`), up to EventBridge's 185 attempts.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import json
import math
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from localcloud.core import moto_hooks
from localcloud.core.alarms import AlarmEvaluator
from localcloud.core.chaos import is_transient
from localcloud.core.policies import Caller, Decision, evaluate, evaluate_resource_policy

if TYPE_CHECKING:
    from localcloud.core.cloud import LocalCloud

ASYNC_RETRY_DELAYS = (60.0, 120.0)  # Lambda's documented backoff between async retries
# What each kind of target needs of EventBridge, in the target's resource policy.
EVENT_TARGET_ACTIONS = {
    "lambda": "lambda:InvokeFunction",
    "sqs": "sqs:SendMessage",
    "sns": "sns:Publish",
}
LONG_POLL_SECONDS = 20.0
POLL_RETRY_SECONDS = 1.0  # the SQS poller's pause after a failed ReceiveMessage
# Backoff between attempts of a delivery that failed transiently, and EventBridge's default
# retry policy's limit (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-retry-policy.html).
BACKGROUND_RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0)
BACKGROUND_MAX_ATTEMPTS = 185


@dataclass(frozen=True)
class DeniedDelivery:
    """A delivery the target's resource policy refused: AWS drops it (or counts it in the
    source's failure metrics), so the local cloud does not deliver it either."""

    service: str  # the delivering service principal
    source: str  # the resource it delivered for: bucket, topic, rule or alarm ARN
    action: str
    target: str
    reason: str


def service_request_context(service: str, source_arn: str, source_account: str) -> dict[str, str]:
    """The request context of a delivery a service makes on a resource owner's behalf. The IAM
    reference (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html)
    documents `aws:SourceArn`/`aws:SourceAccount` as present exactly then, `aws:SecureTransport`
    as always present (services call each other over TLS), and
    `aws:PrincipalIsAWSService`/`aws:PrincipalServiceName` for calls by a service principal."""
    return {
        "aws:SourceArn": source_arn,
        "aws:SourceAccount": source_account,
        "aws:SecureTransport": "true",
        "aws:PrincipalIsAWSService": "true",
        "aws:PrincipalServiceName": service,
    }


# SNS's "Enable compatibility between event sources from AWS services and encrypted topics"
# (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html): a service publishing to
# a topic encrypted with a KMS key needs these two actions in the key's policy, and the key must
# be customer managed (an AWS managed key's policy lets no service principal use it).
TOPIC_KEY_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")


@dataclass(order=True)
class _Scheduled:
    """Work waiting on a heap: due at `due` on the local clock, in the order it was scheduled."""

    due: float
    sequence: int


_Work = TypeVar("_Work", bound=_Scheduled)


@dataclass(order=True)
class _Retry(_Scheduled):
    what: str = field(compare=False)
    action: Any = field(compare=False)
    attempt: int = field(compare=False, default=1)


@dataclass(order=True)
class _AsyncItem(_Scheduled):
    function: str = field(compare=False)
    event: Any = field(compare=False)
    attempt: int = field(compare=False, default=0)
    first_seen: float = field(compare=False, default=0.0)
    request_id: str = field(compare=False, default_factory=lambda: str(uuid.uuid4()))


class Delivery:
    """Runs in one background thread; each step does whatever is due on the local clock."""

    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        self._queue: list[_AsyncItem] = []
        self._sequence = itertools.count()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._busy = threading.Event()
        self._schedule_next: dict[str, float] = {}
        self._next_poll: dict[str, float] = {}
        self._queue_checked: set[str] = set()
        self._retries: list[_Retry] = []
        self.retried: list[str] = []  # deliveries that failed transiently and were tried again
        self.errors: list[str] = []
        self.denied: list[DeniedDelivery] = []
        self.alarms = AlarmEvaluator(cloud)

    # lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="localcloud-delivery", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._busy.set()
            try:
                worked = self.step()
            except Exception as exc:  # keep delivering; the error is reported by settle()
                self.errors.append(f"{type(exc).__name__}: {exc}")
                worked = False
            finally:
                self._busy.clear()
            if not worked:
                self._stop.wait(0.005)

    def step(self) -> bool:
        worked = self._run_due_retries()
        worked |= self._run_due_async()
        worked |= self._poll_event_sources()
        worked |= self._fire_schedules()
        worked |= self.alarms.step()
        return worked

    def idle(self) -> bool:
        with self._lock:
            pending = bool(self._queue) or bool(self._retries)
        return not pending and not self._busy.is_set()

    # deliveries retried after a transient failure ------------------------------------------
    def attempt(self, what: str, action: Any, attempt: int = 1) -> None:
        """Run `action` (a delivery's AWS call) now; if it fails transiently, again later."""
        try:
            action()
        except Exception as error:
            if not is_transient(error) or attempt >= BACKGROUND_MAX_ATTEMPTS:
                raise
            delay = BACKGROUND_RETRY_DELAYS[min(attempt, len(BACKGROUND_RETRY_DELAYS)) - 1]
            retry = _Retry(self.cloud.clock.time() + delay, next(self._sequence), what, action,
                           attempt + 1)  # fmt: skip
            with self._lock:
                heapq.heappush(self._retries, retry)
                self.retried.append(f"{what}: {type(error).__name__}: {error}")

    def _pop_due(self, heap: list[_Work], now: float) -> _Work | None:
        """The first work of `heap` if it is due at `now`, taken off the heap."""
        with self._lock:
            if not heap or heap[0].due > now:
                return None
            return heapq.heappop(heap)

    def _run_due_retries(self) -> bool:
        retry = self._pop_due(self._retries, self.cloud.clock.time())
        if retry is None:
            return False
        self.attempt(retry.what, retry.action, retry.attempt)
        return True

    # asynchronous invocation ---------------------------------------------------------------
    def invoke_async(self, function: str, event: Any) -> str:
        now = self.cloud.clock.time()
        item = _AsyncItem(now, next(self._sequence), function, event, 0, now)
        with self._lock:
            heapq.heappush(self._queue, item)
        return item.request_id

    def pending_async(self) -> int:
        with self._lock:
            return len(self._queue)

    def _run_due_async(self) -> bool:
        now = self.cloud.clock.time()
        item = self._pop_due(self._queue, now)
        if item is None:
            return False
        config = self.cloud.runtime.resolve(item.function)
        settings = self.cloud.async_settings.get(config.name, {})
        max_retries = settings.get("MaximumRetryAttempts", 2)
        result = self.cloud.runtime.invoke(config.name, item.event)
        if not result.failed:
            chaos = self.cloud.chaos
            if chaos is not None and chaos.repeats(f"lambda-async:{config.name}"):
                # Delivered again although it succeeded: asynchronous invocation is at least once.
                again = _AsyncItem(now + 1.0, next(self._sequence), item.function, item.event,
                                   item.attempt, item.first_seen, item.request_id)  # fmt: skip
                with self._lock:
                    heapq.heappush(self._queue, again)
            return True
        if item.attempt < max_retries:
            item.attempt += 1
            item.due = now + ASYNC_RETRY_DELAYS[min(item.attempt - 1, 1)]
            with self._lock:
                heapq.heappush(self._queue, item)
            return True
        self._on_async_failure(config.name, item, result.error or {})
        return True

    def _on_async_failure(self, function: str, item: _AsyncItem, error: dict[str, Any]) -> None:
        config = self.cloud.runtime.resolve(function)
        target = config.on_failure_destination or config.dead_letter_target
        if target is None:
            self.cloud.dropped_async.append((function, item.event, error))
            return
        if config.on_failure_destination:
            body = json.dumps(
                {
                    "version": "1.0",
                    "timestamp": self.cloud.clock.now().isoformat(),
                    "requestContext": {
                        "requestId": item.request_id,
                        "functionArn": f"{config.arn}:$LATEST",
                        "condition": "RetriesExhausted",
                        "approximateInvokeCount": item.attempt + 1,
                    },
                    "requestPayload": item.event,
                    "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
                    "responsePayload": error,
                }
            )
        else:
            body = json.dumps(item.event)
        self.attempt(
            f"{function}'s failure destination {target}",
            lambda: self._send_to(target, body, as_role=config.role_arn),
        )

    def _send_to(self, target_arn: str, body: str, as_role: str) -> None:
        service = target_arn.split(":")[2]
        if service == "sqs":
            sqs = self.cloud.client_as(as_role, "sqs")
            url = sqs.get_queue_url(QueueName=target_arn.split(":")[5])["QueueUrl"]
            sqs.send_message(QueueUrl=url, MessageBody=body)
        elif service == "sns":
            self.cloud.client_as(as_role, "sns").publish(TopicArn=target_arn, Message=body)
        elif service == "lambda":
            self.invoke_async(target_arn, json.loads(body))
        else:
            raise ValueError(f"unsupported asynchronous destination {target_arn}")

    # SQS event source mappings ---------------------------------------------------------------
    def _poll_event_sources(self) -> bool:
        worked = False
        for mapping in moto_hooks.sqs_event_source_mappings(
            self.cloud.account_id, self.cloud.region
        ):
            worked |= self._poll_queue(mapping)
        return worked

    def _poll_queue(self, mapping: Any) -> bool:
        now = self.cloud.clock.time()
        if now < self._next_poll.get(mapping.uuid, 0.0):
            return False
        config = self.cloud.runtime.resolve(mapping.function_arn)
        sqs = self.cloud.client_as(config.role_arn, "sqs")
        queue_name = mapping.event_source_arn.split(":")[5]
        queue_url = self.cloud.queue_url(queue_name)
        try:
            if mapping.uuid not in self._queue_checked:
                # Lambda's poller reads the queue's configuration when the mapping starts.
                sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])
                self._queue_checked.add(mapping.uuid)
            response = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=min(int(mapping.batch_size or 10), 10),
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
                WaitTimeSeconds=0,
            )
        except Exception as error:
            if not is_transient(error):
                raise
            self._next_poll[mapping.uuid] = now + POLL_RETRY_SECONDS  # the poller tries again
            return False
        messages = response.get("Messages", [])
        if not messages:
            # An idle poller long-polls: about one ReceiveMessage per 20 seconds.
            self._next_poll[mapping.uuid] = now + LONG_POLL_SECONDS
            return False
        self._next_poll.pop(mapping.uuid, None)
        # Under chaos a standard queue delivers as SQS may: out of order and at least once.
        chaos = None if queue_name.endswith(".fifo") else self.cloud.chaos
        if chaos is not None:
            messages = chaos.reordered(f"sqs:{queue_name}", messages)  # best-effort ordering
        event = {"Records": [self._sqs_record(m, mapping.event_source_arn) for m in messages]}
        result = self.cloud.runtime.invoke(config.name, event)
        if result.failed:
            return True  # the batch becomes visible again after the visibility timeout
        failed_ids: set[str] = set()
        reports = "ReportBatchItemFailures" in (mapping.function_response_types or [])
        if reports and isinstance(result.payload, dict):
            failed_ids = {
                item.get("itemIdentifier") for item in result.payload.get("batchItemFailures") or []
            }
            known = {m["MessageId"] for m in messages}
            if not failed_ids <= known:
                failed_ids = known  # Lambda treats an unknown identifier as a failed batch
        done = [m for m in messages if m["MessageId"] not in failed_ids]
        if done and chaos is not None and chaos.repeats(f"sqs:{queue_name}"):
            # A message handled but received again after its visibility timeout, as SQS's
            # at-least-once delivery allows (a copy on a server the delete did not reach).
            done = done[1:]
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            try:
                sqs.delete_message_batch(
                    QueueUrl=queue_url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                        for i, m in enumerate(chunk)
                    ],
                )
            except Exception as error:
                # Not deleted: the messages come back after their visibility timeout and are
                # delivered again, as SQS's at-least-once delivery allows.
                if not is_transient(error):
                    raise
                self.retried.append(f"DeleteMessageBatch on {queue_name}: {error}")
        return True

    def _sqs_record(self, message: dict[str, Any], source_arn: str) -> dict[str, Any]:
        attributes = message.get("Attributes", {})
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": {
                key: attributes[key]
                for key in (
                    "ApproximateReceiveCount",
                    "SentTimestamp",
                    "SenderId",
                    "ApproximateFirstReceiveTimestamp",
                    "MessageGroupId",
                    "MessageDeduplicationId",
                    "SequenceNumber",
                )
                if key in attributes
            },
            "messageAttributes": {
                name: {
                    "stringValue": value.get("StringValue"),
                    "binaryValue": value.get("BinaryValue"),
                    "stringListValues": [],
                    "binaryListValues": [],
                    "dataType": value["DataType"],
                }
                for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": source_arn,
            "awsRegion": self.cloud.region,
        }

    # service-to-service deliveries, authorized by the target's resource policy ---------------
    def authorize(
        self,
        service: str,
        source_arn: str,
        action: str,
        target_arn: str,
        *,
        extra_context: dict[str, str] | None = None,
        record: bool = True,
    ) -> bool:
        """Whether `service`, delivering on behalf of `source_arn`, may perform `action` on
        `target_arn`. A refusal is recorded in `denied` (unless `record` is false)."""
        context = service_request_context(service, source_arn, self.cloud.account_id)
        context.update(extra_context or {})
        reason = self._refusal(Caller.of_service(service), action, target_arn, context)
        if reason is None:
            return True
        if record:
            self.denied.append(DeniedDelivery(service, source_arn, action, target_arn, reason))
        return False

    def _refusal(
        self, caller: Caller, action: str, target_arn: str, context: dict[str, str]
    ) -> str | None:
        try:
            kind, document = self._resource_policy(target_arn)
        except LookupError as missing:
            return str(missing)
        decision, _ = evaluate_resource_policy(document, action, target_arn, caller, context)
        if decision is not Decision.ALLOW:
            verdict = "denies" if decision is Decision.DENY else "does not allow"
            return f"the {kind} of {target_arn} {verdict} {action} to {caller}"
        if target_arn.split(":")[2] == "sns":
            return self._topic_key_refusal(caller, target_arn, context)
        return None

    def _resource_policy(self, arn: str) -> tuple[str, dict[str, Any] | None]:
        """The resource-based policy that governs deliveries to `arn`, read from moto."""
        _, _, service, region, account, *rest = arn.split(":")
        if service == "sns":
            topic = moto_hooks.backend("sns", account, region).topics.get(arn)
            if topic is None:
                raise LookupError(f"topic {arn} does not exist")
            # With no policy set, SNS's default policy applies (moto keeps it as the policy).
            return "topic policy", json.loads(topic.policy)
        if service == "sqs":
            queue = moto_hooks.backend("sqs", account, region).queues.get(rest[0])
            if queue is None:
                raise LookupError(f"queue {arn} does not exist")
            return "queue policy", json.loads(queue.policy) if queue.policy else None
        if service == "lambda":
            function = moto_hooks.lambda_function(account, region, arn)
            if function is None:
                raise LookupError(f"function {arn} does not exist")
            return "function policy", {"Statement": list(function.policy.statements)}
        raise LookupError(f"deliveries to {service} resources are not emulated ({arn})")

    def _topic_key_refusal(
        self, caller: Caller, topic_arn: str, context: dict[str, str]
    ) -> str | None:
        region, account = topic_arn.split(":")[3:5]
        key_id = moto_hooks.backend("sns", account, region).topics[topic_arn].kms_master_key_id
        if not key_id:
            return None
        if key_id.split(":alias/")[-1].startswith(("alias/aws/", "aws/")):
            return f"{topic_arn} is encrypted with the AWS managed key {key_id}"
        backend = moto_hooks.backend("kms", account, region)
        try:
            key = backend.describe_key(key_id)
        except Exception:  # moto raises KeyError or NotFoundException for an unknown key
            return f"the KMS key {key_id} of {topic_arn} does not exist"
        for action in TOPIC_KEY_ACTIONS:
            decision, _ = evaluate_resource_policy(
                json.loads(key.policy), action, key.arn, caller, context
            )
            if decision is not Decision.ALLOW:
                return f"the key policy of {key.arn} does not allow {action} to {caller}"
        return None

    # EventBridge -------------------------------------------------------------------------------
    def deliver_event(self, rule: Any, event: dict[str, Any]) -> None:
        """Deliver a matched event to a rule's Lambda, SQS, SNS and Step Functions targets.
        EventBridge reaches Lambda, SQS and SNS through their resource policies and Step
        Functions through the target's role
        (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html)."""
        for target in rule.targets:
            payload = _target_input(target, event)
            arn = target["Arn"]
            service = arn.split(":")[2]
            if service == "states":
                role = target.get("RoleArn") or ""
                refusal = self._target_role_refusal(role, rule.arn, "states:StartExecution", arn)
                if refusal is not None:
                    self.denied.append(
                        DeniedDelivery(
                            "events.amazonaws.com", rule.arn, "states:StartExecution", arn, refusal
                        )
                    )
                    self._dead_letter_event(rule, target, event, refusal)
                    continue
                self._start_execution(role, arn, _execution_name(rule.name, event), payload)
                continue
            if service not in ("lambda", "sqs", "sns"):
                self.cloud.undelivered_events.append((rule.name, arn, event))
                continue
            action = EVENT_TARGET_ACTIONS[service]
            if not self.authorize("events.amazonaws.com", rule.arn, action, arn):
                self._dead_letter_event(rule, target, event, self.denied[-1].reason)
                continue
            if service == "lambda":
                self.invoke_async(arn, payload)
            else:
                self._service_send(
                    arn, payload if isinstance(payload, str) else json.dumps(payload)
                )

    def _start_execution(self, role: str, arn: str, name: str, payload: Any) -> None:
        """EventBridge retries a target that fails transiently; the execution name (from the
        event's id) makes a start that took effect before its answer was lost a no-op."""

        def start() -> None:
            try:
                self.cloud.client_as(role, "stepfunctions").start_execution(
                    stateMachineArn=arn, name=name, input=json.dumps(payload)
                )
            except Exception as error:
                code = getattr(error, "response", {}).get("Error", {}).get("Code")
                if code != "ExecutionAlreadyExists":
                    raise

        self.attempt(f"EventBridge target {arn}", start)

    def _target_role_refusal(
        self, role_arn: str, rule_arn: str, action: str, target_arn: str
    ) -> str | None:
        """EventBridge reaches a Step Functions target by assuming the target's role: the
        role's trust policy must let `events.amazonaws.com` assume it, and the role's own
        policies must allow the action on the target."""
        try:
            iam = moto_hooks.backend("iam", self.cloud.account_id, "global")
            role = iam.get_role_by_arn(role_arn)
        except Exception:  # moto's NotFoundException, or no role given
            return f"the target's role {role_arn or '(none)'} does not exist"
        context = service_request_context("events.amazonaws.com", rule_arn, self.cloud.account_id)
        trust, _ = evaluate_resource_policy(
            json.loads(role.assume_role_policy_document),
            "sts:AssumeRole",
            role_arn,
            Caller.of_service("events.amazonaws.com"),
            context,
        )
        if trust is not Decision.ALLOW:
            return f"the trust policy of {role_arn} does not let events.amazonaws.com assume it"
        policy = self.cloud.role_policies.get(role_arn)
        decision, _ = evaluate(policy.statements if policy else [], action, target_arn, {})
        if decision is not Decision.ALLOW:
            return f"the policies of {role_arn} do not allow {action} on {target_arn}"
        return None

    def _dead_letter_event(
        self, rule: Any, target: dict[str, Any], event: dict[str, Any], reason: str
    ) -> None:
        """EventBridge sends an event it may not deliver to the target's dead-letter queue at
        once, without retries, with the failure in message attributes
        (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html)."""
        queue_arn = (target.get("DeadLetterConfig") or {}).get("Arn")
        if not queue_arn:
            return
        if not self.authorize("events.amazonaws.com", rule.arn, "sqs:SendMessage", queue_arn):
            return
        _, _, _, region, account, name = queue_arn.split(":")
        # The attribute names are AWS's; their values here are the local cloud's words.
        attributes = {
            "RULE_ARN": rule.arn,
            "TARGET_ARN": target["Arn"],
            "ERROR_CODE": "NO_PERMISSIONS",
            "ERROR_MESSAGE": reason,
            "RETRY_ATTEMPTS": "0",
        }
        moto_hooks.backend("sqs", account, region).send_message(
            name,
            json.dumps(event),
            message_attributes={
                key: {"DataType": "String", "StringValue": value}
                for key, value in attributes.items()
            },
        )

    def _service_send(self, target_arn: str, body: str, subject: str | None = None) -> None:
        """Deliver as a service does: straight into the target, not as any IAM principal."""
        _, _, service, region, account, *rest = target_arn.split(":")
        if service == "sqs":
            moto_hooks.backend("sqs", account, region).send_message(rest[0], body)
        else:
            moto_hooks.backend("sns", account, region).publish(
                body, arn=target_arn, subject=subject
            )

    def _scheduled_rules(self) -> list[Any]:
        backend = moto_hooks.backend("events", self.cloud.account_id, self.cloud.region)
        return [
            rule
            for bus in list(backend.event_buses.values())
            for rule in list(bus.rules.values())
            if getattr(rule, "scheduled_expression", None) and rule.state == "ENABLED"
        ]

    def start_schedules(self) -> None:
        """Start counting the schedules of rules just created from the current time, as
        EventBridge counts from the rule's creation (called when a stack is deployed, so the
        first firing does not depend on when the delivery thread first looks)."""
        now = self.cloud.clock.time()
        with self._lock:
            for rule in self._scheduled_rules():
                if rule.arn not in self._schedule_next:
                    self._schedule_next[rule.arn] = next_fire_time(rule.scheduled_expression, now)

    def _fire_schedules(self) -> bool:
        now = self.cloud.clock.time()
        worked = False
        rules = self._scheduled_rules()
        with self._lock:
            # A disabled rule's schedule starts counting again when it is enabled, as
            # EventBridge's does: no catching up on the periods it was off.
            enabled = {rule.arn for rule in rules}
            for arn in [arn for arn in self._schedule_next if arn not in enabled]:
                del self._schedule_next[arn]
        for rule in rules:
            expression = rule.scheduled_expression
            key = rule.arn
            with self._lock:
                if key not in self._schedule_next:
                    self._schedule_next[key] = next_fire_time(expression, now)
                if now < self._schedule_next[key]:
                    continue
                fired_at = self._schedule_next[key]
                self._schedule_next[key] = next_fire_time(expression, fired_at + 1)
            event = {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "account": self.cloud.account_id,
                "time": datetime.fromtimestamp(fired_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "region": self.cloud.region,
                "resources": [rule.arn],
                "detail": {},
            }
            self.deliver_event(rule, event)
            worked = True
        return worked


def _target_input(target: dict[str, Any], event: dict[str, Any]) -> Any:
    if "Input" in target:
        return json.loads(target["Input"])
    if "InputPath" in target:
        node: Any = event
        for part in target["InputPath"].lstrip("$").strip(".").split("."):
            if part:
                node = node[part]
        return node
    if "InputTransformer" in target:
        transformer = target["InputTransformer"]
        text = moto_hooks.render_input_template(
            transformer.get("InputTemplate"), transformer.get("InputPathsMap", {}), event
        )
        try:
            return json.loads(text) if isinstance(text, str) else text
        except json.JSONDecodeError:
            return text
    return event


def _execution_name(rule_name: str, event: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(event, sort_keys=True).encode()).hexdigest()[:12]
    return f"{rule_name[:60]}-{digest}"


_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def next_fire_time(expression: str, after: float) -> float:
    """The first time at or after `after` that a schedule expression fires (UTC)."""
    rate = _RATE.match(expression.strip())
    if rate:
        period = int(rate.group(1)) * _UNIT_SECONDS[rate.group(2).rstrip("s")]
        if period <= 0:
            raise ValueError(f"a rate must be positive: {expression!r}")
        return float(-(-math.ceil(after) // period) * period)
    if expression.startswith("cron(") and expression.endswith(")"):
        return _next_cron(expression[5:-1].split(), after)
    raise ValueError(f"unsupported schedule expression {expression!r}")


def _cron_field(spec: str, low: int, high: int) -> set[int]:
    if spec in ("*", "?"):
        return set(range(low, high + 1))
    values: set[int] = set()
    for item in spec.split(","):
        step = 1
        part = item
        if "/" in item:
            part, step_text = item.split("/")
            step = int(step_text)
        if part in ("*", ""):
            start, end = low, high
        elif "-" in part:
            start, end = (int(x) for x in part.split("-"))
        else:
            start = int(part)
            end = high if "/" in item else start  # "5/15": from 5, every 15
        values.update(range(start, end + 1, step))
    return values


def _next_cron(fields: list[str], after: float) -> float:
    """Minutes, hours, day-of-month, month, day-of-week (1=SUN..7=SAT or *), year; numbers,
    lists, ranges and steps. Month and day names, `L`, `W` and `#` are not supported."""
    minute, hour, day, month, weekday, *rest = fields
    minutes, hours = _cron_field(minute, 0, 59), _cron_field(hour, 0, 23)
    days, months = _cron_field(day, 1, 31), _cron_field(month, 1, 12)
    weekdays = _cron_field(weekday, 1, 7)
    years = _cron_field(rest[0], 1970, 2199) if rest else set(range(1970, 2200))
    t = (int(after) // 60 + (0 if int(after) % 60 == 0 else 1)) * 60
    if not any(year >= datetime.fromtimestamp(t, UTC).year for year in years):
        raise ValueError(f"cron expression {' '.join(fields)} has no year to come")
    for _ in range(60 * 24 * 366 * 2):
        moment = datetime.fromtimestamp(t, UTC)
        cron_weekday = (moment.isoweekday() % 7) + 1
        if (
            moment.minute in minutes
            and moment.hour in hours
            and moment.day in days
            and moment.month in months
            and cron_weekday in weekdays
            and moment.year in years
        ):
            return float(t)
        t += 60
    raise ValueError(f"cron expression {' '.join(fields)} never fires")


def wait_until(predicate: Any, timeout: float, interval: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
