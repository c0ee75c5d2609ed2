"""Training data in Comprehend's CSV format (`label,text`, no header; several labels joined by
the delimiter in multi-label mode): validation, merging, and a stable test split.

Merging keys rows by their normalised text: a newer row for the same text (a human-reviewed
correction, say) replaces the older one, and duplicates collapse. The test split is decided by
a hash of the text, so a document stays on the same side of the split in every round: neither
the live model nor any candidate has trained on a test document, and both are compared on the
same ones.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lambdas.shared.errors import InputError

# Comprehend's documented minimums for a custom classifier's training data.
MIN_DOCUMENTS_PER_CLASS = 50  # multi-class mode
MIN_DOCUMENTS_PER_LABEL = 10  # multi-label mode
MAX_DOCUMENT_BYTES = 10_000
# A first line naming the columns: a header, which Comprehend's CSV format does not have. As a
# row it would add a one-document class that keeps every later round from training.
HEADER_LABELS = frozenset({"label", "labels", "class", "category"})
HEADER_TEXTS = frozenset({"text", "document", "documents"})


class TrainingDataError(InputError):
    code = "invalid-training-data"


@dataclass(frozen=True)
class Row:
    labels: tuple[str, ...]
    text: str

    @property
    def key(self) -> str:
        return " ".join(self.text.split()).casefold()

    def csv_fields(self, delimiter: str) -> list[str]:
        return [delimiter.join(self.labels), self.text]


def parse_csv(
    data: bytes, name: str, multi_label: bool, delimiter: str, allowed: Sequence[str] = ()
) -> list[Row]:
    """The rows of one uploaded file; any problem rejects the whole file with its reason."""
    if not data.strip():
        raise TrainingDataError(f"{name} is empty")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise TrainingDataError(
            f"{name} is not valid UTF-8 (byte {error.start}): save it as UTF-8"
        ) from None
    rows: list[Row] = []
    # Strict: a quote left open would otherwise swallow every later line into one document.
    reader = csv.reader(io.StringIO(text), strict=True)
    number = 0
    try:
        for fields in reader:
            number += 1
            if not fields or all(not f.strip() for f in fields):
                continue
            if len(fields) != 2:
                raise TrainingDataError(
                    f"{name} line {number}: expected 2 columns (label,text), found {len(fields)}"
                )
            raw_labels, document = fields[0].strip(), fields[1].strip()
            if (
                not rows
                and raw_labels.casefold() in HEADER_LABELS
                and document.casefold() in HEADER_TEXTS
                and raw_labels not in allowed
            ):
                raise TrainingDataError(
                    f"{name} line {number}: {raw_labels},{document} is a header row; "
                    "Comprehend's CSV format has none: remove the line"
                )
            labels = tuple(
                sorted({label.strip() for label in raw_labels.split(delimiter) if label.strip()})
                if multi_label
                else (raw_labels,)
            )
            if not raw_labels or not labels:
                raise TrainingDataError(f"{name} line {number}: the label is empty")
            if not multi_label and delimiter in raw_labels and delimiter not in (",",):
                raise TrainingDataError(
                    f"{name} line {number}: several labels ({raw_labels!r}) in multi-class mode"
                )
            if not document:
                raise TrainingDataError(f"{name} line {number}: the text is empty")
            if len(document.encode()) > MAX_DOCUMENT_BYTES:
                raise TrainingDataError(
                    f"{name} line {number}: the text is over {MAX_DOCUMENT_BYTES} bytes"
                )
            if allowed:
                unknown = sorted(set(labels) - set(allowed))
                if unknown:
                    raise TrainingDataError(
                        f"{name} line {number}: label(s) {', '.join(unknown)} are not among "
                        f"the configured labels ({', '.join(allowed)})"
                    )
            rows.append(Row(labels, document))
    except csv.Error as error:
        raise TrainingDataError(f"{name} line {number + 1}: malformed CSV: {error}") from None
    if not rows:
        raise TrainingDataError(f"{name} has no rows")
    return rows


def merge(*sources: Iterable[Row]) -> list[Row]:
    """Later sources win for the same text; the order of first appearance is kept."""
    merged: dict[str, Row] = {}
    for source in sources:
        for row in source:
            merged[row.key] = row
    return list(merged.values())


def is_test(row: Row, test_percent: int) -> bool:
    digest = int(hashlib.sha256(row.key.encode()).hexdigest()[:8], 16)
    return digest % 100 < test_percent


def split(rows: Sequence[Row], test_percent: int) -> tuple[list[Row], list[Row]]:
    train = [r for r in rows if not is_test(r, test_percent)]
    test = [r for r in rows if is_test(r, test_percent)]
    return train, test


def trainability_problem(train: Sequence[Row], multi_label: bool) -> str | None:
    """Why Comprehend would refuse this training set, or None."""
    counts = Counter(label for row in train for label in row.labels)
    if len(counts) < 2:
        return f"the training data has {len(counts)} label(s); a classifier needs at least 2"
    minimum = MIN_DOCUMENTS_PER_LABEL if multi_label else MIN_DOCUMENTS_PER_CLASS
    short = sorted(label for label, count in counts.items() if count < minimum)
    if short:
        return f"label(s) {', '.join(short)} have fewer than {minimum} training documents"
    return None


def to_csv(rows: Iterable[Row], delimiter: str) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in rows:
        writer.writerow(row.csv_fields(delimiter))
    return buffer.getvalue().encode()


def from_csv(data: bytes, multi_label: bool, delimiter: str) -> list[Row]:
    """Rows of a file the workflow itself wrote (ground truth, carried data)."""
    if not data.strip():
        return []
    return parse_csv(data, "stored data", multi_label, delimiter)


def documents_file(rows: Sequence[Row]) -> bytes:
    """One document per line, for a classification job (line breaks inside texts flattened)."""
    return "".join(" ".join(row.text.split()) + "\n" for row in rows).encode()
