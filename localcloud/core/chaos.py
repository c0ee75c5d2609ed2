"""Chaos: any AWS call the local cloud answers can fail, as AWS calls fail under load.

`--chaos RATE[:SEED]` (or `LocalCloud(chaos=...)`, or `LOCALCLOUD_CHAOS=RATE[:SEED]`) makes
each call fail with probability RATE before it reaches the service, with an error AWS answers
that operation with when it throttles or has an internal fault:

* the errors come from the operation's botocore model: the errors it declares that botocore's
  standard retry mode classifies as throttling (`ProvisionedThroughputExceededException`,
  `ThrottlingException`, `RequestLimitExceeded`, SQS's `RequestThrottled`, Lambda's
  `TooManyRequestsException`, SNS's `Throttled`) and the server faults it declares (HTTP 500 or
  503, e.g. DynamoDB's `InternalServerError`, Lambda's `ServiceException`);
* an operation whose model declares no such error gets the errors its service documents for
  every operation (`DOCUMENTED_FAULTS`: S3's `SlowDown` 503, the query APIs' `Throttling`, the
  JSON APIs' `ThrottlingException`; AWS's common `InternalFailure` 500 and
  `ServiceUnavailable` 503);
* the status is the one the model gives the error (or its protocol's default: 500 for a server
  fault, 400 otherwise), so botocore's retry handlers treat the error exactly as they treat
  AWS's: SDK clients with retries retry it, Step Functions' aws-sdk tasks (which do not retry)
  hand it to the state machine's Retry and Catch.

The failure is injected where every call arrives (the `before-send` dispatch in
`localcloud.core.moto_hooks`): calls made by the user, handlers, state machines' integrations, the
event-delivery pollers and the local engines are all subject to it; only the calls the local
cloud makes as its deployer (provisioning, API Gateway reading its own configuration, A2I
emitting its events), which are no API calls on AWS, never fail. With `after_effect` > 0,
that share of the failures happen after the call took effect: the service did the work and the
caller sees a read timeout (which botocore retries too), as when a response is lost.

Every failure is drawn from a `random.Random` per call site (caller, service, operation) seeded
from SEED, so a run can be replayed: the n-th call one principal makes to one operation fails
or not regardless of how threads interleave other call sites. Rate 0 installs nothing.
Injected failures are counted per service and operation (`Chaos.failed`).
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os
import random
import threading
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, TypeVar
from xml.sax.saxutils import escape

import botocore.session
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.model import OperationModel, ServiceModel
from botocore.retries import standard

_T = TypeVar("_T")

CHAOS_ENVIRONMENT_VARIABLE = "LOCALCLOUD_CHAOS"
SERVER_FAULT_STATUSES = (500, 503)  # internal error, service unavailable
# A throttled request is answered 400, 429 or 503 (Rekognition's ThrottlingException: 500); 502
# is what services (Lambda) answer when a dependency the resource's configuration involves fails
# (its VPC's ENIs, its KMS key), which a function without them never sees.
THROTTLING_STATUSES = (400, 429, 500, 503)
CHAOS_MESSAGE = "Injected by the local cloud's chaos mode (--chaos)."


class ChaosSpecError(ValueError):
    """A `--chaos` value that is not RATE[:SEED]."""


@dataclass(frozen=True)
class ChaosSettings:
    rate: float
    seed: int = 0
    after_effect: float = 0.0  # the share of failures that happen after the call took effect

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ChaosSpecError(f"the chaos rate must be between 0 and 1, not {self.rate}")
        if not 0.0 <= self.after_effect <= 1.0:
            raise ChaosSpecError(
                f"the after-effect share must be between 0 and 1, not {self.after_effect}"
            )

    @classmethod
    def parse(cls, text: str) -> ChaosSettings:
        """`RATE[:SEED]`: a failure rate from 0 to 1 and an optional integer seed (default 0)."""
        rate_text, _, seed_text = text.strip().partition(":")
        try:
            rate = float(rate_text)
        except ValueError:
            raise ChaosSpecError(
                f"--chaos takes RATE[:SEED], a rate from 0 to 1 and an integer seed "
                f"(e.g. 0.05:7); {rate_text!r} is not a number"
            ) from None
        if math.isnan(rate) or not 0.0 <= rate <= 1.0:
            raise ChaosSpecError(
                f"--chaos takes RATE[:SEED]; the rate is the share of AWS calls that fail, "
                f"from 0 to 1, not {rate_text}"
            )
        seed = 0
        if seed_text or text.strip().endswith(":"):
            try:
                seed = int(seed_text)
            except ValueError:
                raise ChaosSpecError(
                    f"--chaos takes RATE[:SEED]; the seed must be an integer, not {seed_text!r}"
                ) from None
        return cls(rate=rate, seed=seed)

    @property
    def active(self) -> bool:
        return self.rate > 0.0


@dataclass
class ChaosRun:
    """The chaos of one run (a demo, the server): the settings every `LocalCloud` made during
    it gets unless told otherwise, and what the clouds stopped during it failed: calls, of
    those the ones that took effect, and deliveries made again (at-least-once)."""

    settings: ChaosSettings | None
    counts: Counter[str] = field(default_factory=Counter)
    after_effect: Counter[str] = field(default_factory=Counter)
    repeated: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(
        self,
        counts: Mapping[str, int],
        after_effect: Mapping[str, int],
        repeated: Mapping[str, int] | None = None,
    ) -> None:
        with self.lock:
            self.counts.update(counts)
            self.after_effect.update(after_effect)
            self.repeated.update(repeated or {})


# The run in progress, per thread and task (a context variable, as `decimal` keeps its context).
_current_run: contextvars.ContextVar[ChaosRun | None] = contextvars.ContextVar(
    "localcloud_chaos_run", default=None
)


@contextlib.contextmanager
def chaos_run(settings: ChaosSettings | None) -> Iterator[ChaosRun]:
    """Run with `settings` as every new local cloud's chaos; the run's tally when it ends."""
    run = ChaosRun(settings)
    token = _current_run.set(run)
    try:
        yield run
    finally:
        _current_run.reset(token)


def default_settings() -> ChaosSettings | None:
    """The run's chaos, or else the LOCALCLOUD_CHAOS environment variable's."""
    run = _current_run.get()
    if run is not None and run.settings is not None:
        return run.settings
    text = os.environ.get(CHAOS_ENVIRONMENT_VARIABLE, "").strip()
    return ChaosSettings.parse(text) if text else None


def note_finished(
    counts: Mapping[str, int],
    after_effect: Mapping[str, int],
    repeated: Mapping[str, int] | None = None,
) -> None:
    """Add a stopped local cloud's chaos counts to the run in progress, if any."""
    run = _current_run.get()
    if run is not None:
        run.add(counts, after_effect, repeated)


