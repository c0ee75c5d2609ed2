"""A local API Gateway for REST APIs (v1) with Lambda proxy integrations.

The stack's `AWS::ApiGateway::*` resources are created on moto's API Gateway (so `GetRestApis`,
`GetApiKeys`, ... answer as they would), and `LocalApiGateway.request` serves a request against
what was created, the way API Gateway does:

1. the stage and resource come from the URL (`https://<api-id>.execute-api.<region>.amazonaws.com
   /<stage>/<path>`); no such resource or method is 403 `{"message": "Missing Authentication
   Token"}`, as API Gateway answers;
2. a method with `ApiKeyRequired` needs an `x-api-key` header naming an enabled key of a usage
   plan that covers the API's stage, else 403 `{"message": "Forbidden"}`;
3. a body over 10 MB is 413 `{"message": "Request Too Long"}` (REST API payload quota; this
   gateway response, REQUEST_TOO_LARGE, cannot be customized); a request validator that
   validates bodies checks the body against the method's model for the request's content type
   (JSON Schema draft 4): a failure is 400 `{"message": "Invalid request body"}`, or the API's
   BAD_REQUEST_BODY gateway response, whose templates may use
   `$context.error.validationErrorString` and `$context.error.messageString`. The validation
   errors are jsonschema's wording, in brackets as API Gateway lists them; API Gateway words
   them in its own validator's terms, so match on the field names, not the sentences;
4. an `AWS_PROXY` integration invokes the function through the local Lambda runtime with a REST
   (payload format 1.0) proxy event; the function's `statusCode`, `headers`, `body` and
   `isBase64Encoded` are the response. A function error or a malformed answer is 502
   `{"message": "Internal server error"}`.

Each request appends an access log entry (the stage's `AccessLogSetting` format fields) to
`access_log`.

Not emulated: usage plan throttling and quotas (limits are kept, not enforced), authorizers,
non-proxy integrations and mapping templates, request parameter validation, custom domains,
binary media types, caching, and the check that the function's resource policy lets API
Gateway invoke it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import jsonschema

from localcloud.core.moto_hooks import fixed_rest_api_id
from localcloud.core.provision import ProvisionRequest, _state, provisioner
from localcloud.core.template import ResourceState

if TYPE_CHECKING:
    from localcloud.core.cloud import LocalCloud


# REST API payload quota (API Gateway developer guide, "Amazon API Gateway quotas": 10 MB).
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024


# --- Provisioning -------------------------------------------------------------------------------
def _client(request: ProvisionRequest) -> Any:
    return request.client("apigateway")


@provisioner("AWS::ApiGateway::RestApi")
def _rest_api(request: ProvisionRequest) -> ResourceState:
    props = request.properties
    arguments: dict[str, Any] = {"name": props.get("Name") or request.physical_name()}
    if "Description" in props:
        arguments["description"] = props["Description"]
    if "ApiKeySourceType" in props:
        arguments["apiKeySource"] = props["ApiKeySourceType"]
    # API Gateway's ids are ten lowercase letters and digits; a deterministic one gives the API
    # the same URL on every start of the local cloud (events and documentation can name it).
    seed = f"{request.ctx.stack_name}/{request.logical_id}".encode()
    api_id = hashlib.sha256(seed).hexdigest()[:10]
    ctx = request.ctx
    with fixed_rest_api_id(ctx.account_id, ctx.region, arguments["name"], api_id):
        api = _client(request).create_rest_api(**arguments)
    resources = _client(request).get_resources(restApiId=api["id"])["items"]
    root = next(item["id"] for item in resources if item["path"] == "/")
    return _state(request, api["id"], RootResourceId=root)


@provisioner("AWS::ApiGateway::Resource")
def _resource(request: ProvisionRequest) -> ResourceState:
    props = request.properties
    created = _client(request).create_resource(
        restApiId=props["RestApiId"], parentId=props["ParentId"], pathPart=props["PathPart"]
    )
    return _state(request, created["id"], ResourceId=created["id"])


@provisioner("AWS::ApiGateway::Model")
def _model(request: ProvisionRequest) -> ResourceState:
    props = request.properties
    name = props.get("Name") or "".join(c for c in request.physical_name() if c.isalnum())
    _client(request).create_model(
        restApiId=props["RestApiId"],
        name=name,
        schema=json.dumps(props.get("Schema", {})),
        contentType=props.get("ContentType", "application/json"),
    )
    return _state(request, name)


@provisioner("AWS::ApiGateway::RequestValidator")
def _validator(request: ProvisionRequest) -> ResourceState:
    props = request.properties
    created = _client(request).create_request_validator(
        restApiId=props["RestApiId"],
        name=props.get("Name") or request.physical_name(),
        validateRequestBody=bool(props.get("ValidateRequestBody", False)),
        validateRequestParameters=bool(props.get("ValidateRequestParameters", False)),
    )
    return _state(request, created["id"], RequestValidatorId=created["id"])


@provisioner("AWS::ApiGateway::Method")
def _method(request: ProvisionRequest) -> ResourceState:
    props = request.properties
    client = _client(request)
    arguments: dict[str, Any] = {
        "restApiId": props["RestApiId"],
        "resourceId": props["ResourceId"],
        "httpMethod": props["HttpMethod"],
        "authorizationType": props.get("AuthorizationType", "NONE"),
        "apiKeyRequired": bool(props.get("ApiKeyRequired", False)),
    }
    if "RequestModels" in props:
        arguments["requestModels"] = props["RequestModels"]
    if "RequestValidatorId" in props:
        arguments["requestValidatorId"] = props["RequestValidatorId"]
    client.put_method(**arguments)
    integration = props.get("Integration")
    if integration:
        client.put_integration(
            restApiId=props["RestApiId"],
            resourceId=props["ResourceId"],
            httpMethod=props["HttpMethod"],
            type=integration["Type"],
            integrationHttpMethod=integration.get("IntegrationHttpMethod", "POST"),
            uri=integration.get("Uri", ""),
        )
    return _state(request, request.physical_name())


def _present(props: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """The optional properties of `keys` the template sets, under API Gateway's parameter names
    (the same names in lower camel case)."""
    return {key[0].lower() + key[1:]: props[key] for key in keys if key in props}


@provisioner("AWS::ApiGateway::GatewayResponse")
def _gateway_response(request: ProvisionRequest) -> ResourceState:
    props = request.properties
    arguments: dict[str, Any] = {
        "restApiId": props["RestApiId"],
        "responseType": props["ResponseType"],
    }
    if "StatusCode" in props:
        arguments["statusCode"] = str(props["StatusCode"])
    arguments.update(_present(props, ("ResponseParameters", "ResponseTemplates")))
    _client(request).put_gateway_response(**arguments)
    return _state(request, request.physical_name())


@provisioner("AWS::ApiGateway::Deployment")
def _deployment(request: ProvisionRequest) -> ResourceState:
    props = request.properties
    created = _client(request).create_deployment(
        restApiId=props["RestApiId"], description=props.get("Description", "")
    )
    return _state(request, created["id"], DeploymentId=created["id"])


@provisioner("AWS::ApiGateway::Stage")
def _stage(request: ProvisionRequest) -> ResourceState:
    props = request.properties
    name = props.get("StageName") or request.physical_name()
    _client(request).create_stage(
        restApiId=props["RestApiId"], stageName=name, deploymentId=props["DeploymentId"]
    )
    return _state(request, name)


@provisioner("AWS::ApiGateway::Account")
def _account(request: ProvisionRequest) -> ResourceState:
    """The account's CloudWatch logging role for API Gateway: kept as configuration."""
    return _state(request, request.physical_name())


