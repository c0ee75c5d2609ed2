"""CloudWatch metric alarms, evaluated on the local clock from metrics the local cloud computes.

What it emulates, for every `AWS::CloudWatch::Alarm` of a deployed template:

- Metrics the local cloud can compute itself: `AWS/SQS` `ApproximateNumberOfMessagesVisible`
  (dimension `QueueName`: the queue's visible messages, sampled once a minute of local time)
  and `AWS/States` `ExecutionsSucceeded`, `ExecutionsFailed`, `ExecutionsTimedOut` and
  `ExecutionsAborted` (dimension `StateMachineArn`: a value of 1 for each execution that ended
  so, at the minute the local cloud saw it end). Statistics `Sum`, `Maximum`, `Minimum`,
  `Average` and `SampleCount` over each period; metric math with `+ - * /`, parentheses and
  numbers, where a missing value counts as 0 as in CloudWatch's arithmetic
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html).
- Evaluation once a minute of local time as "Evaluating an alarm" describes it
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html):
  `Period`, `EvaluationPeriods` (N), `DatapointsToAlarm` (M of N), `Threshold`,
  `ComparisonOperator`; the most recent N datapoints of an evaluation range of N + 2 periods
  (the period in progress included); `TreatMissingData` filling the missing ones when fewer
  than N exist. Alarms start in `INSUFFICIENT_DATA`.
- Actions on every state change (`AlarmActions` into ALARM, `OKActions`, `InsufficientData-
  Actions`), when `ActionsEnabled`: an SNS topic is published to as CloudWatch does it, by the
  service principal `cloudwatch.amazonaws.com` with the alarm's ARN as `aws:SourceArn`,
  authorized by the topic's policy (and its KMS key's policy), with CloudWatch's notification
  JSON as the message and `ALARM: "<name>" in <Region>` as the subject. A refused publish is
  recorded in `cloud.delivery.denied`, never delivered.
- The state is mirrored to moto's CloudWatch, so `DescribeAlarms` reports it.

Not emulated: any other metric (an alarm on one stays `INSUFFICIENT_DATA`, with the reason
saying so), the delay with which AWS publishes metrics, percentiles and extended statistics,
metric math functions, anomaly detection and composite alarms, periods under a minute, actions
other than SNS topics (recorded in `unsupported_actions`), and one documented corner of missing
data: with `missing`/`ignore`, fewer than M breaching datapoints that are all breaching leave the
state undecided here, where CloudWatch may decide ALARM if the oldest one breaches.
"""

from __future__ import annotations

import ast
import json
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from localcloud.core import moto_hooks

if TYPE_CHECKING:
    from localcloud.core.cloud import LocalCloud

EVALUATION_INTERVAL = 60.0  # local seconds between evaluations
CLOUDWATCH = "cloudwatch.amazonaws.com"
OK, ALARM, INSUFFICIENT_DATA = "OK", "ALARM", "INSUFFICIENT_DATA"
SQS_VISIBLE = ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
EXECUTION_METRICS = {
    "SUCCEEDED": "ExecutionsSucceeded",
    "FAILED": "ExecutionsFailed",
    "TIMED_OUT": "ExecutionsTimedOut",
    "ABORTED": "ExecutionsAborted",
}
COMPARISONS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "GreaterThanOrEqualToThreshold": (lambda v, t: v >= t, "greater than or equal to"),
    "GreaterThanThreshold": (lambda v, t: v > t, "greater than"),
    "LessThanThreshold": (lambda v, t: v < t, "less than"),
    "LessThanOrEqualToThreshold": (lambda v, t: v <= t, "less than or equal to"),
}
STATISTICS: dict[str, Callable[[list[float]], float]] = {
    "Sum": sum,
    "Maximum": max,
    "Minimum": min,
    "Average": lambda values: sum(values) / len(values),
    "SampleCount": lambda values: float(len(values)),
}


@dataclass(frozen=True)
class MetricId:
    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, namespace: str, name: str, dimensions: list[dict[str, Any]] | None) -> MetricId:
        pairs = sorted((str(d["Name"]), str(d["Value"])) for d in dimensions or [])
        return cls(namespace, name, tuple(pairs))

    def dimension(self, name: str) -> str | None:
        return dict(self.dimensions).get(name)

    @property
    def computed_locally(self) -> bool:
        if (self.namespace, self.name) == SQS_VISIBLE:
            return self.dimension("QueueName") is not None
        return (
            self.namespace == "AWS/States"
            and self.name in EXECUTION_METRICS.values()
            and self.dimension("StateMachineArn") is not None
        )