@dataclass(frozen=True)
class Fault:
    """One error a call can fail with: its code, its HTTP status and its kind."""

    code: str
    status: int
    throttling: bool


# The errors a service answers any operation with under throttling or an internal fault, where
# the operation's model declares none, by the service's protocol:
# S3: https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html (SlowDown 503,
#   InternalError 500, ServiceUnavailable 503);
# EC2: https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
#   (RequestLimitExceeded 503, InternalError 500, Unavailable 503);
# the query APIs (SNS, STS, IAM, CloudFormation, CloudWatch) answer throttling with
#   `Throttling` 400, the JSON APIs with `ThrottlingException` 400; both answer internal faults
#   with AWS's common errors InternalFailure 500 and ServiceUnavailable 503
#   (https://docs.aws.amazon.com/awsconsolehelpdocs/latest/gsg/common-errors.html).
# tests/localcloud/test_chaos.py checks that botocore's retry handlers retry every one of them.
DOCUMENTED_FAULTS: Mapping[str, tuple[Fault, ...]] = {
    "rest-xml": (
        Fault("SlowDown", 503, True),
        Fault("InternalError", 500, False),
        Fault("ServiceUnavailable", 503, False),
    ),
    "ec2": (
        Fault("RequestLimitExceeded", 503, True),
        Fault("InternalError", 500, False),
        Fault("Unavailable", 503, False),
    ),
    "query": (
        Fault("Throttling", 400, True),
        Fault("InternalFailure", 500, False),
        Fault("ServiceUnavailable", 503, False),
    ),
    "json": (
        Fault("ThrottlingException", 400, True),
        Fault("InternalFailure", 500, False),
        Fault("ServiceUnavailable", 503, False),
    ),
}


