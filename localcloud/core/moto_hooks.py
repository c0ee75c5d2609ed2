"""Where the local cloud meets moto's internals and botocore: the only module that imports
moto (the import contracts in `.importlinter` hold every other module to that).

moto is the emulator; the hooks here add what it leaves out: answering services moto lacks
(local engines), recording calls, running Lambda handlers, delivering events asynchronously
with faithful payloads, and running waits and timeouts on the compressible local clock. Each
hook replaces an attribute through `Patches.set`, which refuses one that is missing (or that
lost a parameter the hook relies on), so a moto upgrade that moves it fails the start loudly;
`undo()` puts everything back. The readers below (`backend`, `lambda_backend`, ...) are the
only way the rest of the local cloud looks into moto's state.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import functools
import importlib
import inspect
import io
import itertools
import json
import re
import threading
import time
import types
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud.core.cloud import LocalCloud


class Patches:
    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] = []
        # (owner, name, "set" or "shadow", replacement) of everything replaced, in order.
        self.replaced: list[tuple[Any, str, str, Any]] = []

    def set(self, owner: Any, name: str, value: Any) -> None:
        """Replace `owner.name` (a module's or a class's own attribute) with `value`. A name
        that is not there fails the start: a moto or botocore upgrade that renames what a hook
        replaces must not leave the hook silently doing nothing."""
        missing = object()
        original = owner.__dict__.get(name, missing)
        where = getattr(owner, "__name__", repr(owner))
        if original is missing:
            raise RuntimeError(f"{where}.{name} is gone: re-check the hook that replaces it")
        mismatch = call_mismatch(original, value)
        if mismatch is not None:
            raise RuntimeError(f"{where}.{name} {mismatch}: re-check the hook that replaces it")
        setattr(owner, name, value)
        self.replaced.append((owner, name, "set", value))

        def restore() -> None:
            if original is missing:
                delattr(owner, name)
            else:
                setattr(owner, name, original)

        self._undo.append(restore)

    def shadow(self, owner: type, name: str, value: property) -> None:
        """Put a class property over the instance attribute `name` that `owner.__init__` sets,
        checked in its source: a rename upstream fails the start."""
        if f"self.{name}" not in inspect.getsource(vars(owner)["__init__"]):
            where = f"{owner.__name__}.__init__"
            raise RuntimeError(f"{where} no longer sets self.{name}: re-check the hook")
        setattr(owner, name, value)
        self.replaced.append((owner, name, "shadow", value))
        self._undo.append(lambda: delattr(owner, name))

    def on_undo(self, action: Callable[[], None]) -> None:
        """Run `action` when the patches are undone (e.g. stop an engine's worker thread)."""
        self._undo.append(action)

    def undo(self) -> None:
        while self._undo:
            self._undo.pop()()


def call_mismatch(original: Any, replacement: Any) -> str | None:
    """How `replacement` could not be called as `original` is (None if it can): the hook's
    own signature is what it expects of upstream. Each parameter upstream's callers may pass by
    name must be the replacement's, at the same position (or taken by its `*args`/`**kwargs`),
    and the replacement may require no parameter upstream's callers do not pass."""
    if not (inspect.isfunction(original) and inspect.isfunction(replacement)):
        return None
    theirs = list(inspect.signature(original).parameters.values())
    ours = list(inspect.signature(replacement).parameters.values())
    kinds = {p.kind for p in ours}
    positional = [p for p in ours if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    names = {p.name for p in ours}
    for index, parameter in enumerate(theirs):
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if parameter.kind == parameter.KEYWORD_ONLY:
            if parameter.name not in names and inspect.Parameter.VAR_KEYWORD not in kinds:
                return f"now takes keyword {parameter.name!r}"
            continue
        if index < len(positional):
            if positional[index].name != parameter.name:
                hooked = positional[index].name
                return f"now takes {parameter.name!r} where the hook takes {hooked!r}"
        elif inspect.Parameter.VAR_POSITIONAL not in kinds:
            return f"now takes {parameter.name!r} (parameter {index + 1}), which the hook does not"
    upstream = {p.name for p in theirs}
    for parameter in ours:
        required = parameter.default is parameter.empty and parameter.kind not in (
            parameter.VAR_POSITIONAL,
            parameter.VAR_KEYWORD,
        )
        if required and parameter.name not in upstream and ours.index(parameter) >= len(theirs):
            return f"no longer passes {parameter.name!r}, which the hook requires"
    return None


def require(owner: Any, name: str, parameters: tuple[str, ...] = ()) -> Any:
    """`owner.name`, checked before it is patched: it exists and takes `parameters`. A moto
    upgrade that renames or reshapes it fails the start, instead of a hook silently doing
    nothing."""
    target = owner.__dict__.get(name) if isinstance(owner, type) else getattr(owner, name, None)
    if target is None:
        raise RuntimeError(f"{getattr(owner, '__name__', owner)}.{name} is gone: re-check the hook")
    missing = [p for p in parameters if p not in inspect.signature(target).parameters]
    if missing:
        raise RuntimeError(
            f"{owner.__name__}.{name} no longer takes {', '.join(missing)}: re-check the hook"
        )
    return target


@contextlib.contextmanager
def fixed_rest_api_id(account_id: str, region: str, name: str, api_id: str) -> Iterator[None]:
    """The REST API named `name` created meanwhile gets the id `api_id` instead of moto's random
    one (moto's registry of custom ids), so its URL is the same on every start."""
    from moto.apigateway.utils import ApigwRestApiIdentifier
    from moto.utilities.id_generator import moto_id_manager

    identifier = ApigwRestApiIdentifier(account_id, region, name)
    moto_id_manager.set_custom_id(identifier, api_id)
    try:
        yield
    finally:
        moto_id_manager.unset_custom_id(identifier)


def load_moto() -> None:
    """Import moto, which adds its request stubber to botocore's built-in handlers."""
    import moto  # noqa: F401


def start_mock() -> Any:
    """moto's mock of every service, started as the local cloud runs it: state machines
    executed, Lambda without Docker (the local cloud runs the handlers), a new boto3 session."""
    from moto import mock_aws

    mock = mock_aws(
        config={
            "stepfunctions": {"execute_state_machine": True},
            "lambda": {"use_docker": False},
            "core": {"reset_boto3_session": True},
        }
    )
    mock.start()
    return mock


# moto's state, read -------------------------------------------------------------------------
def backend(service: str, account_id: str, region: str) -> Any:
    """moto's backend of `service` (moto's name, e.g. "sqs", "iam" with region "global")."""
    from moto.backends import get_backend

    return get_backend(service)[account_id][region]  # type: ignore[call-overload]


def lambda_backend(account_id: str, region: str) -> Any:
    """moto's Lambda backend as the local cloud configures it (no Docker)."""
    from moto.awslambda.utils import get_backend

    return get_backend(account_id, region)


def lambda_function(account_id: str, region: str, arn: str) -> Any | None:
    """moto's function `arn`, or None if there is none."""
    from moto.awslambda.exceptions import LambdaClientError

    try:
        return lambda_backend(account_id, region).get_function(arn)
    except LambdaClientError:
        return None


def sqs_event_source_mappings(account_id: str, region: str) -> list[Any]:
    """The enabled SQS event source mappings (a copy: others may change meanwhile)."""
    mappings = list(lambda_backend(account_id, region)._event_source_mappings.values())
    return [m for m in mappings if m.enabled and ":sqs:" in m.event_source_arn]


def state_machines(account_id: str, region: str) -> list[Any]:
    """The state machines of the backend that runs executions."""
    from moto.stepfunctions.responses import get_backend

    return list(get_backend(account_id, region).state_machines)


def render_input_template(template: Any, paths: dict[str, Any], event: Any) -> Any:
    """An EventBridge input transformer's output, as moto's event bus renders it."""
    from moto.events.models import EventTemplateParser

    return EventTemplateParser.parse(input_template=template, input_paths_map=paths, event=event)


def moto_service_names() -> set[str]:
    """The services moto implements, by botocore's name (moto drops the hyphens and calls
    Lambda "awslambda", whose module name would be the keyword)."""
    import moto.backend_index

    names = {name for name, _ in moto.backend_index.backend_url_patterns}
    return {"lambda" if name == "awslambda" else name for name in names}


def firehose_destinations(account_id: str, region: str, stream: str) -> list[Any] | None:
    """The destinations of moto's delivery stream `stream`, or None if there is none."""
    found = backend("firehose", account_id, region).delivery_streams.get(stream)
    return None if found is None else list(found.destinations)


# Firehose -----------------------------------------------------------------------------------
def hook_firehose_s3_delivery(patches: Patches, buffer: Callable[[str, list[bytes]], bool]) -> None:
    """moto's Firehose writes one S3 object per call at once; `buffer(stream, records)` takes
    the records of a stream it keeps (True) or leaves them to moto (False)."""
    from moto.firehose.models import FirehoseBackend

    original = require(FirehoseBackend, "put_s3_records", ("delivery_stream_name", "records"))

    def put_s3_records(
        self: Any,
        delivery_stream_name: str,
        version_id: str,
        s3_destination: dict[str, Any],
        records: list[Any],
    ) -> Any:
        if not buffer(delivery_stream_name, [record["Data"] for record in records]):
            return original(self, delivery_stream_name, version_id, s3_destination, records)
        return [{"RecordId": str(uuid.uuid4())} for _ in records]

    patches.set(FirehoseBackend, "put_s3_records", put_s3_records)


def after_firehose_record_batch(
    patches: Patches, after: Callable[[str, list[dict[str, Any]]], None]
) -> None:
    """`after(stream, records)` runs once moto has taken a `PutRecordBatch`."""
    from moto.firehose.models import FirehoseBackend

    original = require(FirehoseBackend, "put_record_batch", ("delivery_stream_name", "records"))

    def put_record_batch(self: Any, delivery_stream_name: str, records: Any) -> Any:
        result = original(self, delivery_stream_name, records)
        after(delivery_stream_name, list(records))
        return result

    patches.set(FirehoseBackend, "put_record_batch", put_record_batch)


def access_key_of(request: Any) -> str | None:
    authorization = request.headers.get("Authorization", b"")
    if isinstance(authorization, bytes):
        authorization = authorization.decode("latin-1")
    marker = "Credential="
    if marker not in authorization:
        return None
    return authorization.split(marker, 1)[1].split("/", 1)[0]


def apply(cloud: LocalCloud, patches: Patches) -> None:
    """Install the core's hooks into `patches` (a failure midway leaves the ones installed
    so far in `patches`, for `undo`)."""
    _patch_dispatch(cloud, patches)
    _patch_sdk_retry_sleep(cloud, patches)
    _patch_endpoint_clocks(cloud, patches)
    _patch_idempotency_clock(cloud, patches)
    _patch_step_functions(cloud, patches)
    _patch_sqs(cloud, patches)
    _patch_s3_notifications(cloud, patches)
    _patch_s3_version_ids(cloud, patches)
    _patch_bucket_policies(patches)
    _patch_lambda(cloud, patches)
    _patch_sns(cloud, patches)
    _patch_events(cloud, patches)


# botocore -> local engines or moto ------------------------------------------------------------
def _patch_dispatch(cloud: LocalCloud, patches: Patches) -> None:
    from botocore.exceptions import ReadTimeoutError
    from moto.core.botocore_stubber import BotocoreStubber

    from localcloud.core.chaos import error_response
    from localcloud.core.protocol import CallContext, answer

    original = require(BotocoreStubber, "__call__")
    # moto checks a write's condition and then applies it, with nothing stopping another
    # thread in between; on AWS the check and the write are one atomic step. Concurrent
    # handlers and executions rely on that (a lock item, a write-once object), so these
    # calls run one at a time. None of them blocks.
    atomic = threading.Lock()

    def needs_atomicity(service: str, operation: str) -> bool:
        if service == "dynamodb":
            return True
        return service == "s3" and operation in ("PutObject", "CopyObject",
                                                 "CompleteMultipartUpload")  # fmt: skip

    chaos = cloud.chaos
    if chaos is not None:
        _patch_current_operation(patches)

    def dispatch(self: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
        parts = event_name.split(".")
        if chaos is not None and len(parts) >= 3 and self.enabled:
            operation = _current_operation.get()
            if operation is not None and operation.name == parts[2]:
                service_name = operation.service_model.service_name
                principal = cloud.principals.principal_of(access_key_of(request))
                injection = chaos.draw(principal, service_name, operation.name)
                if injection is not None and not injection.after_effect:
                    return error_response(request, operation.service_model, injection.fault)
                if injection is not None:
                    answer_of(self, event_name, parts, request, **kwargs)
                    raise ReadTimeoutError(endpoint_url=request.url)
        return answer_of(self, event_name, parts, request, **kwargs)

    def answer_of(self: Any, event_name: str, parts: list[str], request: Any, **kwargs: Any) -> Any:
        if len(parts) >= 3 and self.enabled:
            if parts[1] == "s3" and parts[2] in ("GetObject", "HeadObject"):
                denied = _missing_object_denial(cloud, request, parts[2])
                if denied is not None:
                    return denied
            engine = cloud.operation_engines.get((parts[1], parts[2])) or cloud.engines.get(
                parts[1]
            )
            if engine is not None:
                context = CallContext(
                    account_id=cloud.account_id,
                    region=cloud.region,
                    principal=cloud.principals.principal_of(access_key_of(request)),
                )
                custom = getattr(engine, "answer_request", None)
                if custom is not None:  # a protocol `answer` does not speak (rest-json bodies)
                    return custom(request, parts[2], context)
                return answer(engine, request, parts[2], context)
            if needs_atomicity(parts[1], parts[2]):
                with atomic:
                    return original(self, event_name, request, **kwargs)
        return original(self, event_name, request, **kwargs)

    patches.set(BotocoreStubber, "__call__", dispatch)


# The operation each thread's botocore endpoint is sending: `before-send` names the service by
# its hyphenated service id only, and chaos needs the operation's model.
_current_operation: contextvars.ContextVar[Any] = contextvars.ContextVar(
    "localcloud_current_operation", default=None
)


def _patch_current_operation(patches: Patches) -> None:
    from botocore.endpoint import Endpoint

    send = require(Endpoint, "_do_get_response")

    def do_get_response(self: Any, request: Any, operation_model: Any, context: Any) -> Any:
        token = _current_operation.set(operation_model)
        try:
            return send(self, request, operation_model, context)
        finally:
            _current_operation.reset(token)

    patches.set(Endpoint, "_do_get_response", do_get_response)


def _missing_object_denial(cloud: LocalCloud, request: Any, operation: str) -> Any:
    """S3 answers a read of a missing object with 404 only to callers allowed s3:ListBucket on
    the bucket; everyone else gets 403 AccessDenied, so that key names cannot be probed."""
    from urllib.parse import unquote, urlparse

    from botocore.awsrequest import AWSResponse
    from moto.s3.models import s3_backends

    from localcloud.core.policies import Decision, evaluate

    principal = cloud.principals.principal_of(access_key_of(request))
    policy = cloud.role_policies.get(principal or "")
    if policy is None:
        return None
    url = urlparse(request.url)
    host_bucket = url.hostname.split(".s3.")[0] if url.hostname and ".s3." in url.hostname else ""
    path = url.path.lstrip("/")
    bucket, _, key = (host_bucket, "", path) if host_bucket else path.partition("/")
    key = unquote(key)
    backend = s3_backends[cloud.account_id]["global"]
    try:
        exists = backend.get_object(bucket, key) is not None
    except Exception:  # a missing bucket: let moto answer
        return None
    if exists:
        return None
    decision, _ = evaluate(policy.statements, "s3:ListBucket", f"arn:aws:s3:::{bucket}", {})
    if decision is Decision.ALLOW:
        return None
    body = (
        b""
        if operation == "HeadObject"
        else (
            b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
            b"<Message>Access Denied</Message></Error>"
        )
    )
    return AWSResponse(request.url, 403, {"Content-Type": "application/xml"}, _Raw(body))


class _Raw(io.BytesIO):
    """The raw body botocore reads from an AWSResponse."""

    def stream(self, **_: Any) -> Any:
        yield self.read()


# SDK retries back off on the local clock ----------------------------------------------------------
def _patch_sdk_retry_sleep(cloud: LocalCloud, patches: Patches) -> None:
    from botocore import endpoint

    patches.set(endpoint, "time", types.SimpleNamespace(sleep=cloud.clock.sleep, time=time.time))


# Endpoint keepers and their callers ------------------------------------------------------------
def _patch_endpoint_clocks(cloud: LocalCloud, patches: Patches) -> None:
    """The keeper compares its callers' last use with the endpoint's own timestamps, which
    the local engines take from the local clock: both read that clock here, as on AWS both
    read the same real time. (Each function imports its own copy of the modules.)"""
    clock = types.SimpleNamespace(time=cloud.clock.time)
    for module in ("lambdas.endpoint_keeper.keeper", "lambdas.shared.endpoint_usage"):
        cloud.runtime.module_overrides.append((module, "time", clock))


# Powertools idempotency --------------------------------------------------------------------------
def _patch_idempotency_clock(cloud: LocalCloud, patches: Patches) -> None:
    """Idempotency records expire, and an attempt's in-progress claim lapses, on the local
    clock, which Lambda's asynchronous retries (1 and 2 minutes later) and SQS redeliveries are
    timed by. On AWS a retry a minute after an attempt whose function timed out (30 s) takes
    the claim over; measured in real time, the compressed retry came within milliseconds and
    found the claim still held, so the event ended in the failure queue. The claim lasts the
    invocation's remaining time read as virtual seconds, which a slow invocation outlives; the
    runtime runs one invocation at a time, so no duplicate takes the claim over meanwhile."""
    from aws_lambda_powertools.utilities.idempotency.persistence import base, datarecord, dynamodb

    clock = cloud.clock

    class ClockDatetime(datetime.datetime):
        @classmethod
        def now(cls, tz: datetime.tzinfo | None = None) -> ClockDatetime:
            return cls.fromtimestamp(clock.time(), tz)

    on_clock = types.ModuleType("datetime")
    on_clock.__dict__.update({k: v for k, v in vars(datetime).items() if not k.startswith("__")})
    on_clock.datetime = ClockDatetime  # type: ignore[attr-defined]
    for module in (base, datarecord, dynamodb):
        if getattr(module, "dt", None) is not datetime:
            raise RuntimeError(f"{module.__name__} no longer reads the time as `dt`: re-check")
        patches.set(module, "dt", on_clock)


# aws-sdk integration names that differ from botocore's service names.
_SDK_SERVICE_NAMES = {"sfn": "stepfunctions", "eventbridge": "events", "acmpca": "acm-pca"}


def sdk_service_name(service_name: str) -> str:
    """botocore's name of an aws-sdk integration's service (`sfn` -> `stepfunctions`)."""
    return _SDK_SERVICE_NAMES.get(service_name.lower(), service_name.lower())


def sdk_error_prefix(service_name: str) -> str:
    """The service part of an aws-sdk task's error name, as Step Functions forms it: the
    service id in Pascal case with acronyms lowered after their first letter (`Ssm`, `Sqs`,
    `DynamoDb`, `Sfn`, `AcmPca`, `S3`, `SageMaker`)."""
    import botocore.session
    from botocore.exceptions import UnknownServiceError

    try:
        service_id = (
            botocore.session.get_session().get_service_model(sdk_service_name(service_name))
        ).service_id
    except UnknownServiceError:
        service_id = service_name
    words = []
    for word in str(service_id).split():
        letters = [word[0].upper()]
        for previous, char in itertools.pairwise(word):
            letters.append(char.lower() if previous.isupper() and char.isupper() else char)
        words.append("".join(letters))
    return "".join(words)


# An error the service model does not declare reaches a Task state as the SDK's base exception
# of the service. Step Functions documents `Lambda.AWSLambdaException` for the Lambda integration
# (https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html); the
# other optimized integrations' base exceptions follow the same SDK naming, and aws-sdk tasks'
# the AWS SDK for Java 2.x one, `<Service>Exception` (`Sfn.SfnException`).
OPTIMIZED_BASE_EXCEPTIONS = {
    "Lambda": "AWSLambdaException",
    "DynamoDB": "AmazonDynamoDBException",
    "SNS": "AmazonSNSException",
    "SQS": "AmazonSQSException",
}


def task_error_name(prefix: str, error: Any, *, sdk: bool) -> str:
    """The error name Step Functions gives a failed service call: `<Prefix>.<Name>`, where Name
    is the error the service model declares (the class botocore raises) with "Exception"
    appended unless it ends with it already (`DynamoDB.RequestLimitExceededException`,
    `S3.BucketAlreadyExistsException`, see
    https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html), and
    for an error the model does not declare, the service's base exception."""
    name = type(error).__name__
    if name == "ClientError":
        base = f"{prefix}Exception" if sdk else OPTIMIZED_BASE_EXCEPTIONS.get(prefix)
        return f"{prefix}.{base or prefix + 'Exception'}"
    if not name.endswith("Exception"):
        name += "Exception"
    return f"{prefix}.{name}"


def sdk_parameters(value: Any, shape: Any) -> Any:
    """AWS SDK integrations take every parameter name in PascalCase, whatever the API's own
    casing (`ExecutionArn` for Step Functions' `executionArn`); map them onto the API's names."""
    if shape is None:
        return value
    if shape.type_name == "structure" and isinstance(value, dict):
        members = {name.lower(): name for name in shape.members}
        named = {members.get(key.lower(), key): item for key, item in value.items()}
        return {key: sdk_parameters(item, shape.members.get(key)) for key, item in named.items()}
    if shape.type_name == "list" and isinstance(value, list):
        return [sdk_parameters(item, shape.member) for item in value]
    if shape.type_name == "map" and isinstance(value, dict):
        return {key: sdk_parameters(item, shape.value) for key, item in value.items()}
    return value


def sdk_result(value: Any, shape: Any) -> Any:
    """An AWS SDK integration's result names its fields in PascalCase (`Status`, not
    `status`); map keys are data and keep their case."""
    if shape is None:
        return value
    if shape.type_name == "structure" and isinstance(value, dict):
        return {
            key[:1].upper() + key[1:]: sdk_result(item, shape.members.get(key))
            for key, item in value.items()
        }
    if shape.type_name == "list" and isinstance(value, list):
        return [sdk_result(item, shape.member) for item in value]
    if shape.type_name == "map" and isinstance(value, dict):
        return {key: sdk_result(item, shape.value) for key, item in value.items()}
    return value


_DEFINITE_PATH = re.compile(r"\$(\.[A-Za-z0-9_\-]+|\[\d+\])*")


def patch_task_error_names(patches: Patches) -> None:
    """Name the service errors of Task states as Step Functions does (`task_error_name`), so
    that a Retry or Catch naming an error AWS never raises does not fire locally either. moto's
    executor leaves the suffix off for some optimized integrations (`DynamoDB.RequestLimitExceeded`,
    `Lambda.<code>`), doubles it for others and names every SQS error `SQS.SdkClientException`.
    The service part
    (`DynamoDB` for dynamodb:putItem, `DynamoDb` for aws-sdk:dynamodb) stays moto's."""
    from botocore.exceptions import ClientError, HTTPClientError
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
        CustomErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_factory,  # noqa: F401  (imports every integration)
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (  # noqa: E501
        StateTaskService,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (  # noqa: E501
        StateTaskServiceAwsSdk,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    patches.set(
        StateTaskServiceAwsSdk, "_normalise_service_error_name", staticmethod(sdk_error_prefix)
    )

    def named_as_aws(from_error: Callable[..., Any]) -> Callable[..., Any]:
        def from_error_named(self: Any, env: Any, ex: Exception) -> Any:
            if isinstance(ex, HTTPClientError):
                return sdk_client_failure(self, env, ex)
            event = from_error(self, env, ex)
            details = (event.event_details or {}).get("taskFailedEventDetails")
            prefix = str((details or {}).get("error", "")).partition(".")[0]
            if isinstance(ex, ClientError) and details and prefix and prefix != "States":
                name = task_error_name(prefix, ex, sdk=isinstance(self, StateTaskServiceAwsSdk))
                details["error"] = name
                event.error_name = CustomErrorName(name)
            return event

        return from_error_named

    optimized_prefixes = {prefix.lower(): prefix for prefix in OPTIMIZED_BASE_EXCEPTIONS}

    def sdk_client_failure(self: Any, env: Any, ex: Exception) -> Any:
        """A call whose answer never came (a timeout) fails the task with the SDK's client
        exception, `<Prefix>.SdkClientException` (what Lambda tasks' recommended Retry names),
        where moto's executor would end the execution with States.Runtime."""
        service = self._get_boto_service_name()
        if isinstance(self, StateTaskServiceAwsSdk):
            prefix = sdk_error_prefix(service)
        else:
            prefix = optimized_prefixes.get(service.lower(), service.capitalize())
        name = f"{prefix}.SdkClientException"
        return FailureEvent(
            env=env,
            error_name=CustomErrorName(name),
            event_type=HistoryEventType.TaskFailed,
            event_details=EventDetails(  # type: ignore[typeddict-item]  # moto's own usage
                taskFailedEventDetails=TaskFailedEventDetails(
                    error=name,
                    cause=str(ex),
                    resource=self._get_sfn_resource(),
                    resourceType=self._get_sfn_resource_type(),
                )
            ),
        )

    pending = [StateTaskService]
    while pending:
        integration = pending.pop()
        pending.extend(integration.__subclasses__())
        if integration is not StateTaskService:
            # Each integration names its errors through its own _from_error or its parent
            # integration's; one that falls back to the generic task's would escape the hook.
            owner = next(c for c in integration.__mro__ if "_from_error" in vars(c))
            if not issubclass(owner, StateTaskService):
                raise RuntimeError(
                    f"{integration.__name__}._from_error is gone: re-check the hook that names "
                    "its errors"
                )
        if "_from_error" in vars(integration):
            original = require(integration, "_from_error")
            patches.set(integration, "_from_error", named_as_aws(original))


# Step Functions: credentials per execution role, waits on the local clock ---------------------
def _step_functions_modules_naming(name: str) -> list[types.ModuleType]:
    """Every module of moto's Step Functions interpreter that holds its own `name` (the one
    defining it and each that imports it), imported now: a module moto imports lazily, during an
    execution, would otherwise bind our replacement and keep it after the cloud stops."""
    modules = [importlib.import_module(module) for module in _interpreter_sources_naming(name)]
    return [module for module in modules if name in vars(module)]


@functools.cache
def _interpreter_sources_naming(name: str) -> tuple[str, ...]:
    """The interpreter's modules whose source mentions `name` (read once a process)."""
    from moto.stepfunctions import parser

    root = Path(parser.__file__).parent
    found = []
    for source in sorted(root.rglob("*.py")):
        if name in source.read_text(encoding="utf-8"):
            parts = source.relative_to(root).with_suffix("").parts
            parts = parts[:-1] if parts[-1] == "__init__" else parts
            found.append(".".join((parser.__name__, *parts)))
    return tuple(found)


def _patch_step_functions(cloud: LocalCloud, patches: Patches) -> None:
    from botocore.config import Config
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function import wait_function

    # As moto's executor: no client-side validation (the service validates) and no SDK retries
    # (the state's Retry decides). One client per role, service and region (`client_as`).
    task_config = Config(
        parameter_validation=False, retries={"max_attempts": 0, "total_max_attempts": 1}
    )

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        role = getattr(state_credentials, "role_arn", None) or ""
        return cloud.client_as(role, service, region=region, config=task_config)

    # Where moto defines it; the modules that import it get ours too.
    from moto.stepfunctions.parser.asl.utils import boto_client

    require(boto_client, "boto_client_for", ("region", "service", "state_credentials"))
    for module in _step_functions_modules_naming("boto_client_for"):
        patches.set(module, "boto_client_for", boto_client_for)

    def wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
        if wait_seconds > 0:
            env.program_state_event.wait(wait_seconds / cloud.clock.speed)

    patches.set(wait_function.WaitFunction, "_wait_interval", wait_interval)

    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_aws_sdk as aws_sdk,
    )

    patch_task_error_names(patches)

    def eval_sdk_task(
        self: Any,
        env: Any,
        resource_runtime_part: Any,
        normalised_parameters: dict,
        state_credentials: Any,
    ) -> None:
        client = aws_sdk.boto_client_for(
            service=self._get_boto_service_name(),
            region=resource_runtime_part.region,
            state_credentials=state_credentials,
        )
        action = self._get_boto_service_action()
        operation = client.meta.service_model.operation_model(
            client.meta.method_to_api_mapping[action]
        )
        parameters = sdk_parameters(normalised_parameters, operation.input_shape)
        response = getattr(client, action)(**parameters) or {}
        response.pop("ResponseMetadata", None)
        env.stack.append(sdk_result(response, operation.output_shape))

    patches.set(aws_sdk.StateTaskServiceAwsSdk, "_eval_service_task", eval_sdk_task)
    clock_time = types.SimpleNamespace(sleep=cloud.clock.sleep, time=time.time)
    patches.set(retrier_decl, "time", clock_time)

    # A definite path ($.a[0].b: no wildcard, slice, union, filter or deep scan) selects one
    # value in AWS; moto wraps it in a list when an array index sits anywhere before the end.
    from moto.stepfunctions.parser.asl.utils import json_path

    moto_extract_json = require(json_path, "extract_json")

    def extract_json(path: str, data: Any) -> Any:
        if _DEFINITE_PATH.fullmatch(path):
            matches = json_path.parse(path).find(data)
            if len(matches) == 1:
                return matches[0].value
        return moto_extract_json(path, data)

    for module in _step_functions_modules_naming("extract_json"):
        patches.set(module, "extract_json", extract_json)

    # $$.Execution.StartTime is an ISO 8601 string in AWS; moto hands over a datetime.
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    environment_for = require(ExecutionWorker, "_get_evaluation_environment")

    def evaluation_environment(self: Any) -> Any:
        env = environment_for(self)
        execution = env.states.context_object.context_object_data["Execution"]
        started: Any = execution.get("StartTime")
        if isinstance(started, datetime.datetime):
            stamp = started.astimezone(datetime.UTC).isoformat(timespec="milliseconds")
            execution["StartTime"] = stamp.replace("+00:00", "Z")
        return env

    patches.set(ExecutionWorker, "_get_evaluation_environment", evaluation_environment)


# SQS: visibility timeouts and delays on the local clock; delivery by the local pollers -----------
def _patch_sqs(cloud: LocalCloud, patches: Patches) -> None:
    from moto.sqs import models as sqs_models

    patches.set(sqs_models, "unix_time", lambda *args: cloud.clock.time())
    patches.set(sqs_models, "unix_time_millis", lambda *args: cloud.clock.time() * 1000)
    # moto invokes a mapped function synchronously inside SendMessage; the local pollers
    # deliver instead (batching, partial failures, visibility and redrive).
    patches.shadow(
        sqs_models.Queue,
        "lambda_event_source_mappings",
        property(lambda self: {}, lambda self, value: None),
    )


# S3 event notifications with AWS's record layout, authorized by each destination's policy -------
def _patch_s3_notifications(cloud: LocalCloud, patches: Patches) -> None:
    from urllib.parse import quote_plus

    from moto.s3 import notifications

    sequencer = itertools.count(1)

    def s3_event(event_name: str, bucket: Any, key: Any, notification_id: str) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "key": quote_plus(key.name),
            "size": key.size,
            "eTag": key.etag.replace('"', ""),
            "sequencer": f"{int(cloud.clock.time() * 1000):012X}{next(sequencer):06X}",
        }
        if key.version_id and key.version_id != "null":
            obj["versionId"] = key.version_id
        return {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "awsRegion": bucket.region_name,
                    "eventTime": cloud.clock.now().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                    "eventName": event_name[3:],
                    "userIdentity": {"principalId": "AWS:LOCALCLOUD"},
                    "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                    "responseElements": {
                        "x-amz-request-id": uuid.uuid4().hex[:16].upper(),
                        "x-amz-id-2": uuid.uuid4().hex,
                    },
                    "s3": {
                        "s3SchemaVersion": "1.0",
                        "configurationId": notification_id,
                        "bucket": {
                            "name": bucket.name,
                            "ownerIdentity": {"principalId": "LOCALCLOUD"},
                            "arn": bucket.arn,
                        },
                        "object": obj,
                    },
                }
            ]
        }

    # S3 delivers as s3.amazonaws.com on the bucket's behalf; each destination's resource policy
    # decides ("Granting permissions to publish event notification messages to a destination",
    # https://docs.aws.amazon.com/AmazonS3/latest/userguide/grant-destinations-permissions-to-s3.html).
    # moto's senders are not told the bucket, so the notification being sent names it.
    sending_for: contextvars.ContextVar[Any] = contextvars.ContextVar("s3_notifying_bucket")

    def allowed(action: str, target_arn: str, record: bool = True) -> bool:
        bucket = sending_for.get(None)
        source = bucket.arn if bucket is not None else "arn:aws:s3:::unknown"
        return cloud.delivery.authorize(
            "s3.amazonaws.com", source, action, target_arn, record=record
        )

    original_send_event = require(notifications, "send_event")
    original_send_test_event = require(notifications, "send_test_event")
    original_send_sqs = require(notifications, "_send_sqs_message")
    original_send_sns = require(notifications, "_send_sns_message")

    def send_event(account_id: str, event_name: Any, bucket: Any, key: Any) -> None:
        token = sending_for.set(bucket)
        try:
            original_send_event(account_id, event_name, bucket, key)
        finally:
            sending_for.reset(token)

    def send_test_event(account_id: str, bucket: Any) -> None:
        """S3 accepts a notification configuration only if it may deliver to every
        destination; otherwise PutBucketNotificationConfiguration fails with
        "Unable to validate the following destination configurations"."""
        from moto.s3.exceptions import InvalidArgumentError

        token = sending_for.set(bucket)
        try:
            config = bucket.notification_configuration
            for destinations, action, kind in (
                (config.queue, "sqs:SendMessage", "queue"),
                (config.topic, "sns:Publish", "topic"),
                (config.cloud_function, "lambda:InvokeFunction", "function"),
            ):
                for destination in destinations:
                    if not allowed(action, destination.arn, record=False):
                        raise InvalidArgumentError(
                            "Unable to validate the following destination configurations",
                            destination.arn,
                            f"Permissions on the destination {kind} do not allow S3 to "
                            "publish notifications from this bucket",
                        )
            original_send_test_event(account_id, bucket)
        finally:
            sending_for.reset(token)

    def send_sqs(account_id: str, event_body: Any, queue_name: str, region_name: str) -> None:
        if allowed("sqs:SendMessage", f"arn:aws:sqs:{region_name}:{account_id}:{queue_name}"):
            original_send_sqs(account_id, event_body, queue_name, region_name)

    def send_sns(account_id: str, event_body: Any, topic_arn: str, region_name: str) -> None:
        if allowed("sns:Publish", topic_arn):
            original_send_sns(account_id, event_body, topic_arn, region_name)

    def invoke_lambda(account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
        if allowed("lambda:InvokeFunction", fn_arn):
            cloud.delivery.invoke_async(fn_arn, event_body)

    patches.set(notifications, "_get_s3_event", s3_event)
    patches.set(notifications, "send_event", send_event)
    patches.set(notifications, "send_test_event", send_test_event)
    patches.set(notifications, "_send_sqs_message", send_sqs)
    patches.set(notifications, "_send_sns_message", send_sns)
    patches.set(notifications, "_invoke_awslambda", invoke_lambda)

    # A configuration S3 refuses is not kept (moto stores it before sending the test event).
    from moto.s3.exceptions import InvalidArgumentError
    from moto.s3.models import FakeBucket

    original_set = require(FakeBucket, "set_notification_configuration")

    def set_notification_configuration(self: Any, notification_config: Any) -> None:
        previous = self.notification_configuration
        try:
            original_set(self, notification_config)
        except InvalidArgumentError:
            self.notification_configuration = previous
            raise

    patches.set(FakeBucket, "set_notification_configuration", set_notification_configuration)


# S3 version ids: from bucket, key and ordinal (localcloud.core.s3_versions) ----------------
def _patch_s3_version_ids(cloud: LocalCloud, patches: Patches) -> None:
    """moto gives each new version of a versioned bucket's key (and each delete marker) a
    random uuid; here it gets the next id of that key from `cloud.s3_version_ids`."""
    from moto.s3.models import FakeDeleteMarker, FakeKey

    key_init = require(FakeKey, "__init__", ("name", "bucket_name", "version_id"))
    marker_init = require(FakeDeleteMarker, "__init__", ("key",))
    ids = cloud.s3_version_ids

    def new_key(self: Any, *args: Any, **kwargs: Any) -> None:
        key_init(self, *args, **kwargs)
        # put_object passes a random version id to a versioned bucket's key, "null" otherwise;
        # parts of multipart uploads get none.
        if self._version_id not in (None, "null") and self.bucket_name:
            self._version_id = ids.next_id(self.bucket_name, self.name)

    def new_marker(self: Any, key: Any) -> None:
        marker_init(self, key)
        while isinstance(key, FakeDeleteMarker):  # a marker over a marker
            key = key.key
        self._version_id = ids.next_id(key.bucket_name, self.name)

    patches.set(FakeKey, "__init__", new_key)
    patches.set(FakeDeleteMarker, "__init__", new_marker)


# Bucket policies: evaluated with the request's TLS context ---------------------------------------
def _patch_bucket_policies(patches: Patches) -> None:
    """moto treats a Deny whose condition it cannot evaluate as applying, so the usual
    TLS-only bucket policy (Deny when aws:SecureTransport is false) denies every request.
    Requests to the local cloud are HTTPS with TLS 1.3, and are evaluated as such."""
    from moto.iam.access_control import PermissionResult
    from moto.s3.models import FakeBucket

    from localcloud.core.policies import Decision, evaluate, statements_of

    context = {"aws:SecureTransport": "true", "s3:TlsVersion": "1.3"}

    def get_permission(self: Any, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        statements = [
            s for s in statements_of(json.loads(self.policy)) if s.principal in ("*", {"AWS": "*"})
        ]
        decision, _ = evaluate(statements, action, resource, context)
        if decision is Decision.DENY:
            return PermissionResult.DENIED
        if decision is Decision.ALLOW:
            return PermissionResult.PERMITTED
        return PermissionResult.NEUTRAL

    patches.set(FakeBucket, "get_permission", get_permission)


# Lambda Invoke -> the local runtime --------------------------------------------------------------
def _patch_lambda(cloud: LocalCloud, patches: Patches) -> None:
    from moto.awslambda_simple.models import LambdaSimpleBackend

    def invoke(
        self: Any,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: Any,
    ) -> bytes:
        payload = json.loads(body) if body else {}
        if headers.get("X-Amz-Invocation-Type") == "Event":
            cloud.delivery.invoke_async(function_name, payload)
            return b""
        result = cloud.runtime.invoke(function_name, payload)
        if result.failed:
            response_headers["x-amz-function-error"] = "Unhandled"
        return result.payload_bytes()

    patches.set(LambdaSimpleBackend, "invoke", invoke)


# SNS: record every publish; deliver to queues and functions their policies let SNS reach -------
def _patch_sns(cloud: LocalCloud, patches: Patches) -> None:
    from moto.sns import models as sns_models

    original_topic_publish = require(sns_models.Topic, "publish")
    original_subscription_publish = require(sns_models.Subscription, "publish")

    def topic_publish(self: Any, message: str, subject: str | None = None, *args: Any, **kw: Any):
        message_id = original_topic_publish(self, message, subject, *args, **kw)
        cloud.notifications.append(
            {"TopicArn": self.arn, "Subject": subject, "Message": message, "MessageId": message_id}
        )
        return message_id

    def subscription_publish(
        self: Any,
        message: str,
        message_id: str,
        subject: str | None = None,
        message_attributes: dict[str, Any] | None = None,
        group_id: str | None = None,
        deduplication_id: str | None = None,
        message_structure: str | None = None,
    ) -> None:
        if self._filter_policy_matcher is not None and not self._filter_policy_matcher.matches(
            message_attributes, message
        ):
            return None
        # SNS delivers to queues and functions as sns.amazonaws.com on the topic's behalf; the
        # queue policy or the function's permissions decide
        # (https://docs.aws.amazon.com/sns/latest/dg/subscribe-sqs-queue-to-sns-topic.html).
        action = {"sqs": "sqs:SendMessage", "lambda": "lambda:InvokeFunction"}.get(self.protocol)
        if action and not cloud.delivery.authorize(
            "sns.amazonaws.com", self.topic.arn, action, self.endpoint
        ):
            return None
        if self.protocol != "lambda":
            return original_subscription_publish(
                self, message, message_id, subject, message_attributes, group_id,
                deduplication_id, message_structure,
            )  # fmt: skip
        if message_structure == "json":
            message = self._parse_message_structure(message, self.protocol)
        event = {
            "Records": [
                {
                    "EventVersion": "1.0",
                    "EventSubscriptionArn": self.arn,
                    "EventSource": "aws:sns",
                    "Sns": {
                        "Type": "Notification",
                        "MessageId": message_id,
                        "TopicArn": self.topic.arn,
                        "Subject": subject,
                        "Message": message,
                        "Timestamp": cloud.clock.now().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                        "SignatureVersion": "1",
                        "MessageAttributes": {
                            name: {"Type": value.get("DataType"), "Value": value.get("StringValue")}
                            for name, value in (message_attributes or {}).items()
                        },
                    },
                }
            ]
        }
        cloud.delivery.invoke_async(self.endpoint, event)
        return None

    patches.set(sns_models.Topic, "publish", topic_publish)
    patches.set(sns_models.Subscription, "publish", subscription_publish)


# EventBridge: Lambda, SQS, SNS and Step Functions targets, by the local delivery ---------------
def _patch_events(cloud: LocalCloud, patches: Patches) -> None:
    from moto.events import models as events_models

    original = require(events_models.Rule, "send_to_targets")

    def send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
        if not self.event_pattern.matches_event(original_event):
            return
        delivered = ("lambda", "states", "sqs", "sns")
        handled = [t for t in self.targets if t["Arn"].split(":")[2] in delivered]
        if handled:
            cloud.delivery.deliver_event(
                types.SimpleNamespace(name=self.name, arn=self.arn, targets=handled),
                original_event,
            )
        others = [t for t in self.targets if t not in handled]
        if others:
            saved = self.targets
            self.targets = others
            try:
                original(self, original_event, transform_input)
            finally:
                self.targets = saved

    patches.set(events_models.Rule, "send_to_targets", send_to_targets)
