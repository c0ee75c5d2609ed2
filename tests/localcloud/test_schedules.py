"""When EventBridge schedule expressions fire on the local cloud (`next_fire_time`, UTC)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from localcloud.core.delivery import next_fire_time

# 2024-05-06 is a Monday.


def _at(moment: str) -> float:
    return datetime.fromisoformat(moment).replace(tzinfo=UTC).timestamp()


def _next(expression: str, after: str) -> str:
    fired = next_fire_time(expression, _at(after))
    assert fired == int(fired), "schedules fire on whole seconds"
    return datetime.fromtimestamp(fired, UTC).strftime("%Y-%m-%dT%H:%M:%S")


# --- rate(...) -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("rate(5 minutes)", "2024-05-06T10:02:30", "2024-05-06T10:05:00"),
        ("rate(5 minutes)", "2024-05-06T10:04:59", "2024-05-06T10:05:00"),
        ("rate(5 minutes)", "2024-05-06T10:00:01", "2024-05-06T10:05:00"),
        ("rate(1 minute)", "2024-05-06T10:00:20", "2024-05-06T10:01:00"),
        ("rate(1 hour)", "2024-05-06T10:17:00", "2024-05-06T11:00:00"),
        ("rate(2 hours)", "2024-05-06T10:17:00", "2024-05-06T12:00:00"),
        ("rate(1 day)", "2024-05-06T10:17:00", "2024-05-07T00:00:00"),
        ("rate(3 days)", "2024-05-06T10:17:00", "2024-05-08T00:00:00"),
    ],
)
def test_a_rate_fires_on_the_next_period_boundary(
    expression: str, after: str, expected: str
) -> None:
    assert _next(expression, after) == expected


def test_a_rate_fires_once_per_period() -> None:
    first = next_fire_time("rate(5 minutes)", _at("2024-05-06T10:02:30"))
    second = next_fire_time("rate(5 minutes)", first + 1)
    third = next_fire_time("rate(5 minutes)", second + 1)
    assert (second - first, third - second) == (300, 300)


def test_surrounding_whitespace_is_ignored() -> None:
    assert _next("  rate(1 hour) ", "2024-05-06T10:17:00") == "2024-05-06T11:00:00"


def test_a_rate_fires_at_a_boundary_it_is_given() -> None:
    assert _next("rate(5 minutes)", "2024-05-06T10:05:00") == "2024-05-06T10:05:00"


# --- cron(...) -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        # a fixed time of day, at or after the given time
        ("cron(0 12 * * ? *)", "2024-05-06T10:17:00", "2024-05-06T12:00:00"),
        ("cron(0 12 * * ? *)", "2024-05-06T12:00:00", "2024-05-06T12:00:00"),
        ("cron(0 12 * * ? *)", "2024-05-06T12:00:30", "2024-05-07T12:00:00"),
        # minute and hour lists
        ("cron(15,45 8,17 * * ? *)", "2024-05-06T08:20:00", "2024-05-06T08:45:00"),
        ("cron(15,45 8,17 * * ? *)", "2024-05-06T08:50:00", "2024-05-06T17:15:00"),
        ("cron(15,45 8,17 * * ? *)", "2024-05-06T17:50:00", "2024-05-07T08:15:00"),
        # ranges
        ("cron(0 9-11 * * ? *)", "2024-05-06T09:00:01", "2024-05-06T10:00:00"),
        ("cron(0 9-11 * * ? *)", "2024-05-06T11:30:00", "2024-05-07T09:00:00"),
        ("cron(10-12 6 * * ? *)", "2024-05-06T06:11:00", "2024-05-06T06:11:00"),
        # steps
        ("cron(*/20 * * * ? *)", "2024-05-06T10:05:00", "2024-05-06T10:20:00"),
        ("cron(*/20 * * * ? *)", "2024-05-06T10:41:00", "2024-05-06T11:00:00"),
        ("cron(0 0-12/6 * * ? *)", "2024-05-06T06:30:00", "2024-05-06T12:00:00"),
        ("cron(0 0-12/6 * * ? *)", "2024-05-06T12:30:00", "2024-05-07T00:00:00"),
        # day of month and month
        ("cron(0 0 1 * ? *)", "2024-05-06T10:00:00", "2024-06-01T00:00:00"),
        ("cron(30 4 15 1,7 ? *)", "2024-05-06T10:00:00", "2024-07-15T04:30:00"),
    ],
)
def test_cron_fields(expression: str, after: str, expected: str) -> None:
    assert _next(expression, after) == expected


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        # 1 = Sunday ... 7 = Saturday
        ("cron(30 6 ? * 1 *)", "2024-05-06T00:00:00", "2024-05-12T06:30:00"),
        ("cron(0 0 ? * 7 *)", "2024-05-06T00:00:00", "2024-05-11T00:00:00"),
        ("cron(0 9 ? * 2 *)", "2024-05-06T08:00:00", "2024-05-06T09:00:00"),
        # weekdays, from a Friday after the time: the next Monday
        ("cron(0 9 ? * 2-6 *)", "2024-05-10T10:00:00", "2024-05-13T09:00:00"),
        ("cron(0 9 ? * 2-6 *)", "2024-05-08T08:00:00", "2024-05-08T09:00:00"),
        # weekend days
        ("cron(0 9 ? * 1,7 *)", "2024-05-06T00:00:00", "2024-05-11T09:00:00"),
    ],
)
def test_cron_day_of_week(expression: str, after: str, expected: str) -> None:
    assert _next(expression, after) == expected


def test_a_cron_time_within_a_minute_moves_to_the_next_matching_minute() -> None:
    assert _next("cron(* * * * ? *)", "2024-05-06T10:00:00") == "2024-05-06T10:00:00"
    assert _next("cron(* * * * ? *)", "2024-05-06T10:00:01") == "2024-05-06T10:01:00"


def test_a_cron_expression_that_never_fires_is_an_error() -> None:
    with pytest.raises(ValueError, match="never fires"):
        next_fire_time("cron(0 0 30 2 ? *)", _at("2024-05-06T00:00:00"))


def test_a_cron_step_from_a_start_value_repeats() -> None:
    assert _next("cron(5/15 * * * ? *)", "2024-05-06T10:06:00") == "2024-05-06T10:20:00"


def test_a_cron_year_in_the_past_never_fires() -> None:
    with pytest.raises(ValueError):
        next_fire_time("cron(0 0 1 1 ? 2023)", _at("2024-05-06T00:00:00"))


# --- unsupported expressions ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression",
    [
        "at(2024-05-06T10:00:00)",
        "rate(5 weeks)",
        "rate(five minutes)",
        "rate(5minutes)",
        "every 5 minutes",
        "cron(0 9 * *)",
        "",
    ],
)
def test_an_unsupported_expression_is_a_value_error(expression: str) -> None:
    with pytest.raises(ValueError):
        next_fire_time(expression, _at("2024-05-06T00:00:00"))


def test_a_zero_rate_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        next_fire_time("rate(0 minutes)", _at("2024-05-06T00:00:00"))
