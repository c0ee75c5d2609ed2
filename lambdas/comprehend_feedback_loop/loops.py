"""Human loops: what a reviewer sees, deterministic names, and reviewed answers as training rows.

A loop's input lists its items by index; the task UI names each answer `label-<index>`, so an
answer is matched to its item by that index, never by the order of keys in a JSON object.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lambdas.comprehend_feedback_loop.feedback import FeedbackItem
from lambdas.shared.errors import InputError

# A2I's limits on a human loop name: 1-63 characters matching ^[a-z0-9](-*[a-z0-9])*$.
MAX_LOOP_NAME = 63
LOOP_NAME = re.compile(r"^[a-z0-9](-*[a-z0-9])*$")
SKIP = "__skip__"  # the reviewer's "none of these / cannot tell" answer: no training row


class ReviewOutputError(InputError):
    code = "invalid-review-output"


def loop_name(source: str, chunk: int) -> str:
    """The same feedback object and chunk always give the same name, so a duplicate event
    starts nothing twice (A2I rejects the name with ConflictException)."""
    digest = hashlib.sha256(f"{source}#{chunk}".encode()).hexdigest()
    name = f"fb-{digest[:40]}-{chunk}"
    assert len(name) <= MAX_LOOP_NAME and LOOP_NAME.match(name)
    return name


def chunks(items: Sequence[FeedbackItem], size: int) -> list[list[FeedbackItem]]:
    return [list(items[start : start + size]) for start in range(0, len(items), size)]


def loop_input(items: Sequence[FeedbackItem], categories: Sequence[str]) -> str:
    """The `InputContent` of one loop."""
    return json.dumps(
        {
            "classifier": items[0].classifier,
            "categories": list(categories),
            "items": [
                {
                    "index": index,
                    "text": item.text,
                    "source": item.source,
                    **({"suggested": item.label} if item.label else {}),
                    **({"predicted": item.predicted} if item.predicted else {}),
                }
                for index, item in enumerate(items)
            ],
        },
        ensure_ascii=False,
    )


@dataclass(frozen=True)
class ReviewedRow:
    label: str
    text: str


def reviewed_rows(output: dict[str, Any], categories: Sequence[str]) -> list[ReviewedRow]:
    """The training rows of one A2I output document."""
    try:
        items = output["inputContent"]["items"]
        answers = output["humanAnswers"]
    except (KeyError, TypeError):
        raise ReviewOutputError("the output has no inputContent.items or humanAnswers") from None
    if not answers:
        return []
    content = answers[0].get("answerContent") or {}
    rows = []
    for item in items:
        index = int(item["index"])
        answer = content.get(f"label-{index}")
        if isinstance(answer, dict):  # a radio group answers {"label": "..."}
            answer = answer.get("label")
        if answer in (None, "", SKIP):
            continue
        if answer not in categories:
            raise ReviewOutputError(
                f"item {index}: answer {answer!r} is not one of {', '.join(categories)}"
            )
        rows.append(ReviewedRow(str(answer), str(item["text"])))
    return rows


def csv_rows(rows: Sequence[ReviewedRow]) -> bytes:
    """RFC 4180 rows (`label,text`, CRLF-terminated, quoted where needed): every row ends
    with its line break, so concatenated records stay one row each."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    for row in rows:
        writer.writerow([row.label, " ".join(row.text.split())])
    return buffer.getvalue().encode("utf-8")


def task_template(categories: Sequence[str], title: str) -> str:
    """The worker task template (Crowd HTML elements, Liquid): each item's text and a choice
    among the configured categories, answered as `label-<index>`."""
    options = (
        "".join(f'<option value="{c}">{c}</option>' for c in categories)
        + f'<option value="{SKIP}">None of these / cannot tell</option>'
    )
    return (
        '<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>\n'
        "<crowd-form>\n"
        f"  <h3>{title}</h3>\n"
        "  {% for item in task.input.items %}\n"
        '  <div class="item">\n'
        "    <p>{{ item.text | escape }}</p>\n"
        '    <select name="label-{{ item.index }}" required>\n'
        f'      <option value="" disabled selected>Choose a category</option>{options}\n'
        "    </select>\n"
        "  </div>\n"
        "  {% endfor %}\n"
        "</crowd-form>\n"
    )
