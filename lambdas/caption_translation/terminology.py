"""The never-translate terms of the batch's custom terminology, to check they survived.

A custom terminology row whose target equals its source (`Amazon,Amazon`) tells Translate to
keep the term as written. Translate applies terms but does not promise them, so each output is
checked afterwards and the cues that lost a term are listed in the reading report.
GetTerminology returns the terms file's location: a presigned HTTPS URL on AWS (Translate API
Reference, GetTerminology: TerminologyDataLocation); the local cloud answers with a data URL.
"""

from __future__ import annotations

import csv
import io
import urllib.request
from typing import Any
from urllib.parse import urlparse

from lambdas.shared.errors import ConfigurationError

MAX_TERMINOLOGY_BYTES = 10 * 1024 * 1024  # Translate's limit for one terminology file
DOWNLOAD_TIMEOUT_SECONDS = 30


def never_translate_terms(
    translate: Any, names: tuple[str, ...], source: str, targets: tuple[str, ...]
) -> dict[str, list[str]]:
    """For each target language, the terms its terminologies keep unchanged."""
    terms: dict[str, list[str]] = {target: [] for target in targets}
    for name in names:
        response = translate.get_terminology(Name=name, TerminologyDataFormat="CSV")
        rows = list(csv.reader(io.StringIO(_download(response, name).decode("utf-8-sig"))))
        if not rows:
            continue
        header = [cell.strip() for cell in rows[0]]
        if source not in header:
            continue
        source_column = header.index(source)
        for target in targets:
            if target not in header:
                continue
            target_column = header.index(target)
            for row in rows[1:]:
                if len(row) <= max(source_column, target_column):
                    continue
                term = row[source_column].strip()
                if term and term == row[target_column].strip() and term not in terms[target]:
                    terms[target].append(term)
    return terms


def _download(response: dict[str, Any], name: str) -> bytes:
    location = response["TerminologyDataLocation"]["Location"]
    if urlparse(location).scheme not in ("https", "data"):
        raise ConfigurationError(f"terminology {name}: unexpected location {location[:40]!r}")
    with urllib.request.urlopen(location, timeout=DOWNLOAD_TIMEOUT_SECONDS) as body:
        data: bytes = body.read(MAX_TERMINOLOGY_BYTES + 1)
    if len(data) > MAX_TERMINOLOGY_BYTES:
        raise ConfigurationError(f"terminology {name} is over {MAX_TERMINOLOGY_BYTES} bytes")
    return data
