"""Requests and feedback items: validation of what users send, with messages they can act on.

A feedback item is one document a person should review: implicit (the model was unsure),
explicit (a user says the answer is wrong, optionally with the right label) or from a batch
upload. Items travel as JSON lines through the feedback stream.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from lambdas.shared.errors import InputError

# ClassifyDocument's limit for plain text sent to a custom classifier endpoint (UTF-8 bytes).
MAX_TEXT_BYTES = 10_000
MAX_BATCH_SENTENCES = 10_000


class RequestError(InputError):
    """A request the API rejects; `status` is the HTTP status it answers with."""

    code = "bad-request"

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True)
class ClassifyRequest:
    classifier: str
    text: str


@dataclass(frozen=True)
class FeedbackItem:
    classifier: str
    text: str
    source: str  # implicit, explicit or batch
    label: str | None = None  # the label a user suggests
    predicted: str | None = None
    score: float | None = None

    def as_json_line(self) -> bytes:
        document = {k: v for k, v in asdict(self).items() if v is not None}
        return (json.dumps(document, ensure_ascii=False) + "\n").encode()

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> FeedbackItem:
        return cls(
            classifier=str(document["classifier"]),
            text=str(document["text"]),
            source=str(document.get("source", "explicit")),
            label=document.get("label"),
            predicted=document.get("predicted"),
            score=document.get("score"),
        )


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    return body


def _classifier(body: dict[str, Any], known: str) -> str:
    name = body.get("classifier")
    if not isinstance(name, str) or not name:
        raise RequestError("'classifier' is required: the name of the classifier to use")
    if name != known:
        raise RequestError(f"unknown classifier {name!r}; this API serves {known!r}", 404)
    return name


def check_text(text: Any, field: str = "text") -> str:
    if not isinstance(text, str) or not text.strip():
        raise RequestError(f"'{field}' is required and must be a non-empty string")
    size = len(text.encode("utf-8"))
    if size > MAX_TEXT_BYTES:
        raise RequestError(
            f"'{field}' is {size} bytes (UTF-8); a custom classifier takes at most "
            f"{MAX_TEXT_BYTES} bytes",
            413,
        )
    return text


def parse_classify(body: Any, known: str) -> ClassifyRequest:
    """`{"classifier", "text"}`; `"sentence"` is accepted for `"text"`."""
    body = _object(body)
    classifier = _classifier(body, known)
    field = "sentence" if "sentence" in body and "text" not in body else "text"
    return ClassifyRequest(classifier, check_text(body.get(field), field))


def parse_feedback(body: Any, known: str, categories: tuple[str, ...]) -> FeedbackItem:
    """`{"classifier", "text", "label"?}`."""
    body = _object(body)
    classifier = _classifier(body, known)
    field = "sentence" if "sentence" in body and "text" not in body else "text"
    text = check_text(body.get(field), field)
    label = body.get("label")
    if label is not None and (not isinstance(label, str) or label not in categories):
        raise RequestError(f"'label' must be one of {', '.join(categories)}; got {label!r}")
    return FeedbackItem(classifier, text, "explicit", label=label)


class BatchFileError(InputError):
    code = "invalid-batch-feedback"


def parse_batch(data: bytes, name: str, known: str) -> list[FeedbackItem]:
    """A batch feedback file: `{"classifier": name, "sentences": ["...", ...]}`."""
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise BatchFileError(f"{name} is not UTF-8 text") from None
    except ValueError as error:
        raise BatchFileError(f"{name} is not valid JSON: {error}") from None
    try:
        body = _object(document)
        classifier = _classifier(body, known)
        sentences = body.get("sentences")
        if not isinstance(sentences, list) or not sentences:
            raise RequestError("'sentences' must be a non-empty list of strings")
        if len(sentences) > MAX_BATCH_SENTENCES:
            raise RequestError(f"at most {MAX_BATCH_SENTENCES} sentences per file")
        texts = [check_text(s, f"sentences[{i}]") for i, s in enumerate(sentences)]
    except RequestError as error:
        raise BatchFileError(f"{name}: {error.reason}") from None
    return [FeedbackItem(classifier, text, "batch") for text in texts]
