"""The wire layer of the local engines: botocore requests in, AWS-shaped responses out.

moto answers AWS calls inside botocore through the `before-send` event; the local engines (for
services moto lacks) hook in the same way. This module turns a prepared botocore request into
Python parameters and a Python result back into the HTTP response the real service would send, so
an engine only deals with dicts:

* the wire protocol is chosen from the request itself, among the protocols the service model
  lists: Smithy RPC v2 CBOR (`/service/<Target>/operation/<Operation>`, `application/cbor`,
  `smithy-protocol: rpc-v2-cbor`) or AWS JSON 1.x (`X-Amz-Target`,
  `application/x-amz-json-1.x`); the answer uses the protocol of the request. Further protocols
  (rest-json) plug in as another `WireProtocol`.
* wire values are converted to Python types by walking the operation's input shape (blobs:
  base64 in JSON, byte strings in CBOR; timestamps: epoch seconds in JSON, tag 1 in CBOR), and
  back by walking the output shape.
* every request is validated server-side, because Step Functions' aws-sdk tasks build their
  clients with `parameter_validation=False`: botocore's `ParamValidator` (required members,
  types, minimums) and then the model constraints botocore leaves to the service (maximum
  lengths and values, enums, patterns). Either failure is the service's validation error (400).
  Like AWS servers, members unknown to the model are ignored rather than rejected.
* `ServiceError`s raised by an engine become modeled errors the client maps to its exception
  classes (`client.exceptions.X`); an unknown operation is `UnknownOperationException` (400) and
  any other exception the service's internal error (500, `internal_error_code`).
"""

from __future__ import annotations

import abc
import base64
import binascii
import io
import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, lru_cache
from typing import Any, ClassVar, TypeVar

import botocore.session
import cbor2
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.exceptions import ParamValidationError
from botocore.model import OperationModel, OperationNotFoundError, ServiceModel, Shape
from botocore.validate import ParamValidator

_T = TypeVar("_T")

try:  # Java-style classes such as \p{L} in model patterns need the `regex` module.
    import regex as _pattern_engine
except ImportError:  # pragma: no cover - regex ships with cfn-lint in the dev requirements
    _pattern_engine = None

logger = logging.getLogger(__name__)

DEFAULT_VALIDATION_ERROR = "ValidationException"


