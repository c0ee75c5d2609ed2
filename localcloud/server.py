"""The local cloud on one HTTP endpoint: what `python -m localcloud serve` listens with.

Unmodified clients (`aws --endpoint-url http://localhost:4566 ...`, `boto3.client(...,
endpoint_url=...)`) send their signed requests here. Each request is answered exactly as an
in-process client's request is: it becomes a botocore `AWSPreparedRequest` addressed to the
service's AWS endpoint, and the `before-send.<service-id>.<Operation>` event runs on the handler
chain every local cloud client has, so moto, the local engines, chaos and the wiring of
`localcloud.core.moto_hooks` answer it. The response goes back to the caller as it came.

Finding the service and the operation, as AWS's front ends do from the request:

* the service from the SigV4 credential scope (`Credential=<key>/<date>/<region>/<service>/
  aws4_request`), i.e. the signing name of the botocore service models the local cloud answers
  (moto's services and the local engines'); where services share a signing name (`sagemaker`,
  `sagemaker-runtime`, `sagemaker-a2i-runtime`), the one whose model knows the operation;
* the operation from `X-Amz-Target` (AWS JSON), the `/service/<Target>/operation/<Operation>`
  path (Smithy RPC v2 CBOR), the `Action` parameter (AWS query), or, for REST protocols
  (rest-json, rest-xml), the operation whose HTTP method and request URI template match,
  preferring the template with more literal parts (`GET /{Bucket}?tagging` over `GET /{Bucket}`).

S3 takes path-style (`http://localhost:4566/<bucket>/<key>`) and virtual-hosted-style
(`http://<bucket>.s3.localhost:4566/<key>` or `http://<bucket>.localhost:4566/<key>`) requests.
API Gateway REST APIs answer at `http://localhost:4566/restapis/<api-id>/<stage>/_user_request_/
<path>` (`localcloud.services.apigateway.gateway.LocalApiGateway`: API keys, request validation,
Lambda proxy).
`GET /_localcloud/health` answers JSON. `/_localcloud/cloudformation-responses/<request id>` is
where the committed custom-resource events (events/) have the function answer: a `PUT` there is
kept and a `GET` reads it back, as CloudFormation's pre-signed `ResponseURL` takes the answer.

Callers: a request signed with an access key the local cloud did not issue is the account's user
(`localcloud.core.identity.USER_PRINCIPAL`), whatever key and secret the client has; signatures are
not verified. How it differs from AWS: one account (123456789012) and one region (us-east-1, the
region of the deployed stacks: a request signed for another region is answered from that
region's empty state), plain HTTP, no presigned-URL expiry checks, and calls arriving over HTTP
are neither recorded for the least-privilege check nor checked against IAM policies (the user
may do anything, as the account's administrator could).
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

import botocore.session
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.compat import HTTPHeaders
from botocore.model import OperationModel, ServiceModel

from localcloud.core.moto_hooks import moto_service_names

if TYPE_CHECKING:
    from localcloud.core.cloud import LocalCloud

logger = logging.getLogger(__name__)

HEALTH_PATH = "/_localcloud/health"
RESPONSES_PATH = "/_localcloud/cloudformation-responses/"
USER_REQUEST_MARKER = "_user_request_"
# Hop-by-hop headers and those the server computes itself.
_NOT_FORWARDED = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length"})
_CREDENTIAL_SCOPE = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")


class RoutingError(Exception):
    """A request the server cannot attribute to a service operation."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class _RestRoute:
    operation: OperationModel
    method: str
    path: re.Pattern[str]
    # query members the request must have: the URI template's literals and required members
    query: tuple[tuple[str, str | None], ...]
    headers: tuple[str, ...]  # required members bound to headers (lower case)
    literal_length: int

    @property
    def specificity(self) -> tuple[int, int, int, bool]:
        # Between equals, the current operation rather than the one it replaced.
        deprecated = bool(getattr(self.operation, "deprecated", False))
        return (len(self.query), len(self.headers), self.literal_length, not deprecated)

    def matches(
        self, method: str, path: str, query: dict[str, list[str]], headers: HTTPHeaders
    ) -> bool:
        if method != self.method or not self.path.fullmatch(path):
            return False
        if not all(headers.get(name) is not None for name in self.headers):
            return False
        return all(
            name in query and (value is None or value in query[name]) for name, value in self.query
        )


