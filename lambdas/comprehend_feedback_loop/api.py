"""The REST API behind API Gateway (Lambda proxy integration): `POST /classify` and
`POST /feedback`.

Every failure answers with its HTTP status and `{"message": ...}`, never 200. The endpoint ARN
comes from part 1's SSM parameter, cached for `PARAMETER_MAX_AGE_SECONDS` (one SSM call per
warm execution environment per period, not one per request).

Part 1's endpoint may be deleted while idle (its lifecycle policy): every classify call
records its use for part 1's keeper, and a call that finds the endpoint gone or still starting
asks the keeper for it (once for all callers) and answers 503 with `Retry-After`.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities import parameters
from botocore.exceptions import ClientError

from lambdas.comprehend_feedback_loop.feedback import (
    FeedbackItem,
    RequestError,
    parse_classify,
    parse_feedback,
)
from lambdas.comprehend_feedback_loop.settings import FeedbackSettings
from lambdas.shared.endpoint_usage import (
    ENDPOINT_DOWN_ERRORS,
    EndpointAsleepError,
    EndpointUsage,
)
from lambdas.shared.kit import HandlerKit
from lambdas.shared.s3 import error_code

kit = HandlerKit(FeedbackSettings)
app = APIGatewayRestResolver()

# Comprehend's errors, as the API's caller should see them.
COMPREHEND_STATUS = {
    "TextSizeLimitExceededException": 413,
    "InvalidRequestException": 400,
    "ResourceUnavailableException": 503,
    "ThrottlingException": 429,
    "TooManyRequestsException": 429,
}


class NoModelError(Exception):
    """Part 1 has not deployed a model yet."""


def _json(status: int, body: dict[str, Any]) -> Response[Any]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def _body() -> Any:
    try:
        return app.current_event.json_body
    except ValueError as error:
        raise RequestError(f"the request body is not valid JSON: {error}") from None


def _endpoint_arn(settings: FeedbackSettings) -> str:
    try:
        value = parameters.get_parameter(
            settings.endpoint_parameter, max_age=settings.parameter_max_age
        )
    except parameters.exceptions.GetParameterError as error:
        raise NoModelError(str(error)) from None
    return str(value)


def _record(settings: FeedbackSettings, item: FeedbackItem) -> None:
    kit.clients("firehose").put_record(
        DeliveryStreamName=settings.feedback_stream, Record={"Data": item.as_json_line()}
    )


def _usage(settings: FeedbackSettings) -> EndpointUsage:
    return EndpointUsage(
        kit.clients("dynamodb") if settings.keeper_table else None,
        kit.clients("lambda") if settings.keeper_table else None,
        settings.keeper_table,
        settings.keeper_function,
        settings.warm_up_seconds,
    )


def classify(settings: FeedbackSettings, text: str, classifier: str) -> dict[str, Any]:
    """The model's answer; an answer below the confidence threshold becomes implicit feedback."""
    endpoint = _endpoint_arn(settings)
    usage = _usage(settings)
    usage.record_use(endpoint)
    try:
        answer = kit.clients("comprehend").classify_document(Text=text, EndpointArn=endpoint)
    except ClientError as error:
        if usage.enabled and error_code(error) in ENDPOINT_DOWN_ERRORS:
            raise EndpointAsleepError(endpoint, usage.wake(endpoint)) from None
        raise
    labels = [
        {"name": c["Name"], "score": round(float(c["Score"]), 6)}
        for c in answer.get("Classes") or answer.get("Labels") or []
    ]
    labels.sort(key=lambda entry: -float(entry["score"]))
    if not labels:
        raise RequestError("the model returned no classes", 502)
    best = labels[0]
    if best["score"] < settings.confidence_threshold:
        _record(
            settings,
            FeedbackItem(
                classifier, text, "implicit", predicted=str(best["name"]), score=best["score"]
            ),
        )
        kit.count("ImplicitFeedback")
    return {"label": best["name"], "score": best["score"], "labels": labels, "model": endpoint}


def _settings() -> FeedbackSettings:
    settings: FeedbackSettings = app.context["settings"]
    return settings


@app.post("/classify")
def classify_route() -> Response[Any]:
    settings = _settings()
    request = parse_classify(_body(), settings.classifier_name)
    return _json(200, classify(settings, request.text, request.classifier))


@app.post("/feedback")
def feedback_route() -> Response[Any]:
    settings = _settings()
    item = parse_feedback(_body(), settings.classifier_name, settings.categories)
    _record(settings, item)
    kit.count("ExplicitFeedback")
    return _json(202, {"message": "feedback accepted for human review"})


@app.exception_handler(RequestError)
def request_error(error: RequestError) -> Response[Any]:
    return _json(error.status, {"message": error.reason})


@app.exception_handler(NoModelError)
def no_model(error: NoModelError) -> Response[Any]:
    kit.logger.warning("no model deployed", error=str(error))
    return _json(503, {"message": "no model is deployed yet; try again after training"})


@app.exception_handler(EndpointAsleepError)
def endpoint_asleep(error: EndpointAsleepError) -> Response[Any]:
    kit.count("EndpointWakeUps")
    return Response(
        status_code=503,
        content_type=content_types.APPLICATION_JSON,
        body={
            "message": "the classifier's endpoint is starting (it is deleted while idle and "
            f"recreated on demand); retry in {error.retry_after} seconds",
            "retryAfterSeconds": error.retry_after,
        },
        headers={"Retry-After": str(error.retry_after)},
    )


@app.exception_handler(ClientError)
def aws_error(error: ClientError) -> Response[Any]:
    code = error.response.get("Error", {}).get("Code", "")
    status = COMPREHEND_STATUS.get(code, 502)
    kit.logger.warning("AWS call failed", code=code)
    message = error.response.get("Error", {}).get("Message", code)
    return _json(status, {"message": f"{code}: {message}"})


@kit.handler(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def handler(event: dict[str, Any], settings: FeedbackSettings, context: Any) -> dict[str, Any]:
    app.append_context(settings=settings)
    return app.resolve(event, context)
