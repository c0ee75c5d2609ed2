"""What the Custom Labels model costs: billed inference-unit hours of this stack's start/stop
strategy, of the published sample's strategy and of a lower bound, under several arrival
patterns, measured by the local Rekognition engine's own billing meter.

Each strategy is a policy driven against one `RekognitionEngine` (the model trained from
`samples/custom_labels_batch/`) through a real boto3 client, on a clock the simulation advances by
hand: a simulated week takes seconds and nothing sleeps. Images are labelled by the engine's
real `DetectCustomLabels` (image bytes from the samples) at the throughput it admits; a call it
rejects for throughput is retried. What a strategy costs is what `engine.usage` bills: the
inference-unit time of every RUNNING stretch, each run rounded up to a whole minute.

* This stack (`StackPolicy`): the decisions of `statemachines/custom_labels_batch.asl.json`,
  state by state, with the settings of the synthesized template in `cdk.out` (schedule, poll
  interval, start and drain bounds, inference units, the queue's visibility timeout, retention
  and redrive policy, the processor's attempts and retry delay). The processor's handling of a
  failed image mirrors `lambdas/custom_labels_batch/process_images.py` and `labelling.py`, whose
  error classes it imports: quarantined at once if unreadable, else sent back as a delayed
  message carrying its attempts, and quarantined at the last one.
* The published sample (`PublishedPolicy`): the state machine, functions and queue of
  aws-samples/amazon-rekognition-custom-labels-batch-processing (`template.yaml`): hourly, count
  the visible messages; if any, start the model, wait 900 s, enable the trigger, keep the model
  running 3,540 s, count again, stop it only when none is visible. No DLQ: a failing image
  returns after the 60 s visibility timeout until the queue's 4-day retention drops it.
* The lower bound (`lower_bound`): an oracle that knows every upload. For each batch (the
  uploads between two firings of the stack's schedule) it starts the model when the batch is
  complete and keeps it RUNNING exactly one throughput slot per upload, 1 / (TPS x units),
  then stops it. Its billed time is images / throughput per batch, rounded up per run like
  every run; its start-to-stop time is the start time plus images / throughput.

`validate` runs the real stack once on the local cloud (clock at 100x, as the demo does) for
one burst, and the simulated stack policy for the same burst, side by side.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import json
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from lambdas.custom_labels_batch.labelling import NOT_NOW_ERRORS, UNREADABLE_IMAGE_ERRORS
from localcloud.core.assembly import CloudAssembly
from localcloud.core.clock import LocalClock
from localcloud.core.protocol import register_on_client
from localcloud.services.rekognition.engine import CustomLabelsTimings, RekognitionEngine

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples" / "custom_labels_batch"
MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
START = datetime(2024, 5, 6, tzinfo=UTC)  # a Monday, midnight
REGION = "us-east-1"
MODEL_BUCKET = "custom-labels-batch-models"
DENIED_PREFIX = "denied/"
THROTTLE_RETRY_SECONDS = 0.01
INCOMING: Final = tuple(
    f"incoming/{p.name}" for p in sorted((SAMPLES / "incoming").iterdir()) if p.is_file()
)
CORRUPT: Final = "poison/truncated.jpg"
THROTTLED = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException"})

# What AWS documents about the timings the engine uses (see its module docstring); `used_as`
# is completed with the engine's figures when the benchmark runs.
DOCUMENTED: Final = (
    {
        "fact": "Starting a model might take a few minutes to complete.",
        "used_as": "the engine's start time, {start:g} s",
        "url": "https://docs.aws.amazon.com/rekognition/latest/customlabels-dg/rm-start.html",
    },
    {
        "fact": "Stopping a model and restarting it with other inference units suits a use "
        "case that can tolerate 10-20 minutes of downtime.",
        "used_as": "stop {stop:g} s + start {start:g} s",
        "url": "https://docs.aws.amazon.com/rekognition/latest/customlabels-dg/running-model.html",
    },
    {
        "fact": "A single inference unit represents 1 hour of processing and can support up to "
        "5 Transaction Pers Second (TPS) (an earlier StartProjectVersion reference; the current "
        "guide gives no figure).",
        "used_as": "{tps:g} DetectCustomLabels calls per second per inference unit",
        "url": "https://docs.amazonaws.cn/sdkforruby/api/Aws/Rekognition/Types/"
        "StartProjectVersionRequest.html",
    },
    {
        "fact": "You are charged for the number of hours that your model is running and for the "
        "number of inference units it uses: two units for 8 hours are 16 inference hours.",
        "used_as": "billing: RUNNING time x inference units",
        "url": "https://docs.aws.amazon.com/rekognition/latest/customlabels-dg/running-model.html",
    },
    {
        "fact": "You are charged for the amount of time, in minutes, that the model is running "
        "(an earlier revision of the developer guide).",
        "used_as": "each run rounded up to a whole minute",
        "url": "https://github.com/awsdocs/amazon-rekognition-custom-labels-batch-developer-guide/"
        "blob/d0238b89c6f311e36052d6e8bcf8549b16248749/doc_source/running-model.md",
    },
)
PUBLISHED_SAMPLE_URL: Final = (
    "https://github.com/aws-samples/amazon-rekognition-custom-labels-batch-processing"
)


# --- settings ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StackSettings:
    """The stack's deployed configuration, as the strategies need it."""

    schedule_seconds: float
    poll_seconds: int
    max_start_polls: int
    max_drain_polls: int
    min_inference_units: int
    max_inference_units: int
    min_confidence: float
    visibility_timeout_seconds: int
    retention_seconds: int
    max_receive_count: int
    max_attempts: int
    retry_delay_seconds: int
    source: str

    @classmethod
    def from_assembly(cls, assembly_dir: Path) -> StackSettings:
        """Read from the synthesized CustomLabelsBatch template: what `cdk deploy` ships."""
        artifact = next(
            (
                s
                for s in CloudAssembly(assembly_dir).stacks()
                if s.stack_name.startswith("CustomLabelsBatch-")
            ),
            None,
        )
        if artifact is None:
            raise KeyError(f"no CustomLabelsBatch stack in {assembly_dir}: run `make synth`")
        resources: dict[str, Any] = artifact.template["Resources"]
        machine_id, definition = next(
            (logical_id, _definition(r["Properties"]))
            for logical_id, r in resources.items()
            if r["Type"] == "AWS::StepFunctions::StateMachine"
        )
        states = definition["States"]
        config, start = states["Configure"]["Result"], states["StartModel"]["Parameters"]
        rule = next(
            r["Properties"]
            for r in resources.values()
            if r["Type"] == "AWS::Events::Rule"
            and any(
                t["Arn"] == {"Fn::GetAtt": [machine_id, "Arn"]}
                for t in r["Properties"].get("Targets", [])
            )
        )
        queue = next(
            r["Properties"]
            for r in resources.values()
            if r["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in r["Properties"]
        )
        environment = next(
            r["Properties"]["Environment"]["Variables"]
            for r in resources.values()
            if r["Type"] == "AWS::Lambda::Function"
            and "MAX_ATTEMPTS" in r["Properties"].get("Environment", {}).get("Variables", {})
        )
        return cls(
            schedule_seconds=_rate_seconds(rule["ScheduleExpression"]),
            poll_seconds=int(config["pollSeconds"]),
            max_start_polls=int(config["maxStartPolls"]),
            max_drain_polls=int(config["maxDrainPolls"]),
            min_inference_units=int(start["MinInferenceUnits"]),
            max_inference_units=int(start["MaxInferenceUnits"]),
            min_confidence=float(environment["MIN_CONFIDENCE"]),
            visibility_timeout_seconds=int(queue["VisibilityTimeout"]),
            retention_seconds=int(queue["MessageRetentionPeriod"]),
            max_receive_count=int(queue["RedrivePolicy"]["maxReceiveCount"]),
            max_attempts=int(environment["MAX_ATTEMPTS"]),
            retry_delay_seconds=int(environment["RETRY_DELAY_SECONDS"]),
            source=str(artifact.template_path.relative_to(ROOT)),
        )

    @classmethod
    def from_defaults(cls) -> StackSettings:
        """The defaults of `stacks/config.py`, derived as `CustomLabelsBatchStack` derives them
        (for callers without a synthesized assembly)."""
        from stacks.config import CustomLabelsSettings
        from stacks.custom_labels_batch import MAX_RECEIVE_COUNT, PROCESSOR_TIMEOUT

        class _NoContext:
            def try_get_context(self, key: str) -> Any:
                return None

        settings = CustomLabelsSettings.from_context(_NoContext())  # type: ignore[arg-type]
        poll = settings.poll_interval_seconds
        return cls(
            schedule_seconds=_rate_seconds(settings.schedule),
            poll_seconds=poll,
            max_start_polls=max(1, settings.max_start_minutes * 60 // poll),
            max_drain_polls=max(1, settings.runtime_budget_minutes * 60 // poll),
            min_inference_units=settings.min_inference_units,
            max_inference_units=settings.max_inference_units,
            min_confidence=float(settings.min_confidence),
            visibility_timeout_seconds=6 * int(PROCESSOR_TIMEOUT.to_seconds()),
            retention_seconds=14 * 86400,
            max_receive_count=MAX_RECEIVE_COUNT,
            max_attempts=settings.max_attempts,
            retry_delay_seconds=poll,
            source="stacks/config.py defaults",
        )


def _definition(properties: dict[str, Any]) -> dict[str, Any]:
    if isinstance(properties.get("Definition"), dict):
        return dict(properties["Definition"])
    if isinstance(properties.get("DefinitionString"), str):
        return dict(json.loads(properties["DefinitionString"]))
    raise ValueError("the state machine definition is neither inline nor a plain string")


def _rate_seconds(expression: str) -> float:
    match = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression)
    if match is None:
        raise ValueError(f"only rate(...) schedules are simulated, not {expression!r}")
    unit = {"minute": MINUTE, "hour": HOUR, "day": DAY}[match.group(2).rstrip("s")]
    return int(match.group(1)) * unit


@dataclass(frozen=True)
class PublishedSettings:
    """The published sample's template.yaml: its schedule, waits, queue and model start."""

    schedule_seconds: float = HOUR  # HourlyPollingSchedule: rate(1 hours)
    start_wait_seconds: float = 900.0  # "Wait for the model to start"
    keep_running_seconds: float = 3540.0  # "Keep Model running for 1 hr"
    visibility_timeout_seconds: float = 60.0  # SQSQueue VisibilityTimeout
    retention_seconds: float = 345_600.0  # SQSQueue MessageRetentionPeriod (4 days)
    inference_units: int = 1  # start_model/app.py: MinInferenceUnits=1
    min_confidence: float = 70.0  # analyse_image/app.py


# --- arrival patterns --------------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    at: float  # seconds after the period starts
    sample: str  # a file under samples/custom_labels_batch/
    readable: bool = True  # False: an object Rekognition may not read from S3


@dataclass(frozen=True)
class Pattern:
    name: str
    description: str
    period_seconds: float
    uploads: tuple[Upload, ...]


def _burst(at: float, count: int) -> list[Upload]:
    return [Upload(at, INCOMING[i % len(INCOMING)]) for i in range(count)]


def patterns(
    days: int = 7, daily: int = 180, per_hour: int = 6, trickle_every: float = 20 * MINUTE
) -> list[Pattern]:
    """The arrival patterns of the benchmark; uploads stop two hours before the period ends so
    every strategy has the chance to label them all."""
    period = days * DAY
    last = period - 2 * HOUR
    bursts = [u for day in range(days) for u in _burst(day * DAY + 9.5 * HOUR, daily)]
    trickle = [
        Upload(7 * MINUTE + i * trickle_every, INCOMING[i % len(INCOMING)])
        for i in range(int((last - 7 * MINUTE) // trickle_every) + 1)
    ]
    hourly = [
        u for hour in range(int(last // HOUR)) for u in _burst(hour * HOUR + 30 * MINUTE, per_hour)
    ]
    small = [u for day in range(days) for u in _burst(day * DAY + 9.5 * HOUR, daily // 5)]
    return [
        Pattern(
            "daily burst",
            f"{daily} images at 09:30 every day",
            period,
            tuple(bursts),
        ),
        Pattern(
            "steady trickle",
            f"one image every {trickle_every / MINUTE:g} minutes",
            period,
            tuple(trickle),
        ),
        Pattern(
            "hourly bursts",
            f"{per_hour} images at half past every hour",
            period,
            tuple(hourly),
        ),
        Pattern(
            "poison image",
            f"{daily // 5} images at 09:30 every day; on the first day one more that is corrupt "
            f"({CORRUPT})",
            period,
            (*small, Upload(9.5 * HOUR, CORRUPT)),
        ),
        Pattern(
            "failing image",
            f"{daily // 5} images at 09:30 every day; on the first day one more that Rekognition "
            "may not read from S3 (every attempt fails with InvalidS3ObjectException)",
            period,
            (*small, Upload(9.5 * HOUR, INCOMING[0], readable=False)),
        ),
    ]


# --- the engine on a manual clock --------------------------------------------------------------


class ManualClock(LocalClock):
    """Virtual time that moves only when told: `sleep` and `advance` jump, nothing waits."""

    def __init__(self, start: datetime) -> None:
        super().__init__(speed=1.0, start=start)
        self._now = start.timestamp()

    def time(self) -> float:
        return self._now

    def sleep(self, seconds: float) -> None:
        self.advance(max(seconds, 0.0))

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock never goes backwards")
        self._now += seconds

    def set(self, when: float) -> None:
        self.advance(max(when - self._now, 0.0))


class _ProcessorS3:
    """S3 as Rekognition reads it for the caller: objects under `denied/` cannot be read (as
    an upload encrypted with a KMS key the caller may not use)."""

    def __init__(self, s3: Any) -> None:
        self._s3 = s3

    def get_object(self, **params: Any) -> Any:
        if str(params.get("Key", "")).startswith(DENIED_PREFIX):
            error = {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}
            raise ClientError(error, "GetObject")
        return self._s3.get_object(**params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s3, name)


@dataclass(frozen=True)
class _Meter:
    """The engine's meter for the lab's model at one moment."""

    billed_minutes: int
    inference_unit_seconds: float
    detect_calls: int
    rejected_calls: int


class Lab:
    """moto S3, the local Rekognition engine on a `ManualClock`, the sample model trained once
    and a boto3 client the engine answers. Use as a context manager."""

    def __init__(self, timings: CustomLabelsTimings | None = None) -> None:
        self.clock = ManualClock(START)
        self.timings = timings or CustomLabelsTimings()
        self._mock: Any = None
        self._images: dict[str, bytes] = {}

    def __enter__(self) -> Lab:
        from moto import mock_aws
        from moto.core.models import botocore_stubber

        from localcloud.demos.custom_labels_batch import upload_training_set

        self._mock = mock_aws()
        self._mock.start()
        session = boto3.Session(
            region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        s3 = session.client("s3")
        upload_training_set(s3)
        for relative in INCOMING:
            s3.put_object(
                Bucket=MODEL_BUCKET,
                Key=DENIED_PREFIX + relative,
                Body=(SAMPLES / relative).read_bytes(),
            )
        view = _ProcessorS3(s3)
        self.engine = RekognitionEngine(
            self.clock,
            lambda role: view,
            s3_for_principal=lambda principal: view,
            region=REGION,
            timings=self.timings,
        )
        self.project_arn, self.version_arn = self.engine.create_trained_version(
            "products",
            "products.v1",
            f"s3://{MODEL_BUCKET}/custom_labels_batch/manifest.jsonl",
            created_at=self.clock.now(),
        )
        self.version_name = self.version_arn.split("/")[3]
        # Throttling is the simulation's business: the client does not retry on its own.
        self.rekognition = session.client(
            "rekognition", config=Config(retries={"mode": "standard", "total_max_attempts": 1})
        )
        register_on_client(self.rekognition, self.engine)
        # moto has a partial Rekognition of its own: keep it from answering this client too.
        self.rekognition.meta.events.unregister("before-send", botocore_stubber)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._mock is not None:
            self._mock.stop()

    def image(self, upload: Upload) -> dict[str, Any]:
        """The `Image` parameter for an upload: its bytes, or the S3 object Rekognition may not
        read."""
        if not upload.readable:
            return {"S3Object": {"Bucket": MODEL_BUCKET, "Name": DENIED_PREFIX + upload.sample}}
        if upload.sample not in self._images:
            self._images[upload.sample] = (SAMPLES / upload.sample).read_bytes()
        return {"Bytes": self._images[upload.sample]}

    def status(self) -> str:
        found = self.rekognition.describe_project_versions(
            ProjectArn=self.project_arn, VersionNames=[self.version_name]
        )
        return str(found["ProjectVersionDescriptions"][0]["Status"])

    def slot_seconds(self) -> float:
        """One call's share of the model's throughput at the units now in service."""
        units = max(self.engine.inference_units(self.version_arn), 1)
        return 1.0 / (self.engine.tps_per_inference_unit * units)

    def meter(self) -> _Meter:
        usage, arn = self.engine.usage, self.version_arn
        return _Meter(
            usage.billed_inference_minutes(arn),
            usage.inference_unit_seconds(arn),
            usage.detect_calls[arn],
            usage.rejected_calls[arn],
        )

    def begin_period(self) -> float:
        """Wait until the model is at rest, then move to the next midnight; returns it."""
        while self.status() in ("STARTING", "RUNNING", "STOPPING"):
            if self.status() != "STOPPING":
                self.rekognition.stop_project_version(ProjectVersionArn=self.version_arn)
            self.clock.advance(self.timings.stop_seconds)
        origin = (self.clock.time() // DAY + 1) * DAY
        self.clock.set(origin)
        return origin


# --- what a strategy cost ----------------------------------------------------------------------


@dataclass
class Bill:
    billed_minutes: int  # inference-unit minutes, each run rounded up (the engine's meter)
    inference_unit_seconds: float  # the same, unrounded
    start_to_stop_seconds: float  # StartProjectVersion to StopProjectVersion, summed over runs
    runs: int
    detect_calls: int  # admitted by the engine
    throttled_calls: int  # rejected for throughput, then retried
    labelled: int
    quarantined: int
    left_queued: int
    lost: int  # dropped by the queue's retention or moved to its dead-letter queue
    model_at_end: str
    last_billed_at: float | None  # when the last RUNNING stretch ended, after the period start

    @property
    def billed_hours(self) -> float:
        return self.billed_minutes / 60

    def as_dict(self) -> dict[str, Any]:
        found = asdict(self)
        found["billed_inference_unit_hours"] = round(self.billed_hours, 3)
        found["inference_unit_seconds"] = round(self.inference_unit_seconds, 1)
        found["start_to_stop_hours"] = round(self.start_to_stop_seconds / HOUR, 3)
        found["last_billed_at_hours"] = (
            None if self.last_billed_at is None else round(self.last_billed_at / HOUR, 3)
        )
        del found["start_to_stop_seconds"], found["last_billed_at"]
        return found


# --- the queue ---------------------------------------------------------------------------------


@dataclass
class _Message:
    upload: Upload
    seq: int
    sent_at: float
    visible_at: float
    receives: int = 0  # SQS's ApproximateReceiveCount
    attempts: int = 0  # the attempts a requeued message carries (the `attempts` attribute)
    delayed: bool = False


class SimQueue:
    """An SQS standard queue on the manual clock: visibility timeout, delays, retention and,
    with `max_receive_count`, a redrive policy (a message received more often goes to the
    dead-letter queue instead)."""

    def __init__(
        self, visibility_timeout: float, retention: float, max_receive_count: int | None = None
    ) -> None:
        self.visibility_timeout = visibility_timeout
        self.retention = retention
        self.max_receive_count = max_receive_count
        self.dead_lettered = 0
        self.expired = 0
        self._messages: list[_Message] = []
        self._seq = itertools.count()

    def send(self, upload: Upload, now: float, delay: float = 0.0, attempts: int = 0) -> None:
        message = _Message(upload, next(self._seq), now, now + delay, attempts=attempts)
        message.delayed = delay > 0
        self._messages.append(message)

    def expire(self, now: float) -> None:
        """SQS deletes a message once it has been in the queue for the retention period."""
        kept = [m for m in self._messages if m.sent_at + self.retention > now]
        self.expired += len(self._messages) - len(kept)
        self._messages = kept

    def next_visible(self) -> _Message | None:
        return min(self._messages, key=lambda m: (m.visible_at, m.seq), default=None)

    def redrive(self, message: _Message) -> bool:
        """A message about to be received once more than the redrive policy allows goes to the
        dead-letter queue instead; True if it did."""
        if self.max_receive_count is None or message.receives < self.max_receive_count:
            return False
        self.delete(message)
        self.dead_lettered += 1
        return True

    def receive(self, message: _Message, now: float, visibility: float | None = None) -> None:
        message.receives += 1
        timeout = self.visibility_timeout if visibility is None else visibility
        message.visible_at = now + timeout
        message.delayed = False

    def peek(self, now: float, most: int) -> None:
        """ReceiveMessage with VisibilityTimeout 0: the messages stay visible, but every receive
        counts."""
        self.expire(now)
        visible = sorted((m for m in self._messages if m.visible_at <= now), key=lambda m: m.seq)
        for message in visible[:most]:
            if not self.redrive(message):
                self.receive(message, now, visibility=0.0)

    def delete(self, message: _Message) -> None:
        self._messages.remove(message)

    def visible(self, now: float) -> int:
        self.expire(now)
        return sum(1 for m in self._messages if m.visible_at <= now)

    def total(self, now: float) -> int:
        """Visible, in flight and delayed: everything the queue holds."""
        self.expire(now)
        return len(self._messages)


# --- strategies --------------------------------------------------------------------------------


class Simulation:
    """One strategy over one pattern: schedule firings start executions (generators that yield
    the seconds they wait); between their steps, uploads arrive and, while the event source
    mapping is enabled, the processor labels what the queue holds at the admitted throughput.
    At equal times the processor goes first: a poller receives a message the moment it is
    visible."""

    schedule_seconds: float = HOUR
    min_confidence: float = 70.0

    def __init__(self, lab: Lab, pattern: Pattern, queue: SimQueue) -> None:
        self.lab = lab
        self.pattern = pattern
        self.queue = queue
        self.origin = lab.begin_period()
        self.end = self.origin + pattern.period_seconds
        self._uploads = sorted(pattern.uploads, key=lambda u: u.at)
        self._next_upload = 0
        self._next_slot = self.origin
        self._running_since: float | None = None
        self.mapping_enabled = False
        self.runs = 0
        self.start_to_stop = 0.0
        self.labelled = 0
        self.quarantined = 0
        self.marks: dict[str, float] = {}
        self.queue_checks = 0

    # -- what an execution does, one subclass per strategy --------------------------------------

    def execution(self) -> Iterator[float]:
        raise NotImplementedError

    def on_failure(self, message: _Message, code: str) -> tuple[str, int]:
        """After a failed DetectCustomLabels: ("quarantine", 0), ("retry", 0) (the message
        comes back after the visibility timeout) or ("requeue", attempts) (sent again as a new
        message, delayed, carrying `attempts`)."""
        raise NotImplementedError

    # -- the model, through the engine's API ----------------------------------------------------

    @property
    def now(self) -> float:
        return self.lab.clock.time()

    def start_model(self, min_units: int, max_units: int | None) -> None:
        params: dict[str, Any] = {
            "ProjectVersionArn": self.lab.version_arn,
            "MinInferenceUnits": min_units,
        }
        if max_units is not None:
            params["MaxInferenceUnits"] = max_units
        self.lab.rekognition.start_project_version(**params)
        self.runs += 1
        self._running_since = self.now

    def stop_model(self) -> None:
        self.lab.rekognition.stop_project_version(ProjectVersionArn=self.lab.version_arn)
        self.marks["stop_requested"] = self.now
        if self._running_since is not None:
            self.start_to_stop += self.now - self._running_since
            self._running_since = None

    def set_mapping(self, enabled: bool) -> None:
        if enabled and not self.mapping_enabled:
            self.marks.setdefault("processor_enabled", self.now)
        self.mapping_enabled = enabled

    # -- the run ----------------------------------------------------------------------------

    def run(self) -> Bill:
        before = self.lab.meter()
        sequence = itertools.count()
        wakes: list[tuple[float, int, Iterator[float] | None]] = []
        firing = self.origin + self.schedule_seconds
        while firing < self.end:
            wakes.append((firing, next(sequence), None))
            firing += self.schedule_seconds
        heapq.heapify(wakes)
        while wakes and wakes[0][0] < self.end:
            at, _, process = heapq.heappop(wakes)
            self._advance_to(at)
            process = process or self.execution()
            wait = next(process, None)
            if wait is not None:
                heapq.heappush(wakes, (self.now + wait, next(sequence), process))
        self._advance_to(self.end)
        return self._close(before)

    def _advance_to(self, until: float) -> None:
        """Let uploads arrive and the processor work until `until`; the clock ends there."""
        while True:
            now = self.now
            while (
                self._next_upload < len(self._uploads)
                and self.origin + self._uploads[self._next_upload].at <= now
            ):
                self.queue.send(self._uploads[self._next_upload], now)
                self._next_upload += 1
            self.queue.expire(now)
            ready = self._processor_ready_at()
            if ready is not None and ready <= now:
                self._process_one(now)
                continue
            upcoming = [t for t in (self._next_upload_at(), ready) if t is not None and t <= until]
            if not upcoming:
                break
            self.lab.clock.set(min(upcoming))
        self.lab.clock.set(until)

    def _next_upload_at(self) -> float | None:
        if self._next_upload >= len(self._uploads):
            return None
        return self.origin + self._uploads[self._next_upload].at

    def _processor_ready_at(self) -> float | None:
        if not self.mapping_enabled:
            return None
        message = self.queue.next_visible()
        return None if message is None else max(message.visible_at, self._next_slot)

    def _process_one(self, now: float) -> None:
        message = self.queue.next_visible()
        assert message is not None
        if self.queue.redrive(message):
            return
        try:
            self.lab.rekognition.detect_custom_labels(
                ProjectVersionArn=self.lab.version_arn,
                Image=self.lab.image(message.upload),
                MinConfidence=self.min_confidence,
            )
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in THROTTLED:  # the client retries the call a moment later
                self._next_slot = now + THROTTLE_RETRY_SECONDS
                return
            self._served(message, now)
            outcome, attempts = self.on_failure(message, code)
            if outcome == "quarantine":
                self.queue.delete(message)
                self.quarantined += 1
            elif outcome == "requeue":
                self.queue.delete(message)
                self.queue.send(message.upload, now, self.requeue_delay(), attempts)
            return
        self._served(message, now)
        self.queue.delete(message)
        self.labelled += 1

    def _served(self, message: _Message, now: float) -> None:
        """The call took one slot of the model's throughput; the message was received."""
        self.queue.receive(message, now)
        self._next_slot = now + self.lab.slot_seconds()
        self.marks.setdefault("first_image", now)
        self.marks["last_image"] = now

    def requeue_delay(self) -> float:
        return 0.0

    def _close(self, before: _Meter) -> Bill:
        """End the period: a model still running is stopped at its end (a billing cut)."""
        self.mapping_enabled = False
        status = self.lab.status()
        if status in ("STARTING", "RUNNING"):
            self.stop_model()
        queue = self.queue
        return _bill(
            self.lab,
            before,
            self.origin,
            self,
            status,
            (queue.total(self.end), queue.expired + queue.dead_lettered),
        )


def _bill(
    lab: Lab,
    before: _Meter,
    origin: float,
    counts: Simulation | _Counts,
    status: str,
    queue: tuple[int, int],
) -> Bill:
    after = lab.meter()
    segments = [s for s in lab.engine.usage.segments(lab.version_arn) if s.start >= origin]
    return Bill(
        billed_minutes=after.billed_minutes - before.billed_minutes,
        inference_unit_seconds=after.inference_unit_seconds - before.inference_unit_seconds,
        start_to_stop_seconds=counts.start_to_stop,
        runs=counts.runs,
        detect_calls=after.detect_calls - before.detect_calls,
        throttled_calls=after.rejected_calls - before.rejected_calls,
        labelled=counts.labelled,
        quarantined=counts.quarantined,
        left_queued=queue[0],
        lost=queue[1],
        model_at_end=status,
        last_billed_at=max(s.end for s in segments) - origin if segments else None,
    )


class StackPolicy(Simulation):
    """This stack: `statemachines/custom_labels_batch.asl.json`'s decisions, state by state
    (named in the comments), and the processor's handling of failures
    (`lambdas/custom_labels_batch/process_images.py`, `labelling.py`). Tasks take no time; Wait
    states take their seconds."""

    peek_at = 1  # AnyImages: with exactly this many messages, PeekQueue looks first
    startable = ("TRAINING_COMPLETED", "STOPPED")
    waiting = ("STARTING", "STOPPING")

    def __init__(self, lab: Lab, pattern: Pattern, settings: StackSettings) -> None:
        super().__init__(
            lab,
            pattern,
            SimQueue(
                settings.visibility_timeout_seconds,
                settings.retention_seconds,
                settings.max_receive_count,
            ),
        )
        self.settings = settings
        self.schedule_seconds = settings.schedule_seconds
        self.min_confidence = settings.min_confidence
        self.lock_held = False

    def execution(self) -> Iterator[float]:
        if self.lock_held:  # AcquireLock fails, the holder is RUNNING: AnotherRunIsActive
            return
        self.lock_held = True
        try:
            yield from self._locked_run()
        finally:
            self.lock_held = False  # ReleaseLock / ReleaseIdleLock / ReleaseLockAfterError

    def _locked_run(self) -> Iterator[float]:
        s = self.settings
        total = self.queue.total(self.now)  # CountWaiting
        if total == 0:  # AnyImages
            return  # ReleaseIdleLock, NothingToDo
        if total == self.peek_at:
            # PeekQueue (VisibilityTimeout 0), DiscardTestEvents: this queue holds no
            # s3:TestEvent, so nothing is discarded, but the peek counts as a receive.
            self.queue.peek(self.now, self.peek_at)
            if self.queue.total(self.now) == 0:  # RecountWaiting, AnythingLeft
                return  # ReleaseIdleLock, NothingToDo
        status = self.lab.status()  # DescribeModel
        if status in (*self.startable, "FAILED"):  # ModelState: a FAILED model may start again
            if not self._start():  # StartModel
                return
        elif status != "RUNNING" and status not in self.waiting:
            self._after_error()  # ModelUnusable
            return
        start_polls = 0
        while status != "RUNNING":
            start_polls += 1  # CountStartPoll
            if start_polls > s.max_start_polls:  # StartBudgetLeft
                self._after_error()  # ModelDidNotStart
                return
            yield s.poll_seconds  # WaitForModel
            status = self.lab.status()  # DescribeStartingModel, StartingModelState
            if status in self.startable:
                if not self._start():  # StartModel
                    return
            elif status != "RUNNING" and status not in self.waiting:
                self._after_error()  # ModelFailed / ModelUnusable
                return
        self.set_mapping(True)  # StartProcessing
        drain_polls = 0
        while True:
            yield s.poll_seconds  # WaitForQueue
            self.queue_checks += 1
            if self.queue.total(self.now) == 0:  # CountRemaining, QueueDrained
                break
            drain_polls += 1  # CountDrainPoll
            if drain_polls >= s.max_drain_polls:  # DrainBudgetLeft: the rest waits
                break
        self.set_mapping(False)  # StopProcessing
        self.stop_model()  # StopModel
        stop_polls = 0
        while True:
            yield s.poll_seconds  # WaitForStop
            status = self.lab.status()  # DescribeStoppingModel
            if status != "STOPPING":  # StoppingModelState: STOPPED -> ReadCounts, Notify
                return
            stop_polls += 1  # CountStopPoll
            if stop_polls > s.max_start_polls:  # StopBudgetLeft -> ModelDidNotStop
                return

    def _start(self) -> bool:
        """StartModel; False when it failed with anything but ResourceInUseException."""
        s = self.settings
        try:
            self.start_model(s.min_inference_units, s.max_inference_units)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ResourceInUseException":
                return True  # Catch -> CountStartPoll
            self._after_error()
            return False
        return True

    def _after_error(self) -> None:
        """StopProcessingAfterError, StopModelAfterError, NotifyFailure."""
        self.set_mapping(False)
        with contextlib.suppress(ClientError):  # the Catch goes on to NotifyFailure
            self.stop_model()

    def on_failure(self, message: _Message, code: str) -> tuple[str, int]:
        # record_handler: this try is the attempts carried plus one; label_image: a model
        # that is busy or not serving is retried without counting; an image Rekognition cannot
        # read is quarantined at once; any other error (an S3 object it may not read while the
        # upload still exists: the simulation never deletes an unlabelled upload) counts, and
        # the max_attempts-th quarantines. A retry is a new message, delayed.
        attempt = message.attempts + 1
        if code in NOT_NOW_ERRORS:
            return "requeue", attempt - 1
        if code in UNREADABLE_IMAGE_ERRORS or attempt >= self.settings.max_attempts:
            return "quarantine", 0
        return "requeue", attempt

    def requeue_delay(self) -> float:
        return float(min(900, self.settings.retry_delay_seconds))


class PublishedPolicy(Simulation):
    """The published sample: its state machine (template.yaml) and functions, decision by
    decision. Its queue check counts only visible messages (`sqs_poller`); any failure of the
    analysing function returns the message after the visibility timeout."""

    def __init__(
        self, lab: Lab, pattern: Pattern, settings: PublishedSettings | None = None
    ) -> None:
        self.settings = settings or PublishedSettings()
        super().__init__(
            lab,
            pattern,
            SimQueue(self.settings.visibility_timeout_seconds, self.settings.retention_seconds),
        )
        self.schedule_seconds = self.settings.schedule_seconds
        self.min_confidence = self.settings.min_confidence

    def execution(self) -> Iterator[float]:
        s = self.settings
        if self.queue.visible(self.now) == 0:  # Check SQS Queue
            return  # Finish
        while True:
            status = self.lab.status()  # Start Model: nothing to do if STARTING or RUNNING
            if status not in ("STARTING", "RUNNING"):
                try:
                    self.start_model(s.inference_units, None)
                except ClientError:
                    return  # the function fails; no Retry or Catch: the execution fails
            if status == "RUNNING":  # Start States
                break
            yield s.start_wait_seconds  # Wait for the model to start
        if self.mapping_enabled:  # Enable SQS Trigger answers Already_Running
            return  # Is another machine already running? -> Finish
        self.set_mapping(True)
        while True:
            yield s.keep_running_seconds  # Keep Model running for 1 hr
            self.queue_checks += 1
            if self.queue.visible(self.now) == 0:  # Check Queue Again
                break
        self.set_mapping(False)  # Disable SQS Trigger
        if self.lab.status() in ("STARTING", "RUNNING"):  # Stop Model
            self.stop_model()

    def on_failure(self, message: _Message, code: str) -> tuple[str, int]:
        return "retry", 0  # the function raises; no DLQ, so the message always comes back


@dataclass
class _Counts:
    runs: int = 0
    start_to_stop: float = 0.0
    labelled: int = 0
    quarantined: int = 0


def lower_bound(lab: Lab, pattern: Pattern, schedule_seconds: float, units: int) -> Bill:
    """The oracle: per batch (uploads between two schedule firings), start the model when the
    batch is complete, keep it RUNNING one throughput slot per upload, stop it."""
    origin = lab.begin_period()
    end = origin + pattern.period_seconds
    before = lab.meter()
    counts = _Counts()
    previous = origin
    firing = origin + schedule_seconds
    while firing < end:
        batch = [u for u in pattern.uploads if previous < origin + u.at <= firing]
        previous, at = firing, firing
        firing += schedule_seconds
        if not batch:
            continue
        lab.clock.set(at)
        while lab.status() == "STOPPING":
            lab.clock.advance(lab.timings.stop_seconds)
        lab.rekognition.start_project_version(
            ProjectVersionArn=lab.version_arn, MinInferenceUnits=units
        )
        started = lab.clock.time()
        counts.runs += 1
        lab.clock.advance(lab.timings.start_seconds)
        if lab.status() != "RUNNING":
            raise RuntimeError("the model did not start in the engine's start time")
        for upload in batch:
            while True:
                try:
                    lab.rekognition.detect_custom_labels(
                        ProjectVersionArn=lab.version_arn, Image=lab.image(upload)
                    )
                    counts.labelled += 1
                except ClientError as error:
                    if error.response["Error"]["Code"] in THROTTLED:
                        lab.clock.advance(THROTTLE_RETRY_SECONDS)
                        continue
                    counts.quarantined += 1
                break
            lab.clock.advance(lab.slot_seconds())
        lab.rekognition.stop_project_version(ProjectVersionArn=lab.version_arn)
        counts.start_to_stop += lab.clock.time() - started
    lab.clock.set(end)
    return _bill(lab, before, origin, counts, lab.status(), (0, 0))


# --- comparing ---------------------------------------------------------------------------------


@dataclass
class PatternResult:
    pattern: Pattern
    ours: Bill
    published: Bill
    bound: Bill
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "description": self.pattern.description,
            "period_days": self.pattern.period_seconds / DAY,
            "uploads": len(self.pattern.uploads),
            "this_stack": self.ours.as_dict(),
            "published_sample": self.published.as_dict(),
            "lower_bound": self.bound.as_dict(),
            "ours_vs_published": _ratio(self.ours.billed_minutes, self.published.billed_minutes),
            "ours_vs_lower_bound": _ratio(self.ours.billed_minutes, self.bound.billed_minutes),
            "simulation_seconds": round(self.seconds, 1),
        }


def _ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 3) if denominator else None


def compare(lab: Lab, pattern: Pattern, settings: StackSettings) -> PatternResult:
    """The three strategies on one pattern, one after the other on the same engine."""
    started = time.perf_counter()
    ours = StackPolicy(lab, pattern, settings).run()
    published = PublishedPolicy(lab, pattern).run()
    bound = lower_bound(lab, pattern, settings.schedule_seconds, settings.min_inference_units)
    return PatternResult(pattern, ours, published, bound, time.perf_counter() - started)


# --- validation against the real stack ---------------------------------------------------------

VALIDATION_BURST: Final = (
    *INCOMING,
    *(f"poison/{p.name}" for p in sorted((SAMPLES / "poison").iterdir()) if p.is_file()),
)


def _real_stack_burst(assembly_dir: Path) -> dict[str, Any]:
    """The deployed state machine and processor on the local cloud, for one burst."""
    from localcloud.cloud import LocalCloud
    from localcloud.demos.custom_labels_batch import CLOCK_SPEED, deploy_with_model, fire_schedule

    with (
        tempfile.TemporaryDirectory() as scratch,
        LocalCloud(assembly_dir, clock_speed=CLOCK_SPEED, work_dir=Path(scratch)) as cloud,
    ):
        stack = deploy_with_model(cloud)
        version_arn = stack.context.parameters["ProjectVersionArn"]
        s3 = cloud.client("s3")
        for relative in VALIDATION_BURST:
            s3.put_object(
                Bucket=stack.outputs["SourceBucketName"],
                Key=f"uploads/{Path(relative).name}",
                Body=(SAMPLES / relative).read_bytes(),
            )
        fire_schedule(cloud)
        wall_started = time.monotonic()
        cloud.settle(timeout=600)
        wall = time.monotonic() - wall_started
        # Recorded calls carry wall-clock times; after the schedule fired the local clock only
        # runs (no jumps), so wall seconds map to virtual seconds at the clock's speed.
        reference_wall, reference_virtual = datetime.now(UTC), cloud.clock.time()

        def virtual(call_time: datetime) -> float:
            elapsed = (reference_wall - call_time).total_seconds()
            return reference_virtual - elapsed * cloud.clock.speed

        usage = cloud.rekognition.usage
        segments = usage.segments(version_arn)
        calls = cloud.recorder.calls()
        stop = next(c for c in calls if c.operation == "StopProjectVersion")
        machine = stop.principal
        detects = [virtual(c.time) for c in calls if c.operation == "DetectCustomLabels"]
        enabled = next(
            virtual(c.time)
            for c in calls
            if c.operation == "UpdateEventSourceMapping" and c.params.get("Enabled")
        )
        running_at = segments[0].start
        checks = [
            c
            for c in calls
            if c.principal == machine
            and c.operation == "GetQueueAttributes"
            and virtual(c.time) > enabled
            and virtual(c.time) <= virtual(stop.time)
        ]
        keys = [
            entry["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(
                Bucket=stack.outputs["FinalBucketName"]
            )
            for entry in page.get("Contents", [])
        ]
        return {
            "inference_unit_seconds": round(usage.inference_unit_seconds(version_arn), 1),
            "billed_minutes": usage.billed_inference_minutes(version_arn),
            "runs": len({s.run for s in segments}),
            "processor_enabled_after_running_s": round(enabled - running_at, 1),
            "first_image_after_running_s": round(min(detects) - running_at, 1),
            "last_image_after_running_s": round(max(detects) - running_at, 1),
            "stop_requested_after_running_s": round(virtual(stop.time) - running_at, 1),
            "drain_polls": len(checks),
            "labelled": len([k for k in keys if k.startswith("labels/")]),
            "quarantined": len(
                [k for k in keys if k.startswith("failed/") and k.endswith(".error.json")]
            ),
            "model_at_end": cloud.rekognition.status_of(version_arn),
            "wall_seconds": round(wall, 1),
            "clock_speed": cloud.clock.speed,
        }


def _simulated_burst(lab: Lab, settings: StackSettings) -> dict[str, Any]:
    """The stack policy for the same burst: uploaded, then the schedule fires an hour later."""
    burst = Pattern(
        "validation burst",
        "the demo's burst",
        3 * HOUR,
        tuple(Upload(MINUTE, relative) for relative in VALIDATION_BURST),
    )
    policy = StackPolicy(lab, burst, settings)
    bill = policy.run()
    segment = next(
        s for s in lab.engine.usage.segments(lab.version_arn) if s.start >= policy.origin
    )
    marks = {name: round(at - segment.start, 1) for name, at in policy.marks.items()}
    return {
        "inference_unit_seconds": round(bill.inference_unit_seconds, 1),
        "billed_minutes": bill.billed_minutes,
        "runs": bill.runs,
        "processor_enabled_after_running_s": marks["processor_enabled"],
        "first_image_after_running_s": marks["first_image"],
        "last_image_after_running_s": marks["last_image"],
        "stop_requested_after_running_s": marks["stop_requested"],
        "drain_polls": policy.queue_checks,
        "labelled": bill.labelled,
        "quarantined": bill.quarantined,
        "model_at_end": lab.status(),
    }


def validate(real: dict[str, Any], simulated: dict[str, Any], poll_seconds: int) -> dict[str, Any]:
    """The real run and the simulated policy for the same burst, and where they differ."""
    # The real window from RUNNING to StopProjectVersion, less its nominal Wait states, is what
    # the emulation itself took (state transitions, Lambda runs, moto calls) at the clock's
    # speed; the simulation's tasks take no time.
    return {
        "burst": list(VALIDATION_BURST),
        "real_state_machine": real,
        "simulated_policy": simulated,
        "difference_inference_unit_seconds": round(
            real["inference_unit_seconds"] - simulated["inference_unit_seconds"], 1
        ),
        "real_overhead_s": round(
            real["stop_requested_after_running_s"] - real["drain_polls"] * poll_seconds, 1
        ),
        "simulated_overhead_s": round(
            simulated["stop_requested_after_running_s"] - simulated["drain_polls"] * poll_seconds,
            1,
        ),
    }


# --- entry point -------------------------------------------------------------------------------


def run(assembly_dir: Path) -> dict[str, Any]:
    settings = StackSettings.from_assembly(assembly_dir)
    # The local cloud first: it and the lab each run their own moto mock, never both at once.
    real = _real_stack_burst(assembly_dir)
    with Lab() as lab:
        validation = validate(real, _simulated_burst(lab, settings), settings.poll_seconds)
        started = time.perf_counter()
        results = [compare(lab, pattern, settings) for pattern in patterns()]
        simulation_seconds = time.perf_counter() - started
        timings = lab.engine.timings
        tps = lab.engine.tps_per_inference_unit
    return {
        "stack_settings": asdict(settings),
        "published_settings": asdict(PublishedSettings()),
        "published_sample": PUBLISHED_SAMPLE_URL,
        "engine": {
            "start_seconds": timings.start_seconds,
            "stop_seconds": timings.stop_seconds,
            "tps_per_inference_unit": tps,
        },
        "documented": [
            {
                **fact,
                "used_as": fact["used_as"].format(
                    start=timings.start_seconds, stop=timings.stop_seconds, tps=tps
                ),
            }
            for fact in DOCUMENTED
        ],
        "patterns": {r.pattern.name: r.as_dict() for r in results},
        "simulation_seconds": round(simulation_seconds, 1),
        "validation": validation,
    }


def _hours(bill: dict[str, Any]) -> str:
    runs = bill["runs"]
    return f"{bill['billed_inference_unit_hours']:.2f} h ({runs} run{'s' * (runs != 1)})"


def _x(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.3g}x"


def markdown(r: dict[str, Any]) -> list[str]:
    """The RESULTS.md section for `run`'s results."""
    s, e, p = r["stack_settings"], r["engine"], r["published_settings"]
    units = (
        f"{s['min_inference_units']}"
        if s["min_inference_units"] == s["max_inference_units"]
        else f"{s['min_inference_units']}-{s['max_inference_units']}"
    )
    units += " inference unit" + ("s" * (s["max_inference_units"] != 1))
    first = next(iter(r["patterns"].values()))
    lines = [
        "## What the Custom Labels model costs (billed inference-unit hours)",
        "",
        f"Each arrival pattern runs for a simulated {first['period_days']:g} days, three times on "
        "one local Rekognition Custom Labels engine (the model trained from "
        "`samples/custom_labels_batch/`) on a clock advanced by hand, through a real boto3 client: "
        "this stack's strategy, the published sample's and a lower bound. Images are labelled "
        "by the engine's `DetectCustomLabels` (the sample images' bytes) at the throughput it "
        "admits, a call rejected for throughput being retried "
        f"{THROTTLE_RETRY_SECONDS * 1000:g} ms later, by the same ideal processor for every "
        "strategy (no Lambda latency or concurrency limit); the cost is what the "
        "engine's meter bills: RUNNING time x inference units, each run rounded up to a whole "
        f"minute. Engine timings: start {e['start_seconds']:g} s, stop {e['stop_seconds']:g} s, "
        f"{e['tps_per_inference_unit']:g} transactions per second per inference unit "
        "(documentation below). The simulations took "
        f"{r['simulation_seconds']} s.",
        "",
        f"- **This stack**: a policy that takes the decisions of "
        "`statemachines/custom_labels_batch.asl.json` state by state (count visible + in-flight "
        "+ delayed messages; peek at a lone message; start; poll until RUNNING; enable the "
        "processor; poll until the queue is empty or the runtime budget is spent; disable; "
        "stop; poll until STOPPED; one run at a time), and whose processor handles failures as "
        "`lambdas/custom_labels_batch/` does (unreadable images quarantined at once, other "
        "failures "
        "retried as a delayed message and quarantined at the last attempt). Settings read from "
        f"`{s['source']}`: schedule every {s['schedule_seconds'] / 3600:g} h, poll every "
        f"{s['poll_seconds']} s, at most {s['max_start_polls']} polls to start and "
        f"{s['max_drain_polls']} to drain, {units}, {s['max_attempts']} attempts, retries "
        f"{s['retry_delay_seconds']} s apart, visibility timeout "
        f"{s['visibility_timeout_seconds']} s, maxReceiveCount {s['max_receive_count']}.",
        f"- **Published sample** ({r['published_sample']}, `template.yaml` and `functions/`): "
        f"every {p['schedule_seconds'] / 3600:g} h, if the queue has visible messages (its "
        "poller asks for `ApproximateNumberOfMessages` only), start the model "
        f"({p['inference_units']} unit), wait {p['start_wait_seconds']:g} s, enable the "
        f"trigger, keep the model running {p['keep_running_seconds']:g} s, check again, stop "
        "only when no message is visible; a firing that finds the trigger enabled ends. No "
        f"DLQ: a failed image comes back after the {p['visibility_timeout_seconds']:g} s "
        f"visibility timeout until the {p['retention_seconds'] / 86400:g}-day retention drops "
        "it.",
        "- **Lower bound**: an oracle that knows the uploads. Per batch (the uploads between two "
        "firings of the stack's schedule, i.e. what one scheduled run finds) it starts the "
        "model when the batch is complete and keeps it RUNNING exactly one throughput slot per "
        "upload (images / throughput), then stops it. The engine bills RUNNING time, so the "
        "start time is latency here, not cost; counted from the start request it is start "
        "time + images / throughput (second table).",
        "",
        "| pattern | uploads | this stack | published sample | lower bound | "
        "ours / published | ours / lower bound | same, unrounded |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, d in r["patterns"].items():
        ours, pub, low = d["this_stack"], d["published_sample"], d["lower_bound"]
        unrounded = _ratio(ours["inference_unit_seconds"], low["inference_unit_seconds"])
        lines.append(
            f"| {name}: {d['description']} | {d['uploads']:,} | {_hours(ours)} | {_hours(pub)} "
            f"| {_hours(low)} | {_x(d['ours_vs_published'])} | {_x(d['ours_vs_lower_bound'])} "
            f"| {_x(unrounded)} |"
        )
    lines += [
        "",
        '"Same, unrounded" compares the inference-unit seconds before the per-run rounding: '
        "what this stack spends beyond the bound is the wait for the poll that finds the queue "
        f"empty (at most {s['poll_seconds']} s a run) and, for an image that keeps failing, "
        f"its retries {s['retry_delay_seconds']} s apart; the rounding to whole minutes mostly "
        "absorbs it.",
        "",
    ]
    for name, d in r["patterns"].items():
        ours, pub = d["this_stack"], d["published_sample"]
        if not ours["quarantined"]:
            continue
        lines.append(
            f"- {name}: this stack quarantined the image after "
            f"{ours['detect_calls'] - ours['labelled']} call(s) for it, and its model ran "
            f"{ours['runs']} times in all. The published sample called "
            f"`DetectCustomLabels` {pub['detect_calls']:,} times for {d['uploads']:,} uploads "
            f"and started the model {pub['runs']} times, the last stretch ending "
            f"{pub['last_billed_at_hours']:.1f} h into the period; the image was never "
            f"labelled nor quarantined ({pub['lost']} message(s) dropped by the queue's "
            f"retention, {pub['left_queued']} still queued at the end)."
        )
    lines += [
        "",
        "From the start request to the stop (hours, summed over runs; what would be billed if "
        "the STARTING time counted as well):",
        "",
        "| pattern | this stack | published sample | lower bound (start + images / throughput) |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, d in r["patterns"].items():
        lines.append(
            f"| {name} | {d['this_stack']['start_to_stop_hours']:.2f} | "
            f"{d['published_sample']['start_to_stop_hours']:.2f} | "
            f"{d['lower_bound']['start_to_stop_hours']:.2f} |"
        )
    v = r["validation"]
    real, sim = v["real_state_machine"], v["simulated_policy"]
    pickup = real["first_image_after_running_s"] - real["processor_enabled_after_running_s"]
    labelling = real["last_image_after_running_s"] - real["first_image_after_running_s"]
    rows = (
        ("inference-unit seconds (meter)", "inference_unit_seconds"),
        ("billed minutes", "billed_minutes"),
        ("runs", "runs"),
        ("processor enabled, s after RUNNING", "processor_enabled_after_running_s"),
        ("first image, s after RUNNING", "first_image_after_running_s"),
        ("last image, s after RUNNING", "last_image_after_running_s"),
        ("StopProjectVersion, s after RUNNING", "stop_requested_after_running_s"),
        ("drain polls", "drain_polls"),
        ("labelled / quarantined", None),
        ("model afterwards", "model_at_end"),
    )
    lines += [
        "",
        "### The simulated policy against the real state machine",
        "",
        f"The demo's burst ({len(v['burst'])} images: the 12 sample images and the 4 poison "
        "files) uploaded, then the schedule fired: once through the deployed stack on the local "
        f"cloud (state machine, processor Lambda, SQS, clock at {real['clock_speed']:g}x, "
        f"{real['wall_seconds']} s of wall time), once through the simulated policy.",
        "",
        "| | real state machine | simulated policy |",
        "| --- | ---: | ---: |",
    ]
    for label, key in rows:
        if key is None:
            lines.append(
                f"| {label} | {real['labelled']} / {real['quarantined']} | "
                f"{sim['labelled']} / {sim['quarantined']} |"
            )
        else:
            lines.append(f"| {label} | {real[key]} | {sim[key]} |")
    lines += [
        "",
        f"Both runs labelled {sim['labelled']} images, quarantined {sim['quarantined']} and "
        f"left the model {sim['model_at_end']} after {sim['runs']} run(s); the real run bills "
        f"{v['difference_inference_unit_seconds']:g} inference-unit seconds more. That "
        "difference is the local cloud's own time: at "
        f"{real['clock_speed']:g}x every wall-clock second of emulation (state transitions in "
        "moto's executor, the processor's Lambda runs and their S3, DynamoDB and Rekognition "
        f"calls) is {real['clock_speed']:g} virtual seconds while the model runs. Between "
        f"RUNNING and StopProjectVersion the real run spent {real['drain_polls']} x "
        f"{s['poll_seconds']} s in Wait states and {v['real_overhead_s']:g} s "
        f"(~{v['real_overhead_s'] / real['clock_speed']:.1f} s of wall time) in the emulation: "
        f"its start polls, each {s['poll_seconds']} s plus the emulator's time, found the model "
        "RUNNING "
        f"{real['processor_enabled_after_running_s']:g} s late, the first message reached the "
        f"processor {pickup:.0f} s after it was enabled, and labelling the burst took "
        f"{labelling:.0f} virtual "
        f"seconds where the engine's throughput allows {sim['last_image_after_running_s']:g}. "
        f"The simulation's tasks take no time ({v['simulated_overhead_s']:g} s), and its poll "
        f"finds the model RUNNING at once because the engine's {e['start_seconds']:g} s start is "
        f"a whole number of {s['poll_seconds']} s polls: on AWS that poll comes up to one "
        "interval later, so per run the simulated figures for this stack can be short by up to "
        "one poll interval of RUNNING time.",
        "",
        "### Timings from the AWS documentation",
        "",
    ]
    for fact in r["documented"]:
        lines.append(f"- {fact['fact']} Used as: {fact['used_as']}. <{fact['url']}>")
    lines += [
        "",
        "The documentation is not explicit about whether the STARTING time is billed: the "
        "engine bills RUNNING time only, while the guide's usage report suggests tracking "
        "StartProjectVersion and StopProjectVersion calls when only one model runs "
        "(<https://docs.aws.amazon.com/rekognition/latest/customlabels-dg/rm-model-usage.html>); "
        "the start-to-stop table above gives the figures under that reading.",
        "",
    ]
    return lines


if __name__ == "__main__":
    print(json.dumps(run(ROOT / "cdk.out"), indent=2))