def _rest_route(operation: OperationModel) -> _RestRoute:
    uri = operation.http.get("requestUri", "/")
    path_template, _, query_template = uri.partition("?")
    pieces = re.split(r"(\{[^}]+\})", path_template)
    pattern = "".join(
        (".+" if piece.endswith("+}") else "[^/]+") if piece.startswith("{") else re.escape(piece)
        for piece in pieces
        if piece
    )
    literal_length = sum(len(piece) for piece in pieces if piece and not piece.startswith("{"))
    query: list[tuple[str, str | None]] = []
    for member in filter(None, query_template.split("&")):
        name, equals, value = member.partition("=")
        # `x-id=<Operation>` names the operation for routers that need it; clients may leave it
        # out, so it is not required to match.
        if name != "x-id":
            query.append((name, value if equals else None))
    headers: list[str] = []
    shape = operation.input_shape
    for member_name in shape.required_members if shape is not None else ():
        member = shape.members[member_name]
        location = member.serialization.get("location")
        wire_name = member.serialization.get("name", member_name)
        if location == "querystring" and wire_name not in dict(query):
            query.append((wire_name, None))
        elif location == "header":
            headers.append(wire_name.lower())
    # A template path with no trailing label also matches the path with a trailing slash.
    compiled = re.compile(pattern.rstrip("/") + "/?" if pattern != "/" else "/")
    method = operation.http.get("method", "POST")
    return _RestRoute(operation, method, compiled, tuple(query), tuple(headers), literal_length)


class ServiceIndex:
    """The botocore services the local cloud answers, by signing name, with their routes.

    Loading every model to read its signing name takes seconds, so a signing name is first
    looked up among the services whose names start with it (`sagemaker` -> `sagemaker`,
    `sagemaker-runtime`, ...). A signing name none of those has (`states`, `monitoring`) needs
    the whole index, built once per botocore version and kept in `cache` (a JSON file).
    """

    def __init__(self, service_names: Iterable[str], cache: Path | None = None) -> None:
        self._session = botocore.session.get_session()
        self._names = sorted(set(service_names))
        self._cache = cache
        self._lock = threading.Lock()
        self._models: dict[str, ServiceModel] = {}
        self._signing_names: dict[str, str] | None = None
        self._routes: dict[str, list[_RestRoute]] = {}

    def _model(self, name: str) -> ServiceModel:
        model = self._models.get(name)
        if model is None:
            model = self._models[name] = self._session.get_service_model(name)
        return model

    @staticmethod
    def _signing_name(model: ServiceModel) -> str:
        return str(model.metadata.get("signingName") or model.endpoint_prefix)

    def _all_signing_names(self) -> dict[str, str]:
        """Service name -> signing name, for every service answered (call with the lock)."""
        if self._signing_names is not None:
            return self._signing_names
        key = f"{botocore.__version__}:{','.join(self._names)}"
        if self._cache is not None and self._cache.is_file():
            try:
                cached = json.loads(self._cache.read_text(encoding="utf-8"))
                if cached.get("key") == key:
                    self._signing_names = dict(cached["signingNames"])
                    return self._signing_names
            except (ValueError, KeyError, TypeError):
                pass  # rebuilt below
        names = {name: self._signing_name(self._model(name)) for name in self._names}
        if self._cache is not None:
            self._cache.parent.mkdir(parents=True, exist_ok=True)
            partial = self._cache.with_name(f"{self._cache.name}.{os.getpid()}")
            partial.write_text(json.dumps({"key": key, "signingNames": names}), "utf-8")
            partial.replace(self._cache)  # whole, even with two servers starting at once
        self._signing_names = names
        return names

    def services_signed_as(self, signing_name: str) -> list[ServiceModel]:
        with self._lock:
            if self._signing_names is None:
                named = [self._model(n) for n in self._names if n.startswith(signing_name)]
                likely = [model for model in named if self._signing_name(model) == signing_name]
                if likely:
                    return likely
            every = self._all_signing_names()
            return [self._model(name) for name, signing in every.items() if signing == signing_name]

    def rest_routes(self, model: ServiceModel) -> list[_RestRoute]:
        with self._lock:
            routes = self._routes.get(model.service_name)
            if routes is None:
                routes = [_rest_route(model.operation_model(n)) for n in model.operation_names]
                routes.sort(key=lambda route: route.specificity, reverse=True)
                self._routes[model.service_name] = routes
            return routes


