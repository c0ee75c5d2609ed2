"""Ticket validation, truncation and the recommendation catalog: pure domain code."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from lambdas.shared.errors import ConfigurationError
from lambdas.ticket_classification.catalog import load_catalog, recommend, validate
from lambdas.ticket_classification.tickets import (
    CLASSIFY_MAX_BYTES,
    TicketError,
    parse_ticket,
    truncate_utf8,
)

GOOD = {
    "TicketId": "T-1",
    "TicketTitle": "Resize the EC2 instance",
    "TicketDescription": "We need more memory on the checkout VM.",
    "TicketCreationTime": "2026-01-05T08:00:00Z",
}


def test_a_valid_ticket_is_normalised() -> None:
    ticket = parse_ticket({**GOOD, "TicketTitle": "  Resize   the EC2\tinstance "})
    assert ticket.title == "Resize the EC2 instance"
    assert ticket.text == "Resize the EC2 instance. We need more memory on the checkout VM."
    assert ticket.creation_time == datetime(2026, 1, 5, 8, tzinfo=UTC)
    assert ticket.creation_time_text == "2026-01-05 08:00:00"
    assert ticket.truncated is False


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-01-05 08:00:00", "2026-01-05 08:00:00"),
        ("2026-01-05T10:30:00+02:00", "2026-01-05 08:30:00"),
        ("2026-01-05T08:00:00.123456Z", "2026-01-05 08:00:00"),
    ],
)
def test_creation_times_become_utc(value: str, expected: str) -> None:
    assert parse_ticket({**GOOD, "TicketCreationTime": value}).creation_time_text == expected


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"TicketDescription": None}, "missing-field"),
        ({"TicketTitle": "", "TicketDescription": "   "}, "empty-text"),
        ({"TicketCreationTime": "05/01/2026 8am"}, "invalid-creation-time"),
        ({"TicketId": "has space"}, "invalid-ticket-id"),
        ({"TicketId": "x" * 65}, "invalid-ticket-id"),
        ({"TicketTitle": 7}, "invalid-field"),
        ({"TicketTitle": "t" * 1001}, "title-too-long"),
    ],
)
def test_bad_tickets_are_rejected_with_a_code(change: dict[str, Any], code: str) -> None:
    with pytest.raises(TicketError) as raised:
        parse_ticket({**GOOD, **change})
    assert raised.value.code == code and raised.value.reason


def test_long_text_is_cut_at_a_character_boundary_to_the_classify_limit() -> None:
    description = "ab" + "€" * 5000  # 3 bytes each: the limit falls inside a character
    ticket = parse_ticket({**GOOD, "TicketDescription": description})
    encoded = ticket.text.encode("utf-8")
    assert ticket.truncated is True
    assert CLASSIFY_MAX_BYTES - 3 < len(encoded) <= CLASSIFY_MAX_BYTES
    assert ticket.text.endswith("€")
    assert ticket.original_bytes == len(f"{GOOD['TicketTitle']}. {description}".encode())
    assert ticket.description == description  # the warehouse keeps all of it


def test_truncate_utf8_keeps_short_text_and_whole_characters() -> None:
    assert truncate_utf8("héllo", 100) == "héllo"
    assert truncate_utf8("héllo", 2) == "h"
    assert truncate_utf8("héllo", 3) == "hé"


def test_the_most_specific_catalog_entry_wins() -> None:
    assert recommend("restore", "ebs").key == "restore/ebs"
    assert recommend("delete", "ebs").key == "*/ebs"
    assert recommend("delete", "unknown-resource").key == "delete/*"
    assert recommend("unknown", "unknown").key == "*/*"
    specific = recommend("restore", "ebs").materials
    assert {m["type"] for m in specific} >= {"ssm-document", "runbook", "documentation"}


def test_the_packaged_catalog_covers_every_label_of_the_training_data() -> None:
    from localcloud.demos.ticket_classification import _sample_generator

    samples = _sample_generator()
    catalog = load_catalog()
    assert all(f"{op}/*" in catalog for op in samples.OPERATIONS)
    assert all(f"*/{res}" in catalog for res in samples.RESOURCES)


@pytest.mark.parametrize(
    "catalog",
    [
        {"create/*": [{"type": "runbook", "title": "t", "link": "l"}]},
        {"*/*": [{"type": "video", "title": "t", "link": "l"}]},
        {"*/*": []},
        {"nope": [{"type": "runbook", "title": "t", "link": "l"}]},
    ],
)
def test_a_bad_catalog_is_a_configuration_error(catalog: Any) -> None:
    with pytest.raises(ConfigurationError):
        validate(catalog)


class _Ssm:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.calls = 0

    def get_parameters(self, Names: list[str]) -> dict[str, Any]:  # noqa: N803 - boto3's name
        self.calls += 1
        return {
            "Parameters": [{"Name": n, "Value": self.values[n]} for n in Names if n in self.values],
            "InvalidParameters": [n for n in Names if n not in self.values],
        }


def test_endpoint_arns_are_cached_and_unset_ones_are_a_clear_error() -> None:
    from lambdas.ticket_classification.classification import (
        EndpointNotConfiguredError,
        EndpointParameters,
    )

    now = [0.0]
    ssm = _Ssm(
        {"/s/Op": "arn:aws:comprehend:r:1:document-classifier-endpoint/a", "/s/Res": "unset"}
    )
    parameters = EndpointParameters(clock=lambda: now[0])
    with pytest.raises(EndpointNotConfiguredError, match="/s/Res"):
        parameters.get(ssm, ("/s/Op", "/s/Res"), 300)
    ssm.values["/s/Res"] = "arn:aws:comprehend:r:1:document-classifier-endpoint/b"
    assert parameters.get(ssm, ("/s/Op", "/s/Res"), 300)[1].endswith("/b")
    parameters.get(ssm, ("/s/Op", "/s/Res"), 300)
    assert ssm.calls == 2  # the failed read was not cached; the good one is
    now[0] = 301.0
    parameters.get(ssm, ("/s/Op", "/s/Res"), 300)
    assert ssm.calls == 3
    with pytest.raises(ConfigurationError, match="missing SSM parameters"):
        EndpointParameters().get(_Ssm({}), ("/x", "/y"), 300)
