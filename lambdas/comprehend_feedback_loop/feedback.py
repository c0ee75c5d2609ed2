"""Requests and feedback items: validation of what users send, with messages they can act on.

A feedback item is one document a person should review: implicit (the model was unsure),
explicit (a user says the answer is wrong, optionally with the right label) or from a batch
upload. Items travel as JSON lines through the feedback stream.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import Any

from lambdas.shared.errors import InputError
from lambdas.shared.quarantine import ItemError, Rejection

# ClassifyDocument's limit for plain text sent to a custom classifier endpoint (UTF-8 bytes).
MAX_TEXT_BYTES = 10_000
MAX_BATCH_SENTENCES = 10_000


class DeliveryError(Exception):
    """Firehose refused records even after retries; the event's source delivers it again."""


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
    """The whole batch file is unusable (not JSON, no sentence list, another classifier...)."""

    code = "invalid-batch-feedback"


@dataclass(frozen=True)
class BatchFile:
    """A batch feedback file, sentence by sentence: the items to review, and the sentences
    rejected (as they were in the file) with their index, line and reason."""

    classifier: str
    items: list[FeedbackItem]
    rejected: list[tuple[ItemError, Any]]

    def rejected_part(self) -> bytes:
        """The rejected sentences as a batch file of their own, to fix and upload again."""
        document = {"classifier": self.classifier, "sentences": [v for _, v in self.rejected]}
        return json.dumps(document, indent=2, ensure_ascii=False).encode()

    def rejection(self, name: str) -> Rejection:
        """What the error report says about the rejected sentences."""
        lines = ", ".join(str(error.line) for error, _ in self.rejected)
        total = len(self.items) + len(self.rejected)
        return Rejection(
            "invalid-sentences",
            f"{name}: {len(self.rejected)} of {total} sentences were rejected (lines {lines}); "
            f"the other {len(self.items)} were sent for review",
            items=[error for error, _ in self.rejected],
        )


def parse_batch(data: bytes, name: str, known: str) -> BatchFile:
    """A batch feedback file: `{"classifier": name, "sentences": ["...", ...]}`. A problem
    with the file as a whole raises `BatchFileError`; a bad sentence rejects only itself."""
    try:
        text = data.decode("utf-8-sig")
        document = json.loads(text)
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
    except RequestError as error:
        raise BatchFileError(f"{name}: {error.reason}") from None
    batch = BatchFile(classifier, [], [])
    lines: list[int] | None = None
    for index, sentence in enumerate(sentences):
        try:
            batch.items.append(
                FeedbackItem(classifier, check_text(sentence, f"sentences[{index}]"), "batch")
            )
        except RequestError as error:
            lines = lines or sentence_lines(text)
            problem = ItemError(index, lines[index], "invalid-sentence", error.reason)
            batch.rejected.append((problem, sentence))
    return batch


_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")


def sentence_lines(text: str) -> list[int]:
    """The 1-based line on which each element of the document's top-level `sentences` array
    starts (the last such member, as `json.loads` keeps the last). `text` is valid JSON."""

    def skip(position: int) -> int:
        return _SPACE.match(text, position).end()  # type: ignore[union-attr]

    counted, line = 0, 1

    def line_at(position: int) -> int:
        nonlocal counted, line
        line += text.count("\n", counted, position)
        counted = position
        return line

    lines: list[int] = []
    position = skip(0) + 1  # past "{"
    while text[skip(position)] != "}":
        key, position = _DECODER.raw_decode(text, skip(position))
        position = skip(skip(position) + 1)  # past ":"
        if key == "sentences" and text[position] == "[":
            lines, position = [], skip(position + 1)
            while text[position] != "]":
                lines.append(line_at(position))
                _, position = _DECODER.raw_decode(text, position)
                position = skip(position)
                position = skip(position + 1) if text[position] == "," else position
            position += 1
        else:
            _, position = _DECODER.raw_decode(text, position)
        position = skip(position)
        position = position + 1 if text[position] == "," else position
    return lines
