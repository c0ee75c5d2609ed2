"""Ticket validation, truncation, the recommendation catalog and the endpoint parameters."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdas.shared.errors import ConfigurationError
from lambdas.ticket_classification.catalog import (
    CATALOG_FILE,
    load_catalog,
    recommend,
    validate,
)
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


ID_RULE = "TicketId must be 1 to 64 letters, digits or ._:/#- starting with a letter or digit"


@pytest.mark.parametrize(
    ("change", "code", "reason"),
    [
        ({"TicketDescription": None}, "missing-field", "missing TicketDescription"),
        (
            {"TicketId": None, "TicketCreationTime": None},
            "missing-field",
            "missing TicketId, TicketCreationTime",
        ),
        (
            {"TicketTitle": "", "TicketDescription": "   "},
            "empty-text",
            "TicketTitle and TicketDescription are both empty",
        ),
        (
            {"TicketCreationTime": "05/01/2026 8am"},
            "invalid-creation-time",
            "TicketCreationTime '05/01/2026 8am' is not an ISO 8601 date and time "
            "(for example 2026-01-05T08:00:00Z)",
        ),
        ({"TicketId": "has space"}, "invalid-ticket-id", ID_RULE),
        ({"TicketId": "-leading"}, "invalid-ticket-id", ID_RULE),
        ({"TicketId": "x" * 65}, "invalid-ticket-id", ID_RULE),
        ({"TicketTitle": 7}, "invalid-field", "TicketTitle must be a string, not int"),
        ({"TicketTitle": "t" * 1001}, "title-too-long", "TicketTitle is over 1000 bytes"),
    ],
)
def test_bad_tickets_are_rejected_with_a_code_and_a_reason(
    change: dict[str, Any], code: str, reason: str
) -> None:
    with pytest.raises(TicketError) as raised:
        parse_ticket({**GOOD, **change})
    assert (raised.value.code, raised.value.reason) == (code, reason)


def test_an_event_that_is_not_an_object_names_the_fields_it_needs() -> None:
    with pytest.raises(TicketError) as raised:
        parse_ticket(["T-1"])
    assert (raised.value.code, raised.value.reason) == (
        "invalid-event",
        "the event must be a JSON object with TicketId, TicketTitle, TicketDescription, "
        "TicketCreationTime",
    )


def test_a_ticket_at_the_limits_or_with_one_text_is_accepted() -> None:
    longest = parse_ticket({**GOOD, "TicketId": "x" * 64, "TicketTitle": "é" * 500})
    assert (longest.ticket_id, longest.title) == ("x" * 64, "é" * 500)
    assert parse_ticket({**GOOD, "TicketDescription": ""}).text == GOOD["TicketTitle"]
    assert parse_ticket({**GOOD, "TicketTitle": " "}).text == GOOD["TicketDescription"]


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


def test_the_packaged_catalog_passes_its_own_check_unchanged() -> None:
    raw = json.loads(CATALOG_FILE.read_text(encoding="utf-8"))
    assert validate(raw) == {key: tuple(materials) for key, materials in raw.items()}


RUNBOOK = {"type": "runbook", "title": "t", "link": "l"}
ENTRY_SHAPE = "must be 'op/resource': [materials]"
MATERIAL_SHAPE = "each material needs a type (documentation, runbook, ssm-document), a title"


@pytest.mark.parametrize(
    ("catalog", "message"),
    [
        ([["*/*", [RUNBOOK]]], 'must be a JSON object with a "*/*" entry'),
        ({"create/*": [RUNBOOK]}, 'must be a JSON object with a "*/*" entry'),
        ({"*/*": []}, f"'*/*' {ENTRY_SHAPE}"),
        ({"*/*": RUNBOOK}, f"'*/*' {ENTRY_SHAPE}"),
        ({"*/*": [RUNBOOK], "nope": [RUNBOOK]}, f"'nope' {ENTRY_SHAPE}"),
        ({"*/*": [RUNBOOK], "a/b/c": [RUNBOOK]}, f"'a/b/c' {ENTRY_SHAPE}"),
        ({"*/*": [{**RUNBOOK, "type": "video"}]}, f"'*/*': {MATERIAL_SHAPE}"),
        ({"*/*": [{"title": "t", "link": "l"}]}, f"'*/*': {MATERIAL_SHAPE}"),
        ({"*/*": [{**RUNBOOK, "title": ""}]}, f"'*/*': {MATERIAL_SHAPE}"),
        ({"*/*": [{"type": "runbook", "title": "t"}]}, f"'*/*': {MATERIAL_SHAPE}"),
        ({"*/*": ["runbook"]}, f"'*/*': {MATERIAL_SHAPE}"),
    ],
)
def test_a_bad_catalog_is_a_configuration_error_naming_the_entry(
    catalog: Any, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        validate(catalog)


class _Clock(datetime):
    """What Powertools' parameter cache reads as now, moved on by the test."""

    ahead = timedelta(0)

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
        return datetime.now(tz) + cls.ahead


def test_endpoint_arns_are_cached_and_unset_ones_are_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from aws_lambda_powertools.utilities.parameters import SSMProvider, base

    from lambdas.ticket_classification.classification import (
        EndpointNotConfiguredError,
        endpoint_arns,
    )

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setattr(base, "datetime", _Clock)
    names = ("/s/Op", "/s/Res")
    with mock_aws():
        client = boto3.client("ssm", region_name="us-east-1")
        client.put_parameter(
            Name="/s/Op",
            Value="arn:aws:comprehend:r:1:document-classifier-endpoint/a",
            Type="String",
        )
        client.put_parameter(Name="/s/Res", Value="unset", Type="String")
        reads: list[list[str]] = []
        client.meta.events.register(
            "provide-client-params.ssm.GetParameters",
            lambda params, **_: reads.append(sorted(params["Names"])),
        )
        ssm = SSMProvider(boto3_client=client)
        with pytest.raises(EndpointNotConfiguredError, match="/s/Res"):
            endpoint_arns(ssm, names, 300)
        client.put_parameter(
            Name="/s/Res",
            Value="arn:aws:comprehend:r:1:document-classifier-endpoint/b",
            Type="String",
            Overwrite=True,
        )
        assert endpoint_arns(ssm, names, 300)[1].endswith("/b")
        endpoint_arns(ssm, names, 300)
        # Both parameters in one call; the placeholder was not cached, the ARNs are.
        assert reads == [sorted(names), sorted(names)]
        monkeypatch.setattr(_Clock, "ahead", timedelta(seconds=301))
        endpoint_arns(ssm, names, 300)
        assert len(reads) == 3
        with pytest.raises(ConfigurationError, match="missing SSM parameters"):
            endpoint_arns(SSMProvider(boto3_client=client), ("/x", "/y"), 300)