def _retry_context(operation: OperationModel, code: str, status: int) -> standard.RetryContext:
    return standard.RetryContext(
        attempt_number=1,
        operation_model=operation,
        parsed_response={
            "Error": {"Code": code, "Message": CHAOS_MESSAGE},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        http_response=AWSResponse("https://localcloud.invalid/", status, {}, None),
    )


def botocore_retries(operation: OperationModel, code: str, status: int) -> bool:
    """Whether botocore's standard retry mode retries this error of this operation."""
    context = _retry_context(operation, code, status)
    return bool(standard.StandardRetryConditions().is_retryable(context))


def botocore_calls_throttling(operation: OperationModel, code: str, status: int) -> bool:
    """Whether botocore's standard retry mode counts this error as throttling."""
    context = _retry_context(operation, code, status)
    return bool(standard.ThrottlingErrorDetector(None).is_throttling_error_from_context(context))


@cache
def _raw_shapes(service_name: str) -> dict[str, Any]:
    loader = botocore.session.get_session().get_component("data_loader")
    shapes: dict[str, Any] = loader.load_service_model(service_name, "service-2")["shapes"]
    return shapes


@cache
def _service_model(service_name: str) -> ServiceModel:
    return botocore.session.get_session().get_service_model(service_name)


def modeled_status(service_name: str, shape_name: str) -> int:
    """The HTTP status of a modeled error: the one the model gives it, else its protocol's
    default (500 for a server fault, 400 for a client error)."""
    shape = _raw_shapes(service_name)[shape_name]
    status = shape.get("error", {}).get("httpStatusCode")
    if isinstance(status, int):
        return status
    return 500 if shape.get("fault") else 400


def _protocol_family(service_model: ServiceModel) -> str:
    protocol = service_model.protocol
    return protocol if protocol in ("rest-xml", "ec2", "query") else "json"


@cache
def operation_faults(service_name: str, operation_name: str) -> tuple[Fault, ...]:
    """The throttling and internal errors `operation_name` can fail with (see the module doc)."""
    service_model = _service_model(service_name)
    operation = service_model.operation_model(operation_name)
    throttling: list[Fault] = []
    internal: list[Fault] = []
    for shape in operation.error_shapes:
        code = str(shape.metadata.get("error", {}).get("code") or shape.name)
        status = modeled_status(service_name, shape.name)
        if not botocore_retries(operation, code, status):
            continue
        if botocore_calls_throttling(operation, code, status):
            if status in THROTTLING_STATUSES:
                throttling.append(Fault(code, status, True))
        elif status in SERVER_FAULT_STATUSES:
            internal.append(Fault(code, status, False))
    documented = DOCUMENTED_FAULTS[_protocol_family(service_model)]
    if not throttling:
        throttling = [fault for fault in documented if fault.throttling]
    if not internal:
        internal = [fault for fault in documented if not fault.throttling]
    return (*throttling, *internal)


def is_transient(error: BaseException) -> bool:
    """Whether `error`, raised by a botocore client after its own retries, is one AWS services
    retry when they call each other in the background (a poller, a delivery): throttling, a
    server fault or a timeout, as botocore's standard retry mode judges them."""
    from botocore.exceptions import ClientError, HTTPClientError

    if isinstance(error, HTTPClientError):
        return True
    if not isinstance(error, ClientError):
        return False
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400))
    context = standard.RetryContext(
        attempt_number=1,
        parsed_response=error.response,
        http_response=AWSResponse("https://localcloud.invalid/", status, {}, None),
    )
    checkers = (
        standard.TransientRetryableChecker(),
        standard.ThrottledRetryableChecker(),
        standard.ThrottlingStatusCodeChecker(),
    )
    return any(checker.is_retryable(context) for checker in checkers)


@dataclass(frozen=True)
class Injection:
    fault: Fault
    after_effect: bool


