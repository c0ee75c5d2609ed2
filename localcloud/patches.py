"""Where the local cloud hooks into moto and botocore. Every patch is undone by `undo()`.

moto is the emulator; these hooks add what it leaves out: answering services moto lacks (local
engines), recording calls, running Lambda handlers, delivering events asynchronously with
faithful payloads, and running waits and timeouts on the compressible local clock.
"""

from __future__ import annotations

import datetime
import io
import itertools
import json
import re
import sys
import threading
import time
import types
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud


class Patches:
    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] = []

    def set(self, owner: Any, name: str, value: Any) -> None:
        missing = object()
        original = owner.__dict__.get(name, missing)
        setattr(owner, name, value)

        def restore() -> None:
            if original is missing:
                delattr(owner, name)
            else:
                setattr(owner, name, original)

        self._undo.append(restore)

    def on_undo(self, action: Callable[[], None]) -> None:
        """Run `action` when the patches are undone (e.g. stop an engine's worker thread)."""
        self._undo.append(action)

    def undo(self) -> None:
        while self._undo:
            self._undo.pop()()


def access_key_of(request: Any) -> str | None:
    authorization = request.headers.get("Authorization", b"")
    if isinstance(authorization, bytes):
        authorization = authorization.decode("latin-1")
    marker = "Credential="
    if marker not in authorization:
        return None
    return authorization.split(marker, 1)[1].split("/", 1)[0]


def apply(cloud: LocalCloud) -> Patches:
    patches = Patches()
    _patch_dispatch(cloud, patches)
    _patch_sdk_retry_sleep(cloud, patches)
    _patch_step_functions(cloud, patches)
    _patch_sqs(cloud, patches)
    _patch_s3_notifications(cloud, patches)
    _patch_bucket_policies(patches)
    _patch_lambda(cloud, patches)
    _patch_sns(cloud, patches)
    _patch_events(cloud, patches)
    return patches


# botocore -> local engines or moto ------------------------------------------------------------
def _patch_dispatch(cloud: LocalCloud, patches: Patches) -> None:
    from moto.core.botocore_stubber import BotocoreStubber

    from localcloud.protocol import CallContext, answer

    original = BotocoreStubber.__call__
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

    def dispatch(self: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
        parts = event_name.split(".")
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


def _missing_object_denial(cloud: LocalCloud, request: Any, operation: str) -> Any:
    """S3 answers a read of a missing object with 404 only to callers allowed s3:ListBucket on
    the bucket; everyone else gets 403 AccessDenied, so that key names cannot be probed."""
    from urllib.parse import unquote, urlparse

    from botocore.awsrequest import AWSResponse
    from moto.s3.models import s3_backends

    from localcloud.policies import Decision, evaluate

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


# aws-sdk integration names that differ from botocore's service names.
_SDK_SERVICE_NAMES = {"sfn": "stepfunctions", "eventbridge": "events", "acmpca": "acm-pca"}


def sdk_error_prefix(service_name: str) -> str:
    """The service part of an aws-sdk task's error name, as Step Functions forms it: the
    service id in Pascal case with acronyms lowered after their first letter (`Ssm`, `Sqs`,
    `DynamoDb`, `Sfn`, `AcmPca`, `S3`, `SageMaker`)."""
    import botocore.session
    from botocore.exceptions import UnknownServiceError

    name = _SDK_SERVICE_NAMES.get(service_name.lower(), service_name.lower())
    try:
        service_id = botocore.session.get_session().get_service_model(name).service_id
    except UnknownServiceError:
        service_id = service_name
    words = []
    for word in str(service_id).split():
        letters = [word[0].upper()]
        for previous, char in itertools.pairwise(word):
            letters.append(char.lower() if previous.isupper() and char.isupper() else char)
        words.append("".join(letters))
    return "".join(words)


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


# Step Functions: credentials per execution role, waits on the local clock ---------------------
def _patch_step_functions(cloud: LocalCloud, patches: Patches) -> None:
    import boto3

    # Import every module that calls boto_client_for, then point each at ours.
    import moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils
    import moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_factory  # noqa: F401,E501
    from botocore.config import Config
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function import wait_function

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        role = getattr(state_credentials, "role_arn", None) or ""
        credentials = cloud.principals.credentials_for(role)
        return boto3.session.Session().client(
            service_name=service,
            region_name=region,
            config=Config(
                parameter_validation=False,  # as moto's executor: the service validates
                retries={"max_attempts": 0, "total_max_attempts": 1},
            ),
            **credentials.as_client_kwargs(),
        )

    for module in list(sys.modules.values()):
        name = getattr(module, "__name__", "")
        if name.startswith("moto.stepfunctions.parser") and hasattr(module, "boto_client_for"):
            patches.set(module, "boto_client_for", boto_client_for)

    def wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
        if wait_seconds > 0:
            env.program_state_event.wait(wait_seconds / cloud.clock.speed)

    patches.set(wait_function.WaitFunction, "_wait_interval", wait_interval)

    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_aws_sdk as aws_sdk,
    )

    patches.set(
        aws_sdk.StateTaskServiceAwsSdk,
        "_normalise_service_error_name",
        staticmethod(sdk_error_prefix),
    )

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

    moto_extract_json = json_path.extract_json

    def extract_json(path: str, data: Any) -> Any:
        if _DEFINITE_PATH.fullmatch(path):
            matches = json_path.parse(path).find(data)
            if len(matches) == 1:
                return matches[0].value
        return moto_extract_json(path, data)

    for module in list(sys.modules.values()):
        name = getattr(module, "__name__", "")
        if name.startswith("moto.stepfunctions.parser") and hasattr(module, "extract_json"):
            patches.set(module, "extract_json", extract_json)

    # $$.Execution.StartTime is an ISO 8601 string in AWS; moto hands over a datetime.
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    environment_for = ExecutionWorker._get_evaluation_environment

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
    patches.set(
        sqs_models.Queue,
        "lambda_event_source_mappings",
        property(lambda self: {}, lambda self, value: None),
    )