@dataclass(frozen=True)
class Query:
    """One entry of an alarm's `Metrics` (or its single metric): a metric with a statistic,
    or an expression over other entries' ids."""

    id: str
    metric: MetricId | None
    stat: str
    expression: str | None
    returns: bool


class UnsupportedAlarmError(ValueError):
    """The alarm uses something this module does not evaluate."""


def _queries(props: dict[str, Any]) -> tuple[list[Query], int]:
    if "Metrics" not in props:
        metric = MetricId.of(props["Namespace"], props["MetricName"], props.get("Dimensions"))
        if "Statistic" not in props:
            raise UnsupportedAlarmError("extended statistics (percentiles) are not evaluated")
        return [Query("m1", metric, props["Statistic"], None, True)], int(props["Period"])
    queries, periods = [], set()
    for entry in props["Metrics"]:
        stat = entry.get("MetricStat")
        if stat is not None:
            metric = stat["Metric"]
            periods.add(int(stat["Period"]))
            queries.append(
                Query(
                    entry["Id"],
                    MetricId.of(
                        metric["Namespace"], metric["MetricName"], metric.get("Dimensions")
                    ),
                    stat["Stat"],
                    None,
                    bool(entry.get("ReturnData", True)),
                )
            )
        else:
            if "Period" in entry:
                periods.add(int(entry["Period"]))
            queries.append(
                Query(
                    entry["Id"], None, "", entry["Expression"], bool(entry.get("ReturnData", True))
                )
            )
    if len(periods) != 1:
        raise UnsupportedAlarmError("the metrics of an alarm must use one period")
    return queries, periods.pop()


