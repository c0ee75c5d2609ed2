"""Reading DBpedia-ontology CSV rows (`class,title,abstract`), with a reason for every row that
cannot be used. Plain Python: the processing job parses on the driver and hands Spark the rows.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

CLASS_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_FIELD_CHARS = 100_000
LABEL_PREFIX = "__label__"


@dataclass(frozen=True)
class Row:
    line: int
    label: str
    title: str
    abstract: str


@dataclass(frozen=True)
class Reject:
    line: int
    reason: str
    raw: str


def parse_rows(lines: Iterable[str]) -> Iterator[Row | Reject]:
    """Rows of a DBpedia CSV (no header; the class is its number or name). A malformed row
    becomes a `Reject` with its line number and reason; a header row is skipped."""
    csv.field_size_limit(MAX_FIELD_CHARS * 4)
    for number, line in enumerate(lines, start=1):
        text = line.rstrip("\r\n")
        if not text.strip():
            continue
        try:
            fields = next(csv.reader(io.StringIO(text)))
        except csv.Error as exc:
            yield Reject(number, f"unreadable CSV: {exc}", text[:500])
            continue
        if number == 1 and [f.strip().lower() for f in fields] == ["class", "title", "abstract"]:
            continue
        if len(fields) != 3:
            yield Reject(number, f"expected 3 fields (class,title,abstract), got {len(fields)}",
                         text[:500])  # fmt: skip
            continue
        label, title, abstract = (f.strip() for f in fields)
        if not CLASS_PATTERN.match(label):
            reason = "empty class" if not label else f"invalid class {label[:40]!r}"
            yield Reject(number, reason, text[:500])
        elif not abstract:
            yield Reject(number, "empty abstract", text[:500])
        elif len(title) + len(abstract) > MAX_FIELD_CHARS:
            yield Reject(number, f"text longer than {MAX_FIELD_CHARS} characters", text[:500])
        else:
            yield Row(number, label, title, abstract)


def tokens(text: str) -> str:
    """The tokenisation the processing job applies with Spark functions, for inference input:
    lower case, every run of characters other than letters and digits becomes one space."""
    return " ".join(re.sub(r"[^\w]|_", " ", text.lower()).split())


def blazingtext_line(label: str, text: str) -> str:
    return f"{LABEL_PREFIX}{label} {text}"


def parse_blazingtext_line(line: str) -> tuple[str, str]:
    """(label, text) of a supervised-format line `__label__<class> <tokens>`."""
    head, _, text = line.strip().partition(" ")
    if not head.startswith(LABEL_PREFIX):
        raise ValueError(f"not a BlazingText supervised line: {line[:80]!r}")
    return head[len(LABEL_PREFIX) :], text