def served_service_names(cloud: LocalCloud) -> set[str]:
    """botocore's names of the services moto implements plus those of the local engines."""
    available = set(botocore.session.get_session().get_available_services())
    moto_names = moto_service_names()
    names = {name for name in available if name.replace("-", "") in moto_names}
    # Engines are keyed by hyphenated service id, which for these services is botocore's name.
    names |= {getattr(engine, "service_name", key) for key, engine in cloud.engines.items()}
    names |= {service for service, _ in cloud.operation_engines}
    return names & available


@dataclass
class IncomingRequest:
    method: str
    path: str  # percent-encoded, as sent
    query: str
    headers: HTTPHeaders
    body: bytes

    def header(self, name: str) -> str:
        value = self.headers.get(name)
        if isinstance(value, bytes):
            return value.decode("latin-1")
        return str(value) if value is not None else ""

    @cached_property
    def form(self) -> dict[str, list[str]]:
        content_type = self.header("Content-Type")
        if content_type.startswith("application/x-www-form-urlencoded"):
            return parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {}


def operation_of(
    index: ServiceIndex, request: IncomingRequest, candidates: list[ServiceModel], path: str
) -> tuple[ServiceModel, OperationModel]:
    target = request.header("X-Amz-Target")
    if target:
        prefix, _, name = target.rpartition(".")
        for model in candidates:
            if model.metadata.get("targetPrefix") == prefix and name in model.operation_names:
                return model, model.operation_model(name)
        raise RoutingError(400, "UnknownOperationException", f"Unknown operation {target}.")
    cbor = re.fullmatch(r"/service/([^/]+)/operation/([^/]+)", path)
    if cbor:
        for model in candidates:
            if cbor.group(2) in model.operation_names:
                return model, model.operation_model(cbor.group(2))
    query = parse_qs(request.query, keep_blank_values=True)
    action = (request.form.get("Action") or query.get("Action") or [""])[0]
    if action:
        for model in candidates:
            if action in model.operation_names:
                return model, model.operation_model(action)
        raise RoutingError(400, "InvalidAction", f"The action {action} is not valid.")
    best: tuple[tuple[int, int, int, bool], ServiceModel, OperationModel] | None = None
    for model in candidates:
        if model.protocol not in ("rest-json", "rest-xml"):
            continue
        for route in index.rest_routes(model):
            if route.matches(request.method, path, query, request.headers):
                if best is None or route.specificity > best[0]:
                    best = (route.specificity, model, route.operation)
                break  # routes are sorted, most specific first
    if best is None:
        raise RoutingError(
            404, "UnknownOperationException", f"No operation answers {request.method} {path}."
        )
    return best[1], best[2]


def _virtual_host_bucket(host: str) -> str | None:
    """The bucket of a virtual-hosted-style S3 request (`<bucket>.s3.<host>`, `<b>.localhost`)."""
    name = host.split(":", 1)[0]
    if ".s3." in name:
        return name.split(".s3.", 1)[0] or None
    if name.endswith(".localhost"):
        bucket = name.removesuffix(".localhost")
        return bucket.removesuffix(".s3") or None
    return None