# S3 event notifications with AWS's record layout -----------------------------------------------
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

    def invoke_lambda(account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
        cloud.delivery.invoke_async(fn_arn, event_body)

    patches.set(notifications, "_get_s3_event", s3_event)
    patches.set(notifications, "_invoke_awslambda", invoke_lambda)


# Bucket policies: evaluated with the request's TLS context ---------------------------------------
def _patch_bucket_policies(patches: Patches) -> None:
    """moto treats a Deny whose condition it cannot evaluate as applying, so the usual
    TLS-only bucket policy (Deny when aws:SecureTransport is false) denies every request.
    Requests to the local cloud are HTTPS with TLS 1.3, and are evaluated as such."""
    from moto.iam.access_control import PermissionResult
    from moto.s3.models import FakeBucket

    from localcloud.policies import Decision, evaluate, statements_of

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


# SNS: record every publish; deliver to Lambda subscribers asynchronously ------------------------
def _patch_sns(cloud: LocalCloud, patches: Patches) -> None:
    from moto.sns import models as sns_models

    original_topic_publish = sns_models.Topic.publish
    original_subscription_publish = sns_models.Subscription.publish

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
        if self.protocol != "lambda":
            return original_subscription_publish(
                self, message, message_id, subject, message_attributes, group_id,
                deduplication_id, message_structure,
            )  # fmt: skip
        if self._filter_policy_matcher is not None and not self._filter_policy_matcher.matches(
            message_attributes, message
        ):
            return None
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


# EventBridge: Lambda and Step Functions targets -------------------------------------------------
def _patch_events(cloud: LocalCloud, patches: Patches) -> None:
    from moto.events import models as events_models

    original = events_models.Rule.send_to_targets

    def send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
        if not self.event_pattern.matches_event(original_event):
            return
        handled = [t for t in self.targets if t["Arn"].split(":")[2] in ("lambda", "states")]
        if handled:
            cloud.delivery.deliver_event(
                types.SimpleNamespace(name=self.name, targets=handled), original_event
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
