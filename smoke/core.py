"""What every smoke check shares: the environment it runs in, the stack outputs it starts from,
its result, and the S3 clean-up of the objects it made."""

from __future__ import annotations

import enum
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from botocore.exceptions import ClientError


class Status(enum.Enum):
    PASSED = "pass"
    FAILED = "FAIL"
    SKIPPED = "skip"


@dataclass(frozen=True)
class Result:
    """One workflow's outcome: what happened, where to look when it failed, and what the check
    leaves behind in the account."""

    workflow: str
    stack: str
    status: Status
    detail: str
    look_at: tuple[str, ...] = ()
    leaves: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.status is Status.PASSED


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


class Deadline(Protocol):
    def expired(self) -> bool: ...


class Environment(Protocol):
    """Where the checks run: AWS through boto3, or the local cloud in the tests.

    `client(service)` makes boto3 clients (like a boto3 Session); `post` sends an HTTPS request
    to an API's URL; `pause` waits between polls; `deadline(seconds)` bounds a wait."""

    def client(self, service: str) -> Any: ...

    def post(self, url: str, headers: dict[str, str], body: bytes) -> HttpAnswer: ...

    def pause(self, seconds: float) -> None: ...

    def deadline(self, seconds: float) -> Deadline: ...


_Seen = TypeVar("_Seen")


def poll(
    env: Environment,
    deadline: Deadline,
    look: Callable[[], _Seen],
    done: Callable[[_Seen], bool],
    pause: float,
) -> _Seen:
    """What `look` sees once `done` holds for it, or once the deadline has passed (the caller
    tells which), looking again every `pause` seconds."""
    while True:
        seen = look()
        if done(seen) or deadline.expired():
            return seen
        env.pause(pause)


@dataclass(frozen=True)
class MonotonicDeadline:
    """Ends when `time.monotonic()` reaches `ends`."""

    ends: float

    def expired(self) -> bool:
        return time.monotonic() >= self.ends


@dataclass
class AwsEnvironment:
    """The account and region of a boto3 session (by default: the default credentials and
    region, as the AWS CLI finds them)."""

    session: Any
    http_timeout: float = 30.0
    _clients: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def client(self, service: str) -> Any:
        # Checks run in threads: clients are thread-safe, making them from a session is not.
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self.session.client(service)
            return self._clients[service]

    def post(self, url: str, headers: dict[str, str], body: bytes) -> HttpAnswer:
        if not url.startswith("https://"):
            raise ValueError(f"refusing to send an API key over a non-HTTPS URL: {url}")
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.http_timeout) as answer:
                return HttpAnswer(answer.status, answer.read().decode("utf-8", "replace"))
        except urllib.error.HTTPError as error:
            return HttpAnswer(error.code, error.read().decode("utf-8", "replace"))

    def pause(self, seconds: float) -> None:
        time.sleep(seconds)

    def deadline(self, seconds: float) -> Deadline:
        return MonotonicDeadline(time.monotonic() + seconds)


class MissingOutputError(Exception):
    """The stack lacks an output the check needs (deployed from an older version)."""


@dataclass(frozen=True)
class StackOutputs:
    """A deployed stack's CloudFormation outputs, by key."""

    stack: str
    values: dict[str, str]

    def __getitem__(self, key: str) -> str:
        if key not in self.values:
            raise MissingOutputError(
                f"stack {self.stack} has no output {key}; deploy the current version of the stack"
            )
        return self.values[key]

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def where(self, key: str) -> str:
        """How a result names an output: the stack, the key and its value."""
        return f"stack {self.stack} output {key} = {self.values.get(key, '(missing)')}"


class StackNotFoundError(Exception):
    """No stack of that name in the account and region."""


def stack_outputs(env: Environment, stack: str) -> StackOutputs:
    try:
        described = env.client("cloudformation").describe_stacks(StackName=stack)
    except ClientError as error:
        if error.response["Error"]["Code"] == "ValidationError":
            raise StackNotFoundError(str(error.response["Error"].get("Message", stack))) from None
        raise
    (found,) = described["Stacks"]
    outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in found.get("Outputs", [])}
    return StackOutputs(found["StackName"], outputs)


@dataclass(frozen=True)
class Settings:
    """What every check of one run shares: the run's id (in every name the run makes), the
    wait budget per workflow (None: each check's default) and the image for Custom Labels."""

    run_id: str
    wait_seconds: float | None = None
    image: bytes | None = None

    def wait(self, default_seconds: float) -> float:
        return self.wait_seconds if self.wait_seconds is not None else default_seconds

    @property
    def prefix(self) -> str:
        """The folder (key prefix, name prefix) everything of this run lives under."""
        return f"smoke-{self.run_id}"


def error_text(error: ClientError) -> str:
    info = error.response.get("Error", {})
    return f"{info.get('Code', 'Error')}: {info.get('Message', '')}".strip()


def object_exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def read_object(s3: Any, bucket: str, key: str) -> bytes:
    return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def delete_everything_under(s3: Any, bucket: str, prefixes: Iterable[str]) -> list[str]:
    """Delete every version and delete marker under each prefix (the buckets are versioned,
    so a plain delete would keep the data as a noncurrent version). Returns the keys that
    could not be deleted, with the reason."""
    left: list[str] = []
    for prefix in prefixes:
        doomed: list[dict[str, str]] = []
        paginator = s3.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for entry in page.get("Versions", []) + page.get("DeleteMarkers", []):
                doomed.append({"Key": entry["Key"], "VersionId": entry["VersionId"]})
        for start in range(0, len(doomed), 1000):  # DeleteObjects takes at most 1,000 keys
            answer = s3.delete_objects(
                Bucket=bucket, Delete={"Objects": doomed[start : start + 1000], "Quiet": True}
            )
            left += [
                f"s3://{bucket}/{e['Key']} ({e.get('Code')}: {e.get('Message')})"
                for e in answer.get("Errors", [])
            ]
    return left


def function_log_group(env: Environment, function_name: str) -> str:
    """The CloudWatch Logs group a function writes to."""
    default = f"/aws/lambda/{function_name}"
    try:
        config = env.client("lambda").get_function_configuration(FunctionName=function_name)
    except ClientError:
        return default
    return str(config.get("LoggingConfig", {}).get("LogGroup") or default)


def find_function_log(env: Environment, stack: str, construct_id: str) -> str:
    """Where one of a stack's functions logs, found by its generated name
    (`<stack>-<construct id>Function...`); the name pattern itself if it cannot be found."""
    prefix = f"{stack}-{construct_id}"
    try:
        for page in env.client("lambda").get_paginator("list_functions").paginate():
            for function in page["Functions"]:
                if function["FunctionName"].startswith(prefix):
                    name = function["FunctionName"]
                    return f"log group {function_log_group(env, name)} (function {name})"
    except ClientError:
        pass
    return f"the log group of function {prefix}*"
