"""The local warehouse's COPY: JSON 'auto', TIMEFORMAT, TRUNCATECOLUMNS, all or nothing."""

from __future__ import annotations

import json
from datetime import datetime

import duckdb
import pytest

from lambdas.ticket_classification.warehouse import COLUMNS, DDL_STATEMENTS, TABLE, VIEW
from localcloud.services.redshift.engine import (
    Namespace,
    StatementError,
    copy_into,
    json_records,
    parse_copy_options,
)
from stacks.ticket_classification import COPY_OPTIONS


@pytest.fixture
def namespace() -> Namespace:
    created = Namespace("ns", "tickets", "admin1", "Secret1", "arn", duckdb.connect(":memory:"))
    for statement in DDL_STATEMENTS:
        created.execute(statement)
    return created


def _record(**fields: object) -> bytes:
    base = {"id": "T-1", "title": "t", "description": "d", "creation_time": "2026-01-05 08:00:00",
            "operation": "create", "resource": "ec2"}  # fmt: skip
    return (json.dumps({**base, **fields}) + "\n").encode()


def test_the_stack_copy_options_load_json_records_into_the_published_table(
    namespace: Namespace,
) -> None:
    options = parse_copy_options(COPY_OPTIONS)
    data = _record() + _record(id="T-2", extra="ignored", operation=None)
    assert copy_into(namespace, "ticket_records", list(COLUMNS), options, [data]) == 2
    _, rows = namespace.execute("SELECT id, creation_time, operation FROM tickets ORDER BY id")
    assert rows == [
        ("T-1", datetime(2026, 1, 5, 8), "create"),
        ("T-2", datetime(2026, 1, 5, 8), None),
    ]


def test_records_without_a_delimiter_are_read_one_after_the_other() -> None:
    assert [r["a"] for r in json_records(b'{"a":1}{"a":2} \n{"a":3}')] == [1, 2, 3]
    with pytest.raises(StatementError, match="Invalid JSON"):
        json_records(b'{"a":1}{"a":')


def test_truncatecolumns_cuts_at_a_character_and_without_it_the_load_fails(
    namespace: Namespace,
) -> None:
    long_id = "é" * 40  # 80 bytes into VARCHAR(64)
    strict = parse_copy_options("FORMAT AS JSON 'auto' TIMEFORMAT 'YYYY-MM-DD HH:MI:SS'")
    with pytest.raises(StatementError, match="exceeds DDL length"):
        copy_into(
            namespace, "ticket_records", list(COLUMNS), strict, [_record(), _record(id=long_id)]
        )
    assert namespace.execute("SELECT COUNT(*) FROM tickets")[1] == [(0,)]  # all or nothing
    lenient = parse_copy_options(COPY_OPTIONS)
    copy_into(namespace, "ticket_records", list(COLUMNS), lenient, [_record(id=long_id)])
    assert namespace.execute("SELECT id FROM tickets")[1] == [("é" * 32,)]


def test_a_bad_timestamp_fails_the_load(namespace: Namespace) -> None:
    options = parse_copy_options(COPY_OPTIONS)
    with pytest.raises(StatementError, match="Invalid timestamp"):
        copy_into(
            namespace, "ticket_records", list(COLUMNS), options, [_record(creation_time="soon")]
        )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("CSV", "not supported"),
        ("JSON 's3://bucket/jsonpaths.json'", "only JSON 'auto'"),
        ("TRUNCATECOLUMNS", "JSON records only"),
    ],
)
def test_unsupported_copy_options_fail_loudly(options: str, message: str) -> None:
    with pytest.raises(StatementError, match=message):
        parse_copy_options(options)


def test_copy_into_a_missing_table_or_column_fails(namespace: Namespace) -> None:
    options = parse_copy_options(COPY_OPTIONS)
    with pytest.raises(StatementError, match='relation "nope" does not exist'):
        copy_into(namespace, "nope", [], options, [_record()])
    with pytest.raises(StatementError, match='column "priority"'):
        copy_into(namespace, "ticket_records", ["id", "priority"], options, [_record()])


def test_a_record_firehose_delivered_twice_is_one_row_of_the_published_view(
    namespace: Namespace,
) -> None:
    """A PutRecord whose answer was lost is sent again: COPY loads it twice, `tickets` once."""
    options = parse_copy_options(COPY_OPTIONS)
    copy_into(namespace, TABLE, list(COLUMNS), options, [_record() + _record(id="T-2")])
    copy_into(namespace, TABLE, list(COLUMNS), options, [_record()])
    assert namespace.execute(f"SELECT COUNT(*) FROM {TABLE}")[1] == [(3,)]
    _, rows = namespace.execute(f"SELECT id, operation FROM {VIEW} ORDER BY id")
    assert rows == [("T-1", "create"), ("T-2", "create")]
