"""Event delivery between services: what AWS does in the background between API calls.

- SQS event source mappings: a poller receives batches as the function's role, invokes the
  function, and deletes what succeeded (all of the batch, or all but the `batchItemFailures`
  when the mapping reports batch item failures). A failed batch stays on the queue until its
  visibility timeout passes on the local clock; SQS moves it to the dead-letter queue after
  `maxReceiveCount` receives.
- Asynchronous invocations (S3 and SNS triggers, EventBridge targets, `InvocationType=Event`):
  two retries, one and two minutes apart on the local clock, then the on-failure destination
  or dead-letter queue, as Lambda does by default.
- EventBridge rules: events are matched by moto; this module delivers them to Lambda and Step
  Functions targets (as the target's role), and fires `rate(...)`/`cron(...)` schedules on the
  local clock.
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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

ASYNC_RETRY_DELAYS = (60.0, 120.0)  # Lambda's documented backoff between async retries
LONG_POLL_SECONDS = 20.0


@dataclass(order=True)
class _AsyncItem:
    due: float
    sequence: int
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
        self.errors: list[str] = []

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
        worked = self._run_due_async()
        worked |= self._poll_event_sources()
        worked |= self._fire_schedules()
        return worked

    def idle(self) -> bool:
        with self._lock:
            pending = bool(self._queue)
        return not pending and not self._busy.is_set()

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
        with self._lock:
            if not self._queue or self._queue[0].due > now:
                return False
            item = heapq.heappop(self._queue)
        config = self.cloud.runtime.resolve(item.function)
        settings = self.cloud.async_settings.get(config.name, {})
        max_retries = settings.get("MaximumRetryAttempts", 2)
        result = self.cloud.runtime.invoke(config.name, item.event)
        if not result.failed:
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
        self._send_to(target, body, as_role=config.role_arn)

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
        from moto.awslambda.utils import get_backend

        backend = get_backend(self.cloud.account_id, self.cloud.region)
        worked = False
        for mapping in list(backend._event_source_mappings.values()):
            if not mapping.enabled or ":sqs:" not in mapping.event_source_arn:
                continue
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
        messages = response.get("Messages", [])
        if not messages:
            # An idle poller long-polls: about one ReceiveMessage per 20 seconds.
            self._next_poll[mapping.uuid] = now + LONG_POLL_SECONDS
            return False
        self._next_poll.pop(mapping.uuid, None)
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
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)
                ],
            )
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

    # EventBridge -------------------------------------------------------------------------------
    def deliver_event(self, rule: Any, event: dict[str, Any]) -> None:
        """Deliver a matched event to a rule's Lambda and Step Functions targets."""
        for target in rule.targets:
            payload = _target_input(target, event)
            arn = target["Arn"]
            service = arn.split(":")[2]
            if service == "lambda":
                self.invoke_async(arn, payload)
            elif service == "states":
                role = target.get("RoleArn") or ""
                self.cloud.client_as(role, "stepfunctions").start_execution(
                    stateMachineArn=arn,
                    name=_execution_name(rule.name, event),
                    input=json.dumps(payload),
                )
            elif service in ("sqs", "sns"):
                self._send_to(arn, json.dumps(payload), as_role=target.get("RoleArn") or "")
            else:
                self.cloud.undelivered_events.append((rule.name, arn, event))

    def _scheduled_rules(self) -> list[Any]:
        from moto.events.models import events_backends

        backend = events_backends[self.cloud.account_id][self.cloud.region]
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
        for rule in self._scheduled_rules():
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
        from moto.events.models import EventTemplateParser

        transformer = target["InputTransformer"]
        text = EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event=event,  # type: ignore[arg-type]
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