@provisioner("AWS::ApiGateway::ApiKey")
def _api_key(request: ProvisionRequest) -> ResourceState:
    props = request.properties
    arguments: dict[str, Any] = {
        "name": props.get("Name") or request.physical_name(),
        "enabled": bool(props.get("Enabled", False)),
        "stageKeys": [
            {"restApiId": key["RestApiId"], "stageName": key["StageName"]}
            for key in props.get("StageKeys", [])
        ],
        **_present(props, ("Value", "Description")),
    }
    created = _client(request).create_api_key(**arguments)
    return _state(request, created["id"], APIKeyId=created["id"])


@provisioner("AWS::ApiGateway::UsagePlan")
def _usage_plan(request: ProvisionRequest) -> ResourceState:
    props = request.properties
    arguments: dict[str, Any] = {
        "name": props.get("UsagePlanName") or request.physical_name(),
        "apiStages": [
            {"apiId": stage["ApiId"], "stage": stage["Stage"]}
            for stage in props.get("ApiStages", [])
        ],
        **_present(props, ("Description",)),
    }
    throttle = props.get("Throttle")
    if throttle:
        arguments["throttle"] = {
            "burstLimit": int(throttle.get("BurstLimit", 0)),
            "rateLimit": float(throttle.get("RateLimit", 0)),
        }
    created = _client(request).create_usage_plan(**arguments)
    return _state(request, created["id"], Id=created["id"])


@provisioner("AWS::ApiGateway::UsagePlanKey")
def _usage_plan_key(request: ProvisionRequest) -> ResourceState:
    props = request.properties
    _client(request).create_usage_plan_key(
        usagePlanId=props["UsagePlanId"], keyId=props["KeyId"], keyType=props["KeyType"]
    )
    return _state(request, f"{props['UsagePlanId']}:{props['KeyId']}")