class LocalCloudServer:
    """A WSGI application answering AWS requests with a running `LocalCloud`."""

    def __init__(
        self,
        cloud: LocalCloud,
        health: Callable[[], dict[str, Any]] | None = None,
        index_cache: Path | None = None,
    ) -> None:
        self.cloud = cloud
        self.index = ServiceIndex(served_service_names(cloud), index_cache)
        self._health = health or (lambda: {"status": "running"})
        self._gateway: Any = None
        self._responses: dict[str, bytes] = {}

    # WSGI ------------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        from werkzeug.wrappers import Request

        wsgi = Request(environ)
        raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI") or wsgi.full_path
        raw_path, _, query = str(raw_uri).partition("?")
        if raw_path.startswith(("http://", "https://")):  # an absolute request target
            raw_path = urlsplit(raw_path).path
        headers = HTTPHeaders()
        for name, value in wsgi.headers.items():
            headers[name] = value
        request = IncomingRequest(wsgi.method, raw_path or "/", query, headers, wsgi.get_data())
        try:
            status, out_headers, body = self.handle(request)
        except RoutingError as error:
            status, out_headers, body = self._error(request, error)
        except NotImplementedError as error:
            # An operation neither moto nor a local engine emulates: 501, which SDKs do not
            # retry (they retry 500, 502, 503 and 504), with the operation named.
            message = f"The local cloud does not emulate this operation: {error}"
            status, out_headers, body = self._error(
                request, RoutingError(501, "NotImplemented", message)
            )
        except Exception:
            logger.exception("the local cloud failed on %s %s", request.method, raw_path)
            status, out_headers, body = self._error(
                request, RoutingError(500, "InternalFailure", "The local cloud failed.")
            )
        reason = _REASONS.get(status, "")
        header_list = [
            (name, str(value))
            for name, value in out_headers.items()
            if name.lower() not in _NOT_FORWARDED
        ]
        length = out_headers.get("Content-Length") or out_headers.get("content-length")
        if request.method == "HEAD":
            header_list.append(("Content-Length", str(length if length is not None else 0)))
            body = b""
        else:
            header_list.append(("Content-Length", str(len(body))))
        start_response(f"{status} {reason}".strip(), header_list)
        return [body]

    # dispatch ----------------------------------------------------------------------------------
    def handle(self, request: IncomingRequest) -> tuple[int, dict[str, str], bytes]:
        if request.path == HEALTH_PATH and request.method == "GET":
            body = json.dumps(self._health()).encode()
            return 200, {"Content-Type": "application/json"}, body
        if request.path.startswith(RESPONSES_PATH):
            return self._custom_resource_response(request, request.path[len(RESPONSES_PATH) :])
        segments = request.path.split("/")
        if (
            len(segments) >= 4
            and segments[1] == "restapis"
            and segments[4:5] == [USER_REQUEST_MARKER]
        ):
            return self._api_request(request, segments[2], segments[3], "/".join(segments[5:]))
        host_api = re.match(r"([a-z0-9]+)\.execute-api\.", request.header("Host"))
        if host_api:
            stage, _, rest = request.path.lstrip("/").partition("/")
            return self._api_request(request, host_api.group(1), stage, rest)
        return self._aws_request(request)

    def _custom_resource_response(
        self, request: IncomingRequest, key: str
    ) -> tuple[int, dict[str, str], bytes]:
        if request.method == "PUT":
            self._responses[key] = request.body
            return 200, {}, b""
        if request.method == "GET" and key in self._responses:
            return 200, {"Content-Type": "application/json"}, self._responses[key]
        raise RoutingError(404, "NotFound", f"No custom resource response at {key!r}.")

    def _api_request(
        self, request: IncomingRequest, api_id: str, stage: str, path: str
    ) -> tuple[int, dict[str, str], bytes]:
        from localcloud.services.apigateway.gateway import LocalApiGateway

        if self._gateway is None:
            self._gateway = LocalApiGateway(self.cloud)
        url = f"https://{api_id}.execute-api.{self.cloud.region}.amazonaws.com/{stage}/{path}"
        if request.query:
            url += "?" + request.query
        headers = {
            name: str(value)
            for name, value in request.headers.items()
            if name.lower() not in _NOT_FORWARDED and name.lower() != "host"
        }
        response = self._gateway.request(
            request.method, url, headers=headers, body=request.body or None
        )
        return response.status, response.headers, response.body.encode("utf-8")

    def _aws_request(self, request: IncomingRequest) -> tuple[int, dict[str, str], bytes]:
        authorization = request.header("Authorization")
        query = parse_qs(request.query)
        scope = _CREDENTIAL_SCOPE.search(authorization) or _CREDENTIAL_SCOPE.search(
            "Credential=" + unquote(query.get("X-Amz-Credential", [""])[0])
        )
        if scope is not None:
            access_key, signing_name = scope.group(1), scope.group(4)
        elif authorization.startswith("AWS ") or "AWSAccessKeyId" in query:
            # Signature Version 2, which only S3 still takes (the aws CLI v1's `s3 presign`).
            access_key = authorization[4:].split(":", 1)[0] or query["AWSAccessKeyId"][0]
            signing_name = "s3"
        else:
            raise RoutingError(
                403,
                "MissingAuthenticationToken",
                "Requests must be signed with AWS Signature Version 4 (any access key works).",
            )
        candidates = self.index.services_signed_as(signing_name)
        if not candidates:
            message = f"The local cloud does not serve {signing_name}."
            raise RoutingError(400, "UnrecognizedClientException", message)
        path = request.path
        host = request.header("Host")
        if signing_name == "s3":
            bucket = _virtual_host_bucket(host)
            if bucket is not None:
                path = f"/{bucket}{path}" if path != "/" else f"/{bucket}"
        model, operation = operation_of(self.index, request, candidates, unquote(path))
        client = self.cloud.client(model.service_name)
        endpoint = urlsplit(client.meta.endpoint_url)
        url = f"{endpoint.scheme}://{endpoint.netloc}{path}"
        if request.query:
            url += "?" + request.query
        headers = HTTPHeaders()
        for name, value in request.headers.items():
            if name.lower() in ("host", "transfer-encoding"):
                continue
            headers[name] = value
        headers["Host"] = endpoint.netloc
        headers["Content-Length"] = str(len(request.body))
        # A key the local cloud did not issue is the account's user.
        if self.cloud.principals.principal_of(access_key) is None and scope and authorization:
            user_key = self.cloud.principals.user.access_key
            headers["Authorization"] = authorization.replace(
                f"Credential={access_key}/", f"Credential={user_key}/", 1
            )
        prepared = AWSPreparedRequest(
            method=request.method,
            url=url,
            headers=headers,
            body=request.body,
            stream_output=False,
        )
        response = self._send(client, model, operation, prepared)
        if response is None:
            raise RoutingError(
                501,
                "NotImplemented",
                f"The local cloud does not implement {model.service_name}:{operation.name}.",
            )
        out_headers = {str(name): str(value) for name, value in response.headers.items()}
        return int(response.status_code), out_headers, response.content or b""

    def _send(
        self, client: Any, model: ServiceModel, operation: OperationModel, request: Any
    ) -> AWSResponse | None:
        """Emit what botocore's endpoint emits before sending; the first answer wins."""
        from botocore.hooks import first_non_none_response

        from localcloud.core.moto_hooks import _current_operation

        event = f"before-send.{model.service_id.hyphenize()}.{operation.name}"
        token = _current_operation.set(operation)
        try:
            responses = client.meta.events.emit(event, request=request)
        finally:
            _current_operation.reset(token)
        response: AWSResponse | None = first_non_none_response(responses)
        return response

    def _error(
        self, request: IncomingRequest, error: RoutingError
    ) -> tuple[int, dict[str, str], bytes]:
        if request.header("X-Amz-Target") or "json" in request.header("Content-Type"):
            body = json.dumps({"__type": error.code, "message": error.message}).encode()
            return error.status, {"Content-Type": "application/x-amz-json-1.1",
                                  "x-amzn-ErrorType": error.code}, body  # fmt: skip
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse><Error><Type>Sender</Type>'
            f"<Code>{error.code}</Code><Message>{_xml_escape(error.message)}</Message></Error>"
            "</ErrorResponse>"
        )
        return error.status, {"Content-Type": "text/xml"}, xml.encode()


def _xml_escape(text: str) -> str:
    from xml.sax.saxutils import escape

    return escape(text)


_REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    206: "Partial Content",
    301: "Moved Permanently",
    304: "Not Modified",
    307: "Temporary Redirect",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    412: "Precondition Failed",
    413: "Request Entity Too Large",
    416: "Requested Range Not Satisfiable",
    429: "Too Many Requests",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


class HttpEndpoint:
    """The werkzeug server answering on `host:port` in a background thread."""

    def __init__(self, app: LocalCloudServer, host: str, port: int) -> None:
        from werkzeug.serving import WSGIRequestHandler, make_server

        class QuietHandler(WSGIRequestHandler):
            def log_request(self, *args: Any, **kwargs: Any) -> None:
                return None

        self.server = make_server(host, port, app, threaded=True, request_handler=QuietHandler)
        self.host = host
        self.port = self.server.server_port
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="localcloud-http", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=10)