def _expression_value(expression: str, values: Mapping[str, float | None]) -> float | None:
    """`failed + timedOut + aborted`: arithmetic over metric ids; a missing value counts as 0,
    and the result is missing only when every metric it uses is missing."""
    tree = ast.parse(expression, mode="eval")
    used = [node.id for node in ast.walk(tree) if isinstance(node, ast.Name)]
    if used and all(values.get(name) is None for name in used):
        return None

    def value(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return value(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.Name):
            if node.id not in values:
                raise UnsupportedAlarmError(f"{expression}: unknown id {node.id}")
            return values[node.id] or 0.0
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -value(node.operand)
        if isinstance(node, ast.BinOp):
            left, right = value(node.left), value(node.right)
            if isinstance(node.op, ast.Add):
                return left + right
            if isinstance(node.op, ast.Sub):
                return left - right
            if isinstance(node.op, ast.Mult):
                return left * right
            if isinstance(node.op, ast.Div):
                return left / right if right else math.nan  # CloudWatch drops the point
        raise UnsupportedAlarmError(f"metric math {expression!r} is not evaluated locally")

    result = value(tree)
    return None if math.isnan(result) else result


@dataclass
class Alarm:
    name: str
    arn: str
    props: dict[str, Any]
    created: float
    state: str = INSUFFICIENT_DATA
    reason: str = "Unchecked: Initial alarm creation"
    history: list[tuple[float, str, str, str]] = field(default_factory=list)
    queries: list[Query] = field(default_factory=list)
    period: int = 60
    unsupported: str | None = None

    def __post_init__(self) -> None:
        try:
            self.queries, self.period = _queries(self.props)
            if self.props["ComparisonOperator"] not in COMPARISONS:
                raise UnsupportedAlarmError(f"{self.props['ComparisonOperator']} is not evaluated")
            for query in self.queries:
                if query.metric is not None and not query.metric.computed_locally:
                    raise UnsupportedAlarmError(
                        f"{query.metric.namespace} {query.metric.name} is not computed locally"
                    )
                if query.metric is not None and query.stat not in STATISTICS:
                    raise UnsupportedAlarmError(f"statistic {query.stat} is not evaluated")
            ids = {q.id: 1.0 for q in self.queries}
            for query in self.queries:
                if query.expression is not None:
                    try:
                        _expression_value(query.expression, ids)
                    except SyntaxError:
                        raise UnsupportedAlarmError(f"metric math {query.expression!r}") from None
        except UnsupportedAlarmError as unsupported:
            self.unsupported = str(unsupported)
            self.reason = f"Not evaluated by the local cloud: {unsupported}"

    @property
    def evaluation_periods(self) -> int:
        return int(self.props["EvaluationPeriods"])

    @property
    def datapoints_to_alarm(self) -> int:
        return int(self.props.get("DatapointsToAlarm") or self.evaluation_periods)

    @property
    def threshold(self) -> float:
        return float(self.props["Threshold"])

    @property
    def treat_missing_data(self) -> str:
        return str(self.props.get("TreatMissingData", "missing"))

    def breaches(self, value: float) -> bool:
        return COMPARISONS[self.props["ComparisonOperator"]][0](value, self.threshold)


class MetricStore:
    """Samples of the metrics the alarms use, taken on the local clock."""

    def __init__(self) -> None:
        self.samples: dict[MetricId, list[tuple[float, float]]] = {}
        self._ended: set[str] = set()

    def add(self, metric: MetricId, when: float, value: float) -> None:
        self.samples.setdefault(metric, []).append((when, value))

    def datapoint(self, metric: MetricId, stat: str, start: float, end: float) -> float | None:
        values = [v for t, v in self.samples.get(metric, []) if start <= t < end]
        return STATISTICS[stat](values) if values else None

    def forget_before(self, when: float) -> None:
        """Drop samples no evaluation range reaches any more (evaluation scans them all)."""
        for metric, samples in self.samples.items():
            self.samples[metric] = [(t, v) for t, v in samples if t >= when]

    def sample(self, cloud: LocalCloud, metrics: set[MetricId], now: float) -> None:
        queues = moto_hooks.backend("sqs", cloud.account_id, cloud.region).queues
        machines = {m.arn: m for m in moto_hooks.state_machines(cloud.account_id, cloud.region)}
        wanted_machines = set()
        for metric in metrics:
            if (metric.namespace, metric.name) == SQS_VISIBLE:
                queue = queues.get(metric.dimension("QueueName") or "")
                if queue is not None:
                    self.add(metric, now, float(queue.approximate_number_of_messages))
            elif metric.namespace == "AWS/States":
                wanted_machines.add(metric.dimension("StateMachineArn") or "")
        for machine_arn in wanted_machines:
            machine = machines.get(machine_arn)
            for execution in list(machine.executions) if machine else []:
                metric_name = EXECUTION_METRICS.get(execution.status)
                if metric_name is None or execution.execution_arn in self._ended:
                    continue
                self._ended.add(execution.execution_arn)
                dimensions = [{"Name": "StateMachineArn", "Value": machine_arn}]
                self.add(MetricId.of("AWS/States", metric_name, dimensions), now, 1.0)


class AlarmEvaluator:
    """The alarms of the deployed stacks, evaluated from the delivery loop."""

    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        self.alarms: dict[str, Alarm] = {}
        self.metrics = MetricStore()
        self.unsupported_actions: list[tuple[str, str]] = []
        self._next = 0.0
        self._lock = threading.Lock()

    def register(self, name: str, arn: str, props: dict[str, Any]) -> Alarm:
        alarm = Alarm(name, arn, props, created=self.cloud.clock.time())
        with self._lock:
            self.alarms[name] = alarm
        self._mirror(alarm)
        return alarm

    def state(self, name: str) -> str:
        return self.alarms[name].state

    def step(self) -> bool:
        """Sample and evaluate when a minute of local time has passed; True if an alarm
        changed state."""
        now = self.cloud.clock.time()
        if now < self._next or not self.alarms:
            return False
        self._next = (now // EVALUATION_INTERVAL + 1) * EVALUATION_INTERVAL
        return self.evaluate(now)

    def evaluate(self, now: float) -> bool:
        with self._lock:
            alarms = [a for a in self.alarms.values() if a.unsupported is None]
        metrics = {q.metric for a in alarms for q in a.queries if q.metric is not None}
        self.metrics.sample(self.cloud, metrics, now)
        reach = max(((a.evaluation_periods + 3) * a.period for a in alarms), default=0)
        self.metrics.forget_before(now - reach)
        changed = False
        for alarm in alarms:
            new_state, reason = self._decide(alarm, now)
            if new_state != alarm.state:
                self._transition(alarm, new_state, reason, now)
                changed = True
        return changed

    # evaluation ------------------------------------------------------------------------------
    def _value(self, alarm: Alarm, start: float, end: float) -> float | None:
        values: dict[str, float | None] = {}
        for query in alarm.queries:
            if query.metric is not None:
                values[query.id] = self.metrics.datapoint(query.metric, query.stat, start, end)
        for query in alarm.queries:
            if query.expression is not None:
                values[query.id] = _expression_value(query.expression, values)
        (returned,) = [q.id for q in alarm.queries if q.returns]
        return values[returned]

    def _decide(self, alarm: Alarm, now: float) -> tuple[str, str]:
        period, n, m = alarm.period, alarm.evaluation_periods, alarm.datapoints_to_alarm
        end = (now // period + 1) * period  # the period in progress counts
        points = []  # newest first: (period start, value or None)
        for index in range(n + 2):
            start = end - (index + 1) * period
            points.append((start, self._value(alarm, start, start + period)))
        existing = [(t, v) for t, v in points if v is not None]
        if len(existing) >= n:
            evaluated = existing[:n]
            breaching = sum(alarm.breaches(v) for _, v in evaluated)
            state = ALARM if breaching >= m else OK
            return state, self._reason(alarm, evaluated, breaching, state)
        missing = n - len(existing)
        breaching = sum(alarm.breaches(v) for _, v in existing)
        treatment = alarm.treat_missing_data
        if treatment in ("breaching", "notBreaching"):
            if treatment == "breaching":
                breaching += missing
            state = ALARM if breaching >= m else OK
            label = "Breaching" if treatment == "breaching" else "NonBreaching"
            return state, (
                f"Threshold Crossed: no datapoints were received for {missing} period"
                f"{'s' if missing != 1 else ''} and {missing} missing datapoint"
                f"{'s were' if missing != 1 else ' was'} treated as [{label}]."
            )
        if breaching >= m:
            return ALARM, self._reason(alarm, existing, breaching, ALARM)
        if any(not alarm.breaches(v) for _, v in existing):
            return OK, self._reason(alarm, existing, breaching, OK)
        if treatment == "ignore":
            return alarm.state, alarm.reason
        return INSUFFICIENT_DATA, (
            f"Insufficient Data: {len(existing)} datapoint"
            f"{'s were' if len(existing) != 1 else ' was'} unknown."
        )

    def _reason(
        self, alarm: Alarm, evaluated: list[tuple[float, float]], breaching: int, state: str
    ) -> str:
        verb = COMPARISONS[alarm.props["ComparisonOperator"]][1]
        shown = ", ".join(
            f"{v} ({datetime.fromtimestamp(t, UTC).strftime('%d/%m/%y %H:%M:%S')})"
            for t, v in evaluated
        )
        count = breaching if state == ALARM else len(evaluated) - breaching
        negation = "" if state == ALARM else "not "
        return (
            f"Threshold Crossed: {count} out of the last {len(evaluated)} datapoints [{shown}] "
            f"{'was' if count == 1 else 'were'} {negation}{verb} the threshold "
            f"({alarm.threshold}) (minimum {alarm.datapoints_to_alarm} datapoint"
            f"{'s' if alarm.datapoints_to_alarm != 1 else ''} for "
            f"{alarm.state} -> {state} transition)."
        )

    # state changes and actions -------------------------------------------------------------
    def _transition(self, alarm: Alarm, state: str, reason: str, now: float) -> None:
        old = alarm.state
        alarm.state, alarm.reason = state, reason
        alarm.history.append((now, old, state, reason))
        self._mirror(alarm)
        if not alarm.props.get("ActionsEnabled", True):
            return
        key = {ALARM: "AlarmActions", OK: "OKActions", INSUFFICIENT_DATA: "InsufficientDataActions"}
        for action in alarm.props.get(key[state], []):
            if action.split(":")[2] != "sns":
                self.unsupported_actions.append((alarm.name, action))
                continue
            if not self.cloud.delivery.authorize(
                CLOUDWATCH,
                alarm.arn,
                "sns:Publish",
                action,
                # SNS documents CloudWatch among the services that also set the legacy
                # aws:SourceOwner key, which SNS's default topic policy checks
                # (https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-use-cases.html).
                extra_context={"aws:SourceOwner": self.cloud.account_id},
            ):
                continue
            message, subject = self.notification(alarm, old, now)
            self.cloud.delivery._service_send(action, message, subject=subject)

    def notification(self, alarm: Alarm, old_state: str, now: float) -> tuple[str, str]:
        """CloudWatch's alarm notification: a JSON message and `STATE: "name" in Region`."""
        props = alarm.props
        region = _region_name(self.cloud.region)
        message = {
            "AlarmName": alarm.name,
            "AlarmDescription": props.get("AlarmDescription"),
            "AWSAccountId": self.cloud.account_id,
            "AlarmConfigurationUpdatedTimestamp": _timestamp(alarm.created),
            "NewStateValue": alarm.state,
            "NewStateReason": alarm.reason,
            "StateChangeTime": _timestamp(now),
            "Region": region,
            "AlarmArn": alarm.arn,
            "OldStateValue": old_state,
            "OKActions": props.get("OKActions", []),
            "AlarmActions": props.get("AlarmActions", []),
            "InsufficientDataActions": props.get("InsufficientDataActions", []),
            "Trigger": _trigger(props),
        }
        # SNS subjects must be under 100 characters (SNS Publish API reference).
        subject = f'{alarm.state}: "{alarm.name}" in {region}'[:99]
        return json.dumps(message), subject

    def _mirror(self, alarm: Alarm) -> None:
        backend = moto_hooks.backend("cloudwatch", self.cloud.account_id, self.cloud.region)
        if alarm.name in backend.alarms:
            backend.set_alarm_state(alarm.name, alarm.reason, "{}", alarm.state)


def is_alarm_notification(notification: dict[str, Any]) -> bool:
    """Whether a published message (an entry of `cloud.notifications`) is a CloudWatch alarm's
    notification rather than one a workflow sent to the same topic."""
    try:
        message = json.loads(notification["Message"])
    except (ValueError, TypeError):
        return False
    return isinstance(message, dict) and {"AlarmArn", "NewStateValue"} <= message.keys()


def _timestamp(when: float) -> str:
    """CloudWatch's notification timestamps: `2025-01-31T12:00:00.000+0000`."""
    moment = datetime.fromtimestamp(when, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def _region_name(region: str) -> str:
    """The Region's long name, as CloudWatch writes it, from botocore's endpoint data."""
    import botocore.session

    for partition in botocore.session.get_session().get_data("endpoints")["partitions"]:
        if region in partition["regions"]:
            return str(partition["regions"][region].get("description", region))
    return region


def _dimensions(dimensions: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return [{"value": d["Value"], "name": d["Name"]} for d in dimensions or []]


def _trigger(props: dict[str, Any]) -> dict[str, Any]:
    common = {
        "Period": props.get("Period"),
        "EvaluationPeriods": props["EvaluationPeriods"],
        "DatapointsToAlarm": props.get("DatapointsToAlarm", props["EvaluationPeriods"]),
        "ComparisonOperator": props["ComparisonOperator"],
        "Threshold": float(props["Threshold"]),
        "TreatMissingData": props.get("TreatMissingData", "missing"),
        "EvaluateLowSampleCountPercentile": props.get("EvaluateLowSampleCountPercentile", ""),
    }
    if "Metrics" not in props:
        return {
            "MetricName": props["MetricName"],
            "Namespace": props["Namespace"],
            "StatisticType": "Statistic",
            "Statistic": str(props.get("Statistic", "")).upper(),
            "Unit": props.get("Unit"),
            "Dimensions": _dimensions(props.get("Dimensions")),
            **common,
        }
    metrics = []
    for entry in props["Metrics"]:
        item: dict[str, Any] = {"Id": entry["Id"], "ReturnData": entry.get("ReturnData", True)}
        if "Expression" in entry:
            item["Expression"] = entry["Expression"]
            item["Label"] = entry.get("Label", "")
        else:
            stat = entry["MetricStat"]
            item["MetricStat"] = {
                "Metric": {
                    "Dimensions": _dimensions(stat["Metric"].get("Dimensions")),
                    "MetricName": stat["Metric"]["MetricName"],
                    "Namespace": stat["Metric"]["Namespace"],
                },
                "Period": stat["Period"],
                "Stat": stat["Stat"],
            }
        metrics.append(item)
    return {**common, "Metrics": metrics}