# --- Serving ------------------------------------------------------------------------------------
@dataclass
class ApiResponse:
    status: int
    headers: dict[str, str]
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class LocalApiGateway:
    cloud: LocalCloud
    access_log: list[dict[str, Any]] = field(default_factory=list)

    def _admin(self) -> Any:
        return self.cloud.deployer_client("apigateway")

    def api_key_value(self, key_id: str) -> str:
        """The value of a key the stack created (what `aws apigateway get-api-key
        --include-value` shows its owner)."""
        return str(self._admin().get_api_key(apiKey=key_id, includeValue=True)["value"])

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        body: str | bytes | None = None,
    ) -> ApiResponse:
        started = time.monotonic()
        headers = dict(headers or {})
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        parts = urlsplit(url)
        api_id = parts.hostname.split(".", 1)[0] if parts.hostname else ""
        segments = parts.path.lstrip("/").split("/", 1)
        stage = segments[0]
        path = "/" + (segments[1] if len(segments) > 1 else "")
        path = path.rstrip("/") or "/"
        request_id = str(uuid.uuid4())
        response = self._serve(api_id, stage, path, method.upper(), headers, text, parts.query,
                               request_id)  # fmt: skip
        self.access_log.append(
            {
                "requestId": request_id,
                "httpMethod": method.upper(),
                "resourcePath": path,
                "status": str(response.status),
                "responseLength": str(len(response.body.encode())),
                "requestTime": datetime.now(UTC).isoformat(),
                "latencyMs": round((time.monotonic() - started) * 1000, 3),
            }
        )
        return response

    def _serve(self, api_id: str, stage: str, path: str, method: str, headers: dict[str, str],
               body: str | None, query: str, request_id: str) -> ApiResponse:  # fmt: skip
        admin = self._admin()
        try:
            admin.get_stage(restApiId=api_id, stageName=stage)
            resources = admin.get_resources(restApiId=api_id, embed=["methods"])["items"]
        except admin.exceptions.NotFoundException:
            return _error(403, "Missing Authentication Token")
        resource = next((r for r in resources if r["path"] == path), None)
        if resource is None or method not in resource.get("resourceMethods", {}):
            return _error(403, "Missing Authentication Token")
        definition = admin.get_method(
            restApiId=api_id, resourceId=resource["id"], httpMethod=method
        )
        if body is not None and len(body.encode("utf-8")) > MAX_PAYLOAD_BYTES:
            return _error(413, "Request Too Long")
        lowered = {k.lower(): v for k, v in headers.items()}
        key_id = None
        if definition.get("apiKeyRequired"):
            key_id = self._authorized_key(api_id, stage, lowered.get("x-api-key"))
            if key_id is None:
                return _error(403, "Forbidden")
        validator_id = definition.get("requestValidatorId")
        if validator_id:
            validator = admin.get_request_validator(
                restApiId=api_id, requestValidatorId=validator_id
            )
            if validator.get("validateRequestBody"):
                content_type = lowered.get("content-type", "application/json").split(";")[0]
                models = definition.get("requestModels", {})
                model_name = models.get(content_type) or models.get("$default")
                problems = self._problems(api_id, model_name, body) if model_name else []
                if problems:
                    return self._bad_request_body(api_id, problems)
        integration = definition.get("methodIntegration", {})
        if integration.get("type") != "AWS_PROXY":
            return _error(500, "Internal server error")
        function_arn = integration["uri"].split("/functions/", 1)[1].removesuffix("/invocations")
        event = self._event(api_id, stage, resource, method, headers, body, query, request_id,
                            key_id, lowered)  # fmt: skip
        result = self.cloud.runtime.invoke(function_arn, event)
        if result.failed or not isinstance(result.payload, dict):
            return _error(502, "Internal server error")
        payload = result.payload
        try:
            status = int(payload.get("statusCode", 200))
        except (TypeError, ValueError):
            return _error(502, "Internal server error")
        out_body = payload.get("body") or ""
        if payload.get("isBase64Encoded"):
            out_body = base64.b64decode(out_body).decode("utf-8", "replace")
        out_headers = {k: str(v) for k, v in (payload.get("headers") or {}).items()}
        for key, values in (payload.get("multiValueHeaders") or {}).items():
            out_headers[key] = ",".join(str(v) for v in values)
        out_headers.setdefault("x-amzn-RequestId", request_id)
        return ApiResponse(status, out_headers, str(out_body))

    def _authorized_key(self, api_id: str, stage: str, value: str | None) -> str | None:
        if not value:
            return None
        admin = self._admin()
        keys = admin.get_api_keys(includeValues=True)["items"]
        key = next((k for k in keys if k.get("value") == value and k.get("enabled")), None)
        if key is None:
            return None
        for plan in admin.get_usage_plans(keyId=key["id"])["items"]:
            if any(s["apiId"] == api_id and s["stage"] == stage for s in plan.get("apiStages", [])):
                return str(key["id"])
        return None

    def _problems(self, api_id: str, model_name: str, body: str | None) -> list[str]:
        """What is wrong with the body for the model; empty when it is valid."""
        schema = json.loads(
            self._admin().get_model(restApiId=api_id, modelName=model_name)["schema"]
        )
        try:
            document = json.loads(body or "")
        except ValueError as error:
            return [f"the body is not JSON: {error}"]
        validator = jsonschema.Draft4Validator(schema)
        return sorted(_problem(error) for error in validator.iter_errors(document))

    def _bad_request_body(self, api_id: str, problems: list[str]) -> ApiResponse:
        admin = self._admin()
        try:
            custom = admin.get_gateway_response(restApiId=api_id, responseType="BAD_REQUEST_BODY")
        except admin.exceptions.NotFoundException:
            return _error(400, "Invalid request body")
        template = (custom.get("responseTemplates") or {}).get("application/json")
        if template is None:
            return _error(400, "Invalid request body")
        detail = "[" + ", ".join(problems) + "]"
        body = template.replace(
            "$context.error.validationErrorString", json.dumps(detail)[1:-1]
        ).replace("$context.error.messageString", '"Invalid request body"')
        headers = {"Content-Type": "application/json", "x-amzn-ErrorType": "BadRequestException"}
        return ApiResponse(int(custom.get("statusCode") or 400), headers, body)

    def _event(self, api_id: str, stage: str, resource: dict[str, Any], method: str,
               headers: dict[str, str], body: str | None, query: str, request_id: str,
               key_id: str | None, lowered: dict[str, str]) -> dict[str, Any]:  # fmt: skip
        queries = parse_qs(query, keep_blank_values=True) if query else {}
        now = datetime.now(UTC)
        return {
            "resource": resource["path"],
            "path": resource["path"],
            "httpMethod": method,
            "headers": headers or None,
            "multiValueHeaders": {k: [v] for k, v in headers.items()} or None,
            "queryStringParameters": {k: v[-1] for k, v in queries.items()} or None,
            "multiValueQueryStringParameters": queries or None,
            "pathParameters": None,
            "stageVariables": None,
            "requestContext": {
                "resourceId": resource["id"],
                "resourcePath": resource["path"],
                "httpMethod": method,
                "extendedRequestId": request_id,
                "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "path": f"/{stage}{resource['path']}",
                "accountId": self.cloud.account_id,
                "protocol": "HTTP/1.1",
                "stage": stage,
                "domainPrefix": api_id,
                "requestTimeEpoch": int(now.timestamp() * 1000),
                "requestId": request_id,
                "identity": {
                    "apiKey": lowered.get("x-api-key") if key_id else None,
                    "apiKeyId": key_id,
                    "sourceIp": "127.0.0.1",
                    "userAgent": lowered.get("user-agent", "localcloud"),
                },
                "domainName": f"{api_id}.execute-api.{self.cloud.region}.amazonaws.com",
                "apiId": api_id,
            },
            "body": body,
            "isBase64Encoded": False,
        }


def _problem(error: jsonschema.ValidationError) -> str:
    """One finding, naming the field and never echoing a long value back."""
    where = "/".join(map(str, error.absolute_path)) or "body"
    value = error.validator_value
    if error.validator == "maxLength" and isinstance(error.instance, str):
        return f"{where}: {len(error.instance)} characters, at most {value} allowed"
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = set(error.schema.get("properties", {}))
        extra = sorted(str(k) for k in error.instance if k not in known)
        return f"{where}: properties not allowed by the schema: {', '.join(extra)}"
    message = str(error.message)
    return f"{where}: {message if len(message) <= 200 else message[:200] + '...'}"


def _error(status: int, message: str) -> ApiResponse:
    headers = {"Content-Type": "application/json"}
    if message in _ERROR_TYPES:
        headers["x-amzn-ErrorType"] = _ERROR_TYPES[message]
    return ApiResponse(status, headers, json.dumps({"message": message}))


# API Gateway's error types for its own answers.
_ERROR_TYPES = {
    "Missing Authentication Token": "MissingAuthenticationTokenException",
    "Forbidden": "ForbiddenException",
    "Invalid request body": "BadRequestException",
    "Internal server error": "InternalServerErrorException",
}