class ServiceError(Exception):
    """An error the service returns to the caller: `code` is the AWS error code.

    `status` defaults to the HTTP status the service model gives the error shape of that name
    (400 if the model has none); `fields` are extra members of the modeled error, e.g.
    `SourceLanguageCode` on Translate's `UnsupportedLanguagePairException`.
    """

    def __init__(
        self,
        code: str,
        message: str,
        status: int | None = None,
        fields: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.fields = dict(fields or {})


def existing(resources: Mapping[str, _T], key: str, missing: ServiceError) -> _T:
    """The resource `key` names in `resources`; raises `missing`, the service's own not-found
    error, when there is none."""
    found = resources.get(key)
    if found is None:
        raise missing
    return found


def page_by_key(
    items: Iterable[_T],
    sort_key: Callable[[_T], tuple[Any, ...]],
    token: str | None,
    limit: int,
    error_code: str = "InvalidRequestException",
) -> tuple[list[_T], str | None]:
    """One page of `items` in `sort_key` order for a List* operation; the NextToken is the
    key of the last item given, so a page stays right while items are added or removed."""
    ordered = sorted(items, key=sort_key)
    if token:
        try:
            after = tuple(json.loads(base64.urlsafe_b64decode(token.encode("ascii"))))
            ordered = [item for item in ordered if sort_key(item) > after]
        except (ValueError, TypeError) as exc:
            raise ServiceError(error_code, "The NextToken is not valid.") from exc
    page = ordered[:limit]
    if len(ordered) <= limit:
        return page, None
    last = json.dumps(list(sort_key(page[-1]))).encode("utf-8")
    return page, base64.urlsafe_b64encode(last).decode("ascii")


@dataclass
class CallContext:
    """Who is calling: the account and region the request is for and the caller's role."""

    account_id: str
    region: str
    principal: str | None = None  # the caller's IAM role ARN; None for a plain user


@cache
def load_service_model(service_name: str) -> ServiceModel:
    """The botocore service model of `service_name`, loaded once per process."""
    return botocore.session.get_session().get_service_model(service_name)


@cache
def internal_error_code(service_name: str) -> str:
    """The code the service answers its own failure with: the server fault its model declares
    (`InternalServerException`; Rekognition's `InternalServerError`), else AWS's common
    `InternalFailure` (https://docs.aws.amazon.com/awsconsolehelpdocs/latest/gsg/common-errors.html)."""
    loader = botocore.session.get_session().get_component("data_loader")
    shapes = loader.load_service_model(service_name, "service-2")["shapes"]
    faults = sorted(
        name
        for name, shape in shapes.items()
        if shape.get("exception")
        and name.startswith("Internal")
        and shape.get("error", {}).get("httpStatusCode", 500) == 500
        and (shape.get("fault") or "httpStatusCode" in shape.get("error", {}))
    )
    if not faults:
        return "InternalFailure"
    return str(shapes[faults[0]].get("error", {}).get("code", faults[0]))


def token_derived_id(namespace: uuid.UUID, account_id: str, region: str, token: str) -> str:
    """The id a job started with client token `token` gets: 32 hex digits like the services'
    ids, derived from the account, region and token (AWS documents the ids as opaque), so a job
    started with a known token has a known id, and its output a known key, on every fresh
    start. `namespace` is the engine's own, so two services never share an id."""
    return uuid.uuid5(namespace, f"{account_id}/{region}/{token}").hex


class LocalEngine(abc.ABC):
    """A local implementation of one AWS service, driven through `answer`.

    Subclasses set `service_name` (botocore's name, e.g. "translate") and implement `handle`.
    `engine_enforced_limits` lists (operation, member path) pairs whose modeled maximum the
    engine checks itself, because the real service reports that limit with its own error (e.g.
    Translate's `TextSizeLimitExceededException`) rather than a validation error.
    """

    service_name: ClassVar[str]
    validation_error_code: ClassVar[str] = DEFAULT_VALIDATION_ERROR
    engine_enforced_limits: ClassVar[frozenset[tuple[str, str]]] = frozenset()

    def __init__(self, clock: Any, account_id: str, region: str) -> None:
        """What every engine keeps: the local clock it runs on, the account and region it
        answers for, and one lock its state changes under."""
        self.clock = clock
        self.account_id = account_id
        self.region = region
        self._lock = threading.RLock()

    @property
    def service_model(self) -> ServiceModel:
        return load_service_model(self.service_name)

    @abc.abstractmethod
    def handle(self, operation: str, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        """Run `operation` with validated `params`; raise `ServiceError` for service errors."""

    def _handler(self, operations: Mapping[str, _T], operation: str) -> _T:
        """What `operations` runs `operation` with; an operation the engine does not implement
        is refused as unknown, naming the service as its model does."""
        handler = operations.get(operation)
        if handler is None:
            service = self.service_model.metadata["serviceId"]
            raise ServiceError(
                "UnknownOperationException",
                f"The local {service} engine does not implement {operation}.",
                400,
            )
        return handler


class _BodyStream(io.BytesIO):
    """The raw body botocore reads an `AWSResponse` from (it calls `stream()`)."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        chunk = self.read()
        while chunk:
            yield chunk
            chunk = self.read()


def _request_body(request: AWSPreparedRequest) -> bytes:
    body = request.body
    if body is None:
        return b""
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8")
    data = body.read()
    if hasattr(body, "seek"):
        body.seek(0)
    return data if isinstance(data, bytes) else str(data).encode("utf-8")


def _header(request: AWSPreparedRequest, name: str) -> str:
    value = request.headers.get(name)
    if value is None:
        return ""
    return value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)


def _epoch(value: datetime) -> int | float:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    seconds = round(value.timestamp(), 3)
    return int(seconds) if seconds.is_integer() else seconds


class WireProtocol(abc.ABC):
    """One AWS wire protocol: request decoding and response encoding."""

    name: ClassVar[str]

    @abc.abstractmethod
    def matches(self, request: AWSPreparedRequest) -> bool:
        """Whether `request` was sent with this protocol."""

    @abc.abstractmethod
    def decode_request(
        self, request: AWSPreparedRequest, operation_model: OperationModel
    ) -> dict[str, Any]:
        """The request's parameters as Python values (raises a SerializationException)."""

    @abc.abstractmethod
    def encode_result(
        self, operation_model: OperationModel, result: Mapping[str, Any]
    ) -> tuple[dict[str, str], bytes]:
        """Headers and body of a successful response."""

    @abc.abstractmethod
    def encode_error(
        self, service_model: ServiceModel, error: ServiceError
    ) -> tuple[dict[str, str], bytes]:
        """Headers and body of an error response."""


class _RpcBodyProtocol(WireProtocol):
    """RPC protocols whose whole input and output is one document in the body."""

    @abc.abstractmethod
    def _load(self, body: bytes) -> Any: ...

    @abc.abstractmethod
    def _dump(self, document: dict[str, Any]) -> bytes: ...

    @abc.abstractmethod
    def _blob_from_wire(self, value: Any) -> Any: ...

    @abc.abstractmethod
    def _blob_to_wire(self, value: bytes) -> Any: ...

    @abc.abstractmethod
    def _timestamp_to_wire(self, value: datetime) -> Any: ...

    @abc.abstractmethod
    def _content_headers(self, service_model: ServiceModel) -> dict[str, str]: ...

    def decode_request(
        self, request: AWSPreparedRequest, operation_model: OperationModel
    ) -> dict[str, Any]:
        body = _request_body(request)
        if not body.strip():
            return {}
        try:
            document = self._load(body)
        except Exception as exc:
            raise ServiceError(
                "SerializationException", f"Could not parse the {self.name} request body: {exc}"
            ) from exc
        if not isinstance(document, dict):
            raise ServiceError(
                "SerializationException", "The request body must be a map of parameters."
            )
        shape = operation_model.input_shape
        if shape is None:
            return {}
        return self._from_wire(shape, document)

    def _from_wire(self, shape: Shape, value: Any) -> Any:
        kind = shape.type_name
        if kind == "structure" and isinstance(value, dict):
            if getattr(shape, "is_document_type", False):
                return value
            out: dict[str, Any] = {}
            for member_name, member in shape.members.items():
                wire_name = member.serialization.get("name", member_name)
                if value.get(wire_name) is not None and value[wire_name] is not cbor2.undefined:
                    out[member_name] = self._from_wire(member, value[wire_name])
            return out
        if kind == "list" and isinstance(value, list):
            return [self._from_wire(shape.member, item) for item in value]
        if kind == "map" and isinstance(value, dict):
            return {key: self._from_wire(shape.value, item) for key, item in value.items()}
        if kind == "blob":
            return self._blob_from_wire(value)
        if kind == "timestamp" and isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, UTC)
        # Anything else (including a value of the wrong type) is left for validation to judge.
        return value

    def _to_wire(self, shape: Shape, value: Any) -> Any:
        kind = shape.type_name
        if kind == "structure" and isinstance(value, Mapping):
            if getattr(shape, "is_document_type", False):
                return dict(value)
            out: dict[str, Any] = {}
            for member_name, member in shape.members.items():
                if value.get(member_name) is not None:
                    wire_name = member.serialization.get("name", member_name)
                    out[wire_name] = self._to_wire(member, value[member_name])
            return out
        if kind == "list" and isinstance(value, list | tuple):
            return [self._to_wire(shape.member, item) for item in value]
        if kind == "map" and isinstance(value, Mapping):
            return {key: self._to_wire(shape.value, item) for key, item in value.items()}
        if kind == "blob" and isinstance(value, bytes | bytearray | str):
            data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
            return self._blob_to_wire(data)
        if kind == "timestamp" and isinstance(value, datetime):
            return self._timestamp_to_wire(value)
        return value

    def encode_result(
        self, operation_model: OperationModel, result: Mapping[str, Any]
    ) -> tuple[dict[str, str], bytes]:
        shape = operation_model.output_shape
        document = self._to_wire(shape, result) if shape is not None else {}
        return self._content_headers(operation_model.service_model), self._dump(document)

    def encode_error(
        self, service_model: ServiceModel, error: ServiceError
    ) -> tuple[dict[str, str], bytes]:
        fields: Any = dict(error.fields)
        if error.code in service_model.shape_names:
            fields = self._to_wire(service_model.shape_for(error.code), fields)
        document = {"__type": error.code, "message": error.message, **fields}
        return self._content_headers(service_model), self._dump(document)


class JsonProtocol(_RpcBodyProtocol):
    """AWS JSON 1.0/1.1: `X-Amz-Target: <Prefix>.<Operation>`, JSON body."""

    name = "json"

    def matches(self, request: AWSPreparedRequest) -> bool:
        content_type = _header(request, "Content-Type")
        return bool(_header(request, "X-Amz-Target")) or content_type.startswith(
            "application/x-amz-json-"
        )

    def _load(self, body: bytes) -> Any:
        return json.loads(body.decode("utf-8"))

    def _dump(self, document: dict[str, Any]) -> bytes:
        return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    def _blob_from_wire(self, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ServiceError(
                "SerializationException", "A blob member is not valid base64."
            ) from exc

    def _blob_to_wire(self, value: bytes) -> Any:
        return base64.b64encode(value).decode("ascii")

    def _timestamp_to_wire(self, value: datetime) -> Any:
        return _epoch(value)

    def _content_headers(self, service_model: ServiceModel) -> dict[str, str]:
        version = service_model.metadata.get("jsonVersion", "1.0")
        return {"Content-Type": f"application/x-amz-json-{version}"}

    def encode_error(
        self, service_model: ServiceModel, error: ServiceError
    ) -> tuple[dict[str, str], bytes]:
        headers, body = super().encode_error(service_model, error)
        headers["x-amzn-errortype"] = error.code
        return headers, body


class RpcV2CborProtocol(_RpcBodyProtocol):
    """Smithy RPC v2 CBOR: `POST /service/<Target>/operation/<Operation>`, CBOR body."""

    name = "smithy-rpc-v2-cbor"

    def matches(self, request: AWSPreparedRequest) -> bool:
        if _header(request, "smithy-protocol") == "rpc-v2-cbor":
            return True
        return _header(request, "Content-Type").startswith("application/cbor")

    def _load(self, body: bytes) -> Any:
        return cbor2.loads(body)

    def _dump(self, document: dict[str, Any]) -> bytes:
        return cbor2.dumps(document)

    def _blob_from_wire(self, value: Any) -> Any:
        return value

    def _blob_to_wire(self, value: bytes) -> Any:
        return value

    def _timestamp_to_wire(self, value: datetime) -> Any:
        return cbor2.CBORTag(1, _epoch(value))

    def _content_headers(self, service_model: ServiceModel) -> dict[str, str]:
        return {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"}


class RestJsonProtocol(JsonProtocol):
    """REST-JSON: members bound to the URI path (`{Label}`), the query string or the JSON body,
    as each member's `location` says; errors name their code in `x-amzn-ErrorType`."""

    name = "rest-json"

    def matches(self, request: AWSPreparedRequest) -> bool:
        return not _header(request, "X-Amz-Target")

    def decode_request(
        self, request: AWSPreparedRequest, operation_model: OperationModel
    ) -> dict[str, Any]:
        from urllib.parse import parse_qs, unquote, urlsplit

        shape = operation_model.input_shape
        if shape is None:
            return {}
        url = urlsplit(request.url)
        template = operation_model.http["requestUri"].split("?", 1)[0]
        pattern = "".join(
            f"(?P<{piece[1:-1].rstrip('+')}>.+)" if piece.startswith("{") else re.escape(piece)
            for piece in re.split(r"(\{[^}]+\})", template)
            if piece
        )
        matched = re.fullmatch(pattern, url.path)
        path_values = {k: unquote(v) for k, v in (matched.groupdict() if matched else {}).items()}
        query = parse_qs(url.query, keep_blank_values=True)
        body_members = [m for m in shape.members.values() if not m.serialization.get("location")]
        params: dict[str, Any] = {}
        body = _request_body(request)
        if body_members and body.strip():
            params.update(super().decode_request(request, operation_model))
        for member_name, member in shape.members.items():
            location = member.serialization.get("location")
            wire_name = member.serialization.get("name", member_name)
            if location == "uri" and wire_name in path_values:
                params[member_name] = path_values[wire_name]
            elif location == "querystring" and wire_name in query:
                params[member_name] = self._query_value(member, query[wire_name])
            elif location == "header" and _header(request, wire_name):
                params[member_name] = _header(request, wire_name)
        return params

    def _query_value(self, shape: Shape, values: list[str]) -> Any:
        kind = shape.type_name
        if kind == "list":
            return [self._query_value(shape.member, [value]) for value in values]
        value = values[0]
        if kind in ("integer", "long"):
            try:
                return int(value)
            except ValueError:
                return value
        if kind == "timestamp":
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                return value
        if kind == "boolean":
            return value == "true"
        return value

    def _content_headers(self, service_model: ServiceModel) -> dict[str, str]:
        return {"Content-Type": "application/json"}

    def encode_error(
        self, service_model: ServiceModel, error: ServiceError
    ) -> tuple[dict[str, str], bytes]:
        headers, body = super().encode_error(service_model, error)
        headers["x-amzn-ErrorType"] = headers.pop("x-amzn-errortype")
        return headers, body


# Most specific first: a CBOR request is recognised by its headers before the JSON fallback.
WIRE_PROTOCOLS: tuple[WireProtocol, ...] = (
    RpcV2CborProtocol(),
    JsonProtocol(),
    RestJsonProtocol(),
)


def _service_protocols(service_model: ServiceModel) -> list[str]:
    listed = service_model.metadata.get("protocols")
    return list(listed) if listed else [service_model.protocol]


def supported_protocol(service_model: ServiceModel) -> bool:
    """Whether this module can speak at least one protocol of the service."""
    names = {protocol.name for protocol in WIRE_PROTOCOLS}
    return any(name in names for name in _service_protocols(service_model))


def select_protocol(request: AWSPreparedRequest, service_model: ServiceModel) -> WireProtocol:
    """The protocol `request` uses, among those the service supports."""
    allowed = _service_protocols(service_model)
    candidates = [protocol for protocol in WIRE_PROTOCOLS if protocol.name in allowed]
    if not candidates:
        raise NotImplementedError(
            f"{service_model.service_name} speaks {allowed}; local engines implement "
            f"{[protocol.name for protocol in WIRE_PROTOCOLS]}"
        )
    for protocol in candidates:
        if protocol.matches(request):
            return protocol
    return candidates[0]


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def _shown_value(shape: Shape, value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(str(item) for item in value) + "]"
    return str(value)


@lru_cache(maxsize=256)
def _compiled_pattern(pattern: str) -> Any:
    if _pattern_engine is None:
        return None
    try:
        return _pattern_engine.compile(pattern)
    except Exception:  # a pattern the engine cannot read is not checked
        logger.warning("model pattern %r is not checked", pattern)
        return None


class _ConstraintChecker:
    """The model constraints botocore's client-side validator leaves to the service.

    Messages follow the AWS validation format ("Value 'x' at 'path' failed to satisfy
    constraint: ..."). Patterns are searched, not fully matched: Smithy patterns are not
    implicitly anchored, which is why many model patterns carry their own ^ and $.
    """

    def __init__(self, operation: str, exempt: frozenset[tuple[str, str]]) -> None:
        self._operation = operation
        self._exempt = exempt
        self.errors: list[str] = []

    def check(self, shape: Shape, value: Any, path: str, model_path: str) -> None:
        kind = shape.type_name
        if kind == "structure" and isinstance(value, dict):
            for name, member in shape.members.items():
                if name in value:
                    child = f"{path}.{_lower_first(name)}" if path else _lower_first(name)
                    child_model = f"{model_path}.{name}" if model_path else name
                    self.check(member, value[name], child, child_model)
            return
        exempt = (self._operation, model_path) in self._exempt
        if kind in ("string", "blob", "list") and isinstance(value, str | bytes | list):
            maximum = shape.metadata.get("max")
            if maximum is not None and len(value) > maximum and not exempt:
                self._fail(
                    shape, value, path, f"Member must have length less than or equal to {maximum}"
                )
        if kind in ("integer", "long", "double", "float") and isinstance(value, int | float):
            maximum = shape.metadata.get("max")
            if maximum is not None and value > maximum and not exempt:
                self._fail(
                    shape, value, path, f"Member must have value less than or equal to {maximum}"
                )
        if kind == "string" and isinstance(value, str):
            enum = shape.metadata.get("enum")
            if enum and value not in enum:
                self._fail(
                    shape, value, path, f"Member must satisfy enum value set: [{', '.join(enum)}]"
                )
            pattern = shape.metadata.get("pattern")
            compiled = _compiled_pattern(pattern) if pattern else None
            if compiled is not None and compiled.search(value, timeout=1.0) is None:
                self._fail(
                    shape, value, path, f"Member must satisfy regular expression pattern: {pattern}"
                )
        if kind == "list" and isinstance(value, list):
            for index, item in enumerate(value):
                self.check(shape.member, item, f"{path}.{index + 1}.member", model_path)
        if kind == "map" and isinstance(value, dict):
            for key, item in value.items():
                self.check(shape.value, item, f"{path}.{key}", model_path)

    def _fail(self, shape: Shape, value: Any, path: str, constraint: str) -> None:
        if shape.metadata.get("sensitive") or shape.type_name == "blob":
            self.errors.append(f"Value at '{path}' failed to satisfy constraint: {constraint}")
        else:
            shown = _shown_value(shape, value)
            self.errors.append(
                f"Value '{shown}' at '{path}' failed to satisfy constraint: {constraint}"
            )


def validate_request(
    engine: LocalEngine, operation_model: OperationModel, params: dict[str, Any]
) -> None:
    """Validate `params` as the service would; raise the service's validation error."""
    shape = operation_model.input_shape
    if shape is None:
        return
    report = ParamValidator().validate(params, shape)
    if report.has_errors():
        raise ServiceError(
            engine.validation_error_code,
            str(ParamValidationError(report=report.generate_report())),
            400,
        )
    checker = _ConstraintChecker(operation_model.name, engine.engine_enforced_limits)
    checker.check(shape, params, "", "")
    if checker.errors:
        count = len(checker.errors)
        noun = "error" if count == 1 else "errors"
        raise ServiceError(
            engine.validation_error_code,
            f"{count} validation {noun} detected: " + "; ".join(checker.errors),
            400,
        )


def _status_for(service_model: ServiceModel, error: ServiceError) -> int:
    if error.status is not None:
        return error.status
    if error.code in service_model.shape_names:
        status = service_model.shape_for(error.code).metadata.get("error", {}).get("httpStatusCode")
        if isinstance(status, int):
            return status
    return 500 if error.code == "InternalServerException" else 400


def _response(
    request: AWSPreparedRequest, status: int, headers: dict[str, str], body: bytes
) -> AWSResponse:
    headers = {
        **headers,
        "x-amzn-RequestId": str(uuid.uuid4()),
        "Content-Length": str(len(body)),
        "Date": datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT"),
    }
    return AWSResponse(request.url, status, headers, _BodyStream(body))


def error_response(
    engine: LocalEngine, request: AWSPreparedRequest, error: ServiceError
) -> AWSResponse:
    """Encode `error` in the protocol `request` used."""
    service_model = engine.service_model
    protocol = select_protocol(request, service_model)
    headers, body = protocol.encode_error(service_model, error)
    return _response(request, _status_for(service_model, error), headers, body)


def answer(
    engine: LocalEngine, request: AWSPreparedRequest, operation: str, ctx: CallContext
) -> AWSResponse:
    """Decode, validate, dispatch to `engine` and encode: the whole round trip of one call."""
    service_model = engine.service_model
    protocol = select_protocol(request, service_model)
    try:
        try:
            operation_model = service_model.operation_model(operation)
        except OperationNotFoundError as exc:
            raise ServiceError(
                "UnknownOperationException",
                f"Operation {operation} is not supported by {service_model.service_id}.",
                400,
            ) from exc
        params = protocol.decode_request(request, operation_model)
        validate_request(engine, operation_model, params)
        result = engine.handle(operation, params, ctx)
        headers, body = protocol.encode_result(operation_model, result or {})
    except ServiceError as error:
        return error_response(engine, request, error)
    except Exception:
        logger.exception("local %s engine failed on %s", engine.service_name, operation)
        return error_response(
            engine,
            request,
            ServiceError(
                internal_error_code(engine.service_name), "An internal error occurred.", 500
            ),
        )
    return _response(request, 200, headers, body)


ContextFactory = Callable[[AWSPreparedRequest], CallContext]


def register_on_client(
    client: Any, engine: LocalEngine, ctx_factory: ContextFactory | None = None
) -> Callable[..., AWSResponse]:
    """Answer every call `client` makes with `engine` (tests and single-client set-ups).

    `ctx_factory` builds the caller context from the request; by default the caller is a plain
    user of account 123456789012 in the client's region. The handler runs before any other
    `before-send` handler (moto's included). Returns the handler, e.g. to unregister it.
    """
    service_model = client.meta.service_model
    if service_model.service_name != engine.service_name:
        raise ValueError(
            f"a {engine.service_name} engine cannot answer a {service_model.service_name} client"
        )
    region = client.meta.region_name

    def make_context(request: AWSPreparedRequest) -> CallContext:
        if ctx_factory is not None:
            return ctx_factory(request)
        return CallContext(account_id="123456789012", region=region, principal=None)

    def handler(request: AWSPreparedRequest, event_name: str, **_: Any) -> AWSResponse:
        operation = event_name.rsplit(".", 1)[-1]
        return answer(engine, request, operation, make_context(request))

    event = f"before-send.{service_model.service_id.hyphenize()}"
    client.meta.events.register_first(event, handler, unique_id=f"local-engine-{id(engine)}")
    return handler
