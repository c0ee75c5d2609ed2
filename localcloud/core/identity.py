"""Who is calling: access keys per IAM principal, and the record of every AWS call.

On AWS, a Lambda function's SDK signs with its execution role's temporary credentials and a
state machine calls services as its role. The local cloud does the same: each role gets its own
access key, the function runtime puts it in the function's environment, and Step Functions tasks
sign with their state machine's key. Every call made through botocore is recorded with the
principal its key belongs to, the API operation and its parameters; the least-privilege check
(`localcloud.core.iam_check`) evaluates those records against the synthesized IAM policies.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
USER_PRINCIPAL = f"arn:aws:iam::{ACCOUNT_ID}:user/local-developer"


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    session_token: str | None = None

    def as_client_kwargs(self) -> dict[str, str]:
        kwargs = {"aws_access_key_id": self.access_key, "aws_secret_access_key": self.secret_key}
        if self.session_token:
            kwargs["aws_session_token"] = self.session_token
        return kwargs

    def as_environment(self) -> dict[str, str]:
        env = {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key}
        if self.session_token:
            env["AWS_SESSION_TOKEN"] = self.session_token
        return env


class Principals:
    """Deterministic credentials per principal ARN, and the reverse lookup."""

    def __init__(self) -> None:
        self._by_key: dict[str, str] = {}
        self._lock = threading.Lock()
        self.user = self.credentials_for(USER_PRINCIPAL, long_term=True)

    def credentials_for(self, principal_arn: str, *, long_term: bool = False) -> Credentials:
        digest = hashlib.sha256(principal_arn.encode()).hexdigest().upper()
        access_key = ("AKIA" if long_term else "ASIA") + digest[:16]
        with self._lock:
            self._by_key[access_key] = principal_arn
        token = None if long_term else f"local-session-{digest[:24]}"
        return Credentials(access_key, "local-secret-" + digest[16:40], token)

    def principal_of(self, access_key: str | None) -> str | None:
        if access_key is None:
            return None
        with self._lock:
            return self._by_key.get(access_key)


@dataclass(frozen=True)
class RecordedCall:
    principal: str | None
    service: str  # botocore service name, e.g. "s3", "stepfunctions"
    operation: str  # API operation name, e.g. "PutObject"
    params: dict[str, Any]
    time: datetime = field(default_factory=lambda: datetime.now(UTC))


class CallRecorder:
    """Collects `RecordedCall`s from botocore's `before-parameter-build` and `before-call`
    events (registered on every session the local cloud's clients use)."""

    def __init__(self, principals: Principals) -> None:
        self.principals = principals
        self._calls: list[RecordedCall] = []
        self._lock = threading.Lock()
        self.enabled = True
        # Decides each call as IAM would: None lets it through, anything else is the answer
        # botocore gets instead of the service's (see `localcloud.core.iam_check.Enforcer`).
        self.authorizer: Callable[[RecordedCall, Any], Any] | None = None

    def calls(self, principal: str | None = None) -> list[RecordedCall]:
        with self._lock:
            return [c for c in self._calls if principal is None or c.principal == principal]

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()

    # botocore event handlers -------------------------------------------------------------
    def remember_params(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["localcloud_params"] = dict(params)

    def record(self, model: Any, context: dict[str, Any], request_signer: Any, **_: Any) -> Any:
        if not self.enabled:
            return None
        credentials = getattr(request_signer, "_credentials", None)
        access_key = getattr(credentials, "access_key", None)
        call = RecordedCall(
            principal=self.principals.principal_of(access_key),
            service=model.service_model.service_name,
            operation=model.name,
            params=context.get("localcloud_params", {}),
        )
        with self._lock:
            self._calls.append(call)
        if self.authorizer is not None:
            return self.authorizer(call, model)
        return None