class Chaos:
    """Draws, per call, whether it fails and how; counts what failed."""

    def __init__(self, settings: ChaosSettings, exempt: frozenset[str] = frozenset()) -> None:
        """`exempt`: principals whose calls never fail, because on AWS they are no API calls
        at all (the local cloud's own machinery: provisioning, API Gateway reading its
        configuration, a service emitting its events)."""
        self.settings = settings
        self.exempt = exempt
        self._streams: dict[tuple[str, str, str], random.Random] = {}
        self._lock = threading.Lock()
        self.failed: Counter[tuple[str, str]] = Counter()
        self.failed_after_effect: Counter[tuple[str, str]] = Counter()
        self.repeated: Counter[str] = Counter()
        self._suspended = 0

    @contextlib.contextmanager
    def suspended(self) -> Iterator[None]:
        """No call fails inside: the local cloud starting, a stack deploying (CloudFormation
        retries the calls it makes until they succeed)."""
        with self._lock:
            self._suspended += 1
        try:
            yield
        finally:
            with self._lock:
                self._suspended -= 1

    def draw(self, principal: str | None, service: str, operation: str) -> Injection | None:
        key = (principal or "", service, operation)
        if principal in self.exempt:
            return None
        with self._lock:
            if self._suspended:
                return None
            stream = self._streams.get(key)
            if stream is None:
                stream = random.Random(f"{self.settings.seed}|{'|'.join(key)}")
                self._streams[key] = stream
            if stream.random() >= self.settings.rate:
                return None
            fault = stream.choice(operation_faults(service, operation))
            after_effect = stream.random() < self.settings.after_effect
            self.failed[(service, operation)] += 1
            if after_effect:
                self.failed_after_effect[(service, operation)] += 1
        return Injection(fault, after_effect)

    def _delivery_stream(self, site: str) -> random.Random:
        key = ("", "delivery", site)
        stream = self._streams.get(key)
        if stream is None:
            stream = random.Random(f"{self.settings.seed}|{'|'.join(key)}")
            self._streams[key] = stream
        return stream

    def repeats(self, site: str) -> bool:
        """Whether a delivery that succeeded at `site` comes again, at the chaos rate: SQS
        standard queues and Lambda's asynchronous invocation both deliver at least once, so a
        handler may see the same message or event twice even though nothing failed.
        https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/standard-queues-at-least-once-delivery.html
        https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html"""
        with self._lock:
            if self._suspended or not self._delivery_stream(site).random() < self.settings.rate:
                return False
            self.repeated[site] += 1
        return True

    def reordered(self, site: str, items: list[_T]) -> list[_T]:
        """`items` in a seeded random order: a standard queue delivers in best-effort order."""
        shuffled = list(items)
        with self._lock:
            if not self._suspended:
                self._delivery_stream(site).shuffle(shuffled)
        return shuffled

    def after_effect_counts(self) -> dict[str, int]:
        """Of those, the calls that took effect before failing, as {"service:Operation": n}."""
        with self._lock:
            return {f"{s}:{o}": n for (s, o), n in sorted(self.failed_after_effect.items())}

    def counts(self) -> dict[str, int]:
        """Calls failed by chaos, as {"service:Operation": n}."""
        with self._lock:
            return {f"{s}:{o}": n for (s, o), n in sorted(self.failed.items())}

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.failed.values())


def error_response(
    request: AWSPreparedRequest, service_model: ServiceModel, fault: Fault
) -> AWSResponse:
    """The HTTP response the service sends for `fault`, in the protocol of `request`."""
    from localcloud.core.protocol import ServiceError, _BodyStream, select_protocol

    request_id = str(uuid.uuid4())
    family = _protocol_family(service_model)
    headers: dict[str, str]
    if family == "json":
        protocol = select_protocol(request, service_model)
        headers, body = protocol.encode_error(
            service_model, ServiceError(fault.code, CHAOS_MESSAGE, fault.status)
        )
        if "awsQueryCompatible" in service_model.metadata:
            party = "Receiver" if fault.status >= 500 else "Sender"
            headers["x-amzn-query-error"] = f"{fault.code};{party}"
        headers["x-amzn-RequestId"] = request_id
    else:
        code, message = escape(fault.code), escape(CHAOS_MESSAGE)
        if family == "rest-xml":
            text = (
                f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
                f"<Message>{message}</Message><RequestId>{request_id}</RequestId></Error>"
            )
            headers = {"Content-Type": "application/xml", "x-amz-request-id": request_id}
        elif family == "ec2":
            text = (
                f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message>"
                f"</Error></Errors><RequestID>{request_id}</RequestID></Response>"
            )
            headers = {"Content-Type": "text/xml"}
        else:
            party = "Receiver" if fault.status >= 500 else "Sender"
            text = (
                f"<ErrorResponse><Error><Type>{party}</Type><Code>{code}</Code>"
                f"<Message>{message}</Message></Error><RequestId>{request_id}</RequestId>"
                f"</ErrorResponse>"
            )
            headers = {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}
        body = text.encode("utf-8")
    headers["Content-Length"] = str(len(body))
    return AWSResponse(request.url, fault.status, headers, _BodyStream(body))
