"""ComprehendFeedbackLoop: `POST /classify` with the stack's API key; a well-formed answer from
the live model. Before the lifecycle has deployed a model the API answers 503, which is
reported as skipped, not as a failure."""

from __future__ import annotations

import json

from smoke.core import Environment, Result, Settings, StackOutputs, Status, find_function_log

WORKFLOW = "comprehend_feedback_loop"
STACK = "ComprehendFeedbackLoop"
TEXT = "Shares rallied after the central bank held interest rates steady for another quarter."


def check(env: Environment, outputs: StackOutputs, settings: Settings) -> Result:
    url = outputs["ApiUrl"].rstrip("/") + "/classify"
    key_id = outputs["ApiKeyId"]

    def result(status: Status, detail: str, *look_at: str, leaves: tuple[str, ...] = ()) -> Result:
        return Result(WORKFLOW, outputs.stack, status, detail, tuple(look_at), leaves)

    key = env.client("apigateway").get_api_key(apiKey=key_id, includeValue=True)["value"]
    body = json.dumps({"classifier": outputs["ClassifierName"], "text": TEXT}).encode()
    answer = env.post(url, {"Content-Type": "application/json", "x-api-key": key}, body)
    try:
        document = answer.json()
    except ValueError:
        document = {"message": answer.body[:300]}
    message = document.get("message", "") if isinstance(document, dict) else ""
    if answer.status == 503 and "no model" in message:
        return result(Status.SKIPPED, f"no model yet: {url} answered 503 {message!r}")
    look_at = (
        f"POST {url} (API key {key_id})",
        f"ApiHandler: {find_function_log(env, outputs.stack, 'ApiHandler')}",
    )
    if answer.status != 200:
        return result(Status.FAILED, f"{url} answered {answer.status}: {message!r}", *look_at)
    labels = document.get("labels") if isinstance(document, dict) else None
    well_formed = (
        isinstance(labels, list)
        and labels
        and isinstance(document.get("label"), str)
        and isinstance(document.get("score"), int | float)
        and 0 <= document["score"] <= 1
        and document["label"] == labels[0].get("name")
        and str(document.get("model", "")).startswith("arn:")
    )
    if not well_formed:
        return result(Status.FAILED, f"{url} answered 200 with {answer.body[:300]!r}", *look_at)
    return result(
        Status.PASSED,
        f"classified as {document['label']} (score {document['score']:.2f}) by {document['model']}",
        leaves=(
            "an answer scoring below the stack's confidence threshold is sent to human review "
            f"as implicit feedback (the text: {TEXT!r})",
        ),
    )
