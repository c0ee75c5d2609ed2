"""The endpoint lifecycle policy: parsing, business hours, the keeper's decisions and the
adaptive idle timeout (pure functions, no AWS)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lambdas.shared.endpoint_policy import (
    ALWAYS_ON,
    CREATING,
    DELETING,
    FAILED,
    IN_SERVICE,
    MISSING,
    QUIET_SECONDS,
    SCALE_TO_ZERO,
    SCHEDULE,
    USE_RECORD_SECONDS,
    Action,
    EndpointPolicy,
    Memory,
    Observation,
    PolicyError,
    deadline_run,
    decide,
    idle_timeout,
    parse_days,
)

MONDAY_NOON = datetime(2024, 5, 6, 12, tzinfo=UTC).timestamp()
SATURDAY_NOON = datetime(2024, 5, 11, 12, tzinfo=UTC).timestamp()
MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
SCALE = EndpointPolicy.parse(SCALE_TO_ZERO, idle_minutes=15)


def test_days_accept_ranges_lists_and_names() -> None:
    assert parse_days("MON-FRI") == (0, 1, 2, 3, 4)
    assert parse_days("mon,wed, fri") == (0, 2, 4)
    assert parse_days(["SAT", "SUN"]) == (5, 6)
    assert parse_days("MON-TUE,THU") == (0, 1, 3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "sometimes"}, "endpointPolicy must be one of"),
        ({"idle_minutes": -1}, "idleMinutes must be between 0 and 1440"),
        ({"idle_minutes": 1441}, "idleMinutes must be between 0 and 1440"),
        ({"idle_minutes": "soon"}, "idleMinutes must be an integer"),
        ({"days": "FRI-MON"}, "runs backwards"),
        ({"days": "MONDAY"}, "is not a day"),
        ({"start_hour": 18, "end_hour": 8}, "must be after businessStartHour"),
        ({"time_zone": "Mars/Olympus"}, "is not an IANA time zone"),
    ],
)
def test_a_bad_setting_is_refused_by_name(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"mode": SCHEDULE, **kwargs}
    mode = str(arguments.pop("mode"))
    with pytest.raises(PolicyError, match=message):
        EndpointPolicy.parse(mode, **arguments)  # type: ignore[arg-type]


def test_a_policy_survives_its_json_form() -> None:
    policy = EndpointPolicy.parse(SCHEDULE, idle_minutes=20, days="MON,WED", start_hour=7,
                                  end_hour=19, time_zone="Europe/Paris")  # fmt: skip
    assert EndpointPolicy.from_json(policy.as_json()) == policy


def test_business_hours_follow_the_time_zone() -> None:
    paris = EndpointPolicy.parse(SCHEDULE, start_hour=9, end_hour=17, time_zone="Europe/Paris")
    utc_8 = datetime(2024, 5, 6, 8, tzinfo=UTC).timestamp()  # 10:00 in Paris (summer time)
    utc_16 = datetime(2024, 5, 6, 16, tzinfo=UTC).timestamp()  # 18:00 in Paris
    assert paris.hours.contains(utc_8)
    assert not paris.hours.contains(utc_16)
    assert not paris.hours.contains(SATURDAY_NOON)


def test_always_on_never_deletes_and_recreates_only_when_asked() -> None:
    policy = EndpointPolicy.parse(ALWAYS_ON)
    idle = Observation(IN_SERVICE, ready_at=MONDAY_NOON - 30 * DAY)
    assert decide(idle, policy, MONDAY_NOON).action is Action.KEEP
    assert decide(Observation(MISSING), policy, MONDAY_NOON).action is Action.KEEP
    asked = Observation(MISSING, wake_requested=MONDAY_NOON)
    assert decide(asked, policy, MONDAY_NOON).action is Action.CREATE


def test_scale_to_zero_deletes_after_the_idle_minutes_without_history() -> None:
    used = MONDAY_NOON - 14 * MINUTE
    serving = Observation(IN_SERVICE, ready_at=MONDAY_NOON - HOUR, last_used=used)
    assert decide(serving, SCALE, MONDAY_NOON).action is Action.KEEP
    later = decide(serving, SCALE, MONDAY_NOON + 2 * MINUTE)
    assert later.action is Action.DELETE and later.idle_timeout_seconds == 15 * MINUTE


def test_idle_time_counts_from_when_the_endpoint_began_serving() -> None:
    # Created for a caller long ago but serving only now: not idle yet.
    fresh = Observation(IN_SERVICE, ready_at=MONDAY_NOON - MINUTE, last_used=MONDAY_NOON - HOUR)
    assert decide(fresh, SCALE, MONDAY_NOON).action is Action.KEEP


def test_a_wanted_endpoint_is_created_and_waiting_work_keeps_it() -> None:
    asked = Observation(MISSING, wake_requested=MONDAY_NOON)
    assert decide(asked, SCALE, MONDAY_NOON).action is Action.CREATE
    queued = Observation(MISSING, waiting=3)
    assert decide(queued, SCALE, MONDAY_NOON).action is Action.CREATE
    assert decide(Observation(MISSING), SCALE, MONDAY_NOON).action is Action.KEEP
    busy = Observation(IN_SERVICE, ready_at=MONDAY_NOON - DAY, waiting=1)
    assert decide(busy, SCALE, MONDAY_NOON).action is Action.KEEP


@pytest.mark.parametrize("status", [CREATING, DELETING, "UPDATING"])
def test_an_endpoint_in_transition_is_left_alone(status: str) -> None:
    observation = Observation(status, last_used=MONDAY_NOON - DAY, wake_requested=MONDAY_NOON)
    assert decide(observation, SCALE, MONDAY_NOON).action is Action.KEEP


def test_a_failed_endpoint_is_deleted_so_it_can_be_recreated() -> None:
    assert decide(Observation(FAILED), SCALE, MONDAY_NOON).action is Action.DELETE


def test_schedule_serves_in_business_hours_and_scales_to_zero_outside() -> None:
    policy = EndpointPolicy.parse(SCHEDULE, idle_minutes=15, start_hour=8, end_hour=18)
    assert decide(Observation(MISSING), policy, MONDAY_NOON).action is Action.CREATE
    idle = Observation(IN_SERVICE, ready_at=MONDAY_NOON - 3 * HOUR)
    assert decide(idle, policy, MONDAY_NOON).action is Action.KEEP
    assert decide(Observation(MISSING), policy, SATURDAY_NOON).action is Action.KEEP
    weekend = Observation(IN_SERVICE, ready_at=SATURDAY_NOON - HOUR)
    assert decide(weekend, policy, SATURDAY_NOON).action is Action.DELETE


def test_long_pauses_shorten_the_idle_timeout_to_a_minute() -> None:
    daily = (DAY - 10 * MINUTE,) * 5
    assert idle_timeout(SCALE, daily, warm_up_seconds=600) == MINUTE


def test_pauses_shorter_than_a_warm_up_keep_the_endpoint_longer() -> None:
    # Pauses of 4 minutes: deleting after 1, 2 or 5 minutes would often be regretted.
    busy = (4 * MINUTE,) * 20 + (DAY,) * 2
    assert idle_timeout(SCALE, busy, warm_up_seconds=600) == 5 * MINUTE
    # Pauses spread up to the configured limit: the limit.
    spread = tuple(m * MINUTE for m in range(2, 30))
    assert idle_timeout(SCALE, spread, warm_up_seconds=600) == 15 * MINUTE


def test_memory_records_pauses_but_not_write_throttle_or_warm_up() -> None:
    start = MONDAY_NOON
    memory = Memory().observe(None, None, start)  # the keeper begins watching
    memory = memory.observe(start + 5 * HOUR, None, start + 5 * HOUR)
    assert memory.gaps == (5 * HOUR,)
    # One write a minute during steady use: no pause.
    memory = memory.observe(start + 5 * HOUR + 61, None, start + 5 * HOUR + 61)
    assert memory.gaps == (5 * HOUR,)
    # The endpoint was recreated for a caller who waited for the warm-up: the caller's retry
    # once it serves is no arrival of its own.
    woken_by = start + 5 * HOUR + 61
    ready = woken_by + 600
    memory = memory.observe(ready + 10, ready, ready + 30)
    assert memory.gaps == (5 * HOUR,)
    # The next arrival, ten minutes after the one that woke it: a pause of ten minutes (the
    # interval between arrivals), not the five since the endpoint began serving.
    memory = memory.observe(woken_by + 900, ready, woken_by + 930)
    assert memory.gaps == (5 * HOUR, 900.0)
    assert Memory.from_json(memory.as_json()) == memory


def test_a_steady_cadence_between_one_and_two_warm_ups_settles_on_deleting() -> None:
    """Every 10 minutes with a 5-minute warm-up: deleting after a minute and recreating on
    the next call (6 billed minutes a call) beats keeping it (10); measured from when the
    recreated endpoint began serving, each pause after a recreation looked 5 minutes long,
    too short to delete across, and the policy alternated."""
    memory, ready = Memory().observe(None, None, MONDAY_NOON), None
    for call in range(1, 40):
        arrival = MONDAY_NOON + call * 10 * MINUTE
        memory = memory.observe(arrival, ready, arrival)  # the call that wakes it
        ready = arrival + 5 * MINUTE
        memory = memory.observe(ready, ready, ready)  # its retry once it serves
    assert set(memory.gaps) == {10 * MINUTE}
    assert idle_timeout(SCALE, memory.gaps, warm_up_seconds=5 * MINUTE) == MINUTE


def test_callers_arriving_during_a_warm_up_are_no_arrivals() -> None:
    """A burst that wakes the endpoint: the calls that come while it is being created wait
    for it as the first did; the next pause is measured from the call that woke it."""
    woke = MONDAY_NOON
    before = woke - DAY
    memory = Memory(before, (), before - DAY, before).observe(woke, None, woke)
    assert memory.gaps == (DAY,)
    for minute in range(1, 5):  # the keeper's runs while the endpoint is CREATING
        memory = memory.observe(woke + minute * MINUTE, None, woke + minute * MINUTE, True)
    assert memory.last_arrival == woke and memory.gaps == (DAY,)
    memory = memory.observe(woke + DAY, None, woke + DAY)
    assert memory.gaps == (DAY, DAY)


# Pauses of a day: the idle timeout is its shortest, a minute.
DAILY = Memory(MONDAY_NOON - DAY, (DAY,) * 5, MONDAY_NOON - 10 * DAY, MONDAY_NOON - DAY)


def test_an_idle_endpoint_is_deleted_at_its_deadline_to_the_second() -> None:
    used = MONDAY_NOON
    serving = Observation(IN_SERVICE, ready_at=used - HOUR, last_used=used)
    kept = decide(serving, SCALE, used + 59.5, DAILY)
    assert kept.action is Action.KEEP and kept.deadline == used + MINUTE
    # The keeper sends itself a run at the deadline, rounded up to a whole second.
    assert deadline_run(kept, used + 59.5, pending=None) == 1
    assert decide(serving, SCALE, used + MINUTE, DAILY).action is Action.DELETE


COST_FIRST = EndpointPolicy.parse(SCALE_TO_ZERO, idle_minutes=0)


def test_cost_first_deletes_once_the_callers_are_quiet_whatever_their_history() -> None:
    used = MONDAY_NOON
    serving = Observation(IN_SERVICE, ready_at=used - HOUR, last_used=used)
    for memory in (Memory(), DAILY):  # no history, or long pauses: no adaptation either way
        kept = decide(serving, COST_FIRST, used + QUIET_SECONDS - 0.5, memory)
        assert kept.action is Action.KEEP and kept.deadline == used + QUIET_SECONDS
        assert deadline_run(kept, used + QUIET_SECONDS - 0.5, pending=None) == 1
        deleted = decide(serving, COST_FIRST, used + QUIET_SECONDS, memory)
        assert deleted.action is Action.DELETE
        assert deleted.idle_timeout_seconds == QUIET_SECONDS
    # Work waiting in the queue, or callers told to come back, keep it all the same.
    queued = Observation(IN_SERVICE, ready_at=used - HOUR, last_used=used - HOUR, waiting=2)
    assert decide(queued, COST_FIRST, used).action is Action.KEEP
    woken = Observation(IN_SERVICE, ready_at=used, last_used=used - 5, retry_due=used + 30)
    assert decide(woken, COST_FIRST, used + 30 + QUIET_SECONDS - 1).action is Action.KEEP
    assert decide(woken, COST_FIRST, used + 30 + QUIET_SECONDS).action is Action.DELETE
    assert EndpointPolicy.from_json(COST_FIRST.as_json()) == COST_FIRST


@pytest.mark.parametrize("cadence", [1.0, 3.0, 4.5, 5.0])
def test_cost_first_never_deletes_between_the_calls_of_a_caller_every_five_seconds(
    cadence: float,
) -> None:
    """The callers record their use at most once every `USE_RECORD_SECONDS`; the quiet that
    deletes must outlast that, or a busy caller's endpoint would go between two writes."""
    assert QUIET_SECONDS >= USE_RECORD_SECONDS + 5
    start = MONDAY_NOON
    recorded, calls = start, 0
    now = start
    while now < start + 10 * MINUTE:  # the keeper looks every half second; a call comes on cue
        if (now - start) % cadence == 0:
            calls += 1
            if now - recorded >= USE_RECORD_SECONDS:
                recorded = now
        serving = Observation(IN_SERVICE, ready_at=start - HOUR, last_used=recorded)
        assert decide(serving, COST_FIRST, now).action is Action.KEEP, now - start
        now += 0.5
    assert calls >= 10 * MINUTE / cadence
    gone = Observation(IN_SERVICE, ready_at=start - HOUR, last_used=recorded)
    assert decide(gone, COST_FIRST, recorded + QUIET_SECONDS).action is Action.DELETE


def test_a_deadline_run_is_scheduled_once_and_only_when_near() -> None:
    used = MONDAY_NOON
    serving = Observation(IN_SERVICE, ready_at=used - HOUR, last_used=used)
    now = used + 20
    kept = decide(serving, SCALE, now, DAILY)
    assert deadline_run(kept, now, pending=None) == 40
    assert deadline_run(kept, now, pending=used + MINUTE) is None  # already on its way
    assert deadline_run(kept, now, pending=now - 1) == 40  # that one came and went
    # A later use moved the deadline; the pending run decides afresh and schedules the next.
    assert deadline_run(kept, now, pending=used + 30) is None
    # Far off: the minute schedule's later runs schedule it.
    far = decide(serving, SCALE, now, Memory())  # no history: 15 minutes
    assert far.deadline == used + 15 * MINUTE and deadline_run(far, now, pending=None) is None
    deleting = decide(serving, SCALE, used + MINUTE, DAILY)
    assert deadline_run(deleting, used + MINUTE, pending=None) is None


def test_a_use_after_the_deadline_was_scheduled_keeps_the_endpoint() -> None:
    used = MONDAY_NOON
    later = Observation(IN_SERVICE, ready_at=used - HOUR, last_used=used + 50)
    at_old_deadline = decide(later, SCALE, used + MINUTE, DAILY)
    assert at_old_deadline.action is Action.KEEP
    assert at_old_deadline.deadline == used + 50 + MINUTE


def test_a_recreated_endpoint_is_kept_for_callers_told_to_come_back() -> None:
    ready = MONDAY_NOON
    due = ready + 25  # a caller came late in the warm-up and was told to come back later
    woken = Observation(IN_SERVICE, ready_at=ready, last_used=ready - 5, retry_due=due)
    assert decide(woken, SCALE, ready + 70, DAILY).action is Action.KEEP
    assert decide(woken, SCALE, due + MINUTE, DAILY).action is Action.DELETE


def test_the_keeper_looks_just_after_callers_are_due_back() -> None:
    due = MONDAY_NOON + 300
    creating = Observation(CREATING, last_used=MONDAY_NOON, retry_due=due)
    assert decide(creating, SCALE, MONDAY_NOON + 60, DAILY).run_at == due + 10
    ready = Observation(IN_SERVICE, ready_at=due - 5, last_used=due, retry_due=due)
    assert decide(ready, SCALE, due + 2, DAILY).run_at == due + 10
    assert decide(ready, SCALE, due + 20, DAILY).run_at == due + MINUTE  # then the deadline


def test_a_wanted_endpoint_still_being_deleted_is_looked_at_again_soon() -> None:
    asked = Observation(DELETING, wake_requested=MONDAY_NOON, retry_due=MONDAY_NOON + 600)
    decision = decide(asked, SCALE, MONDAY_NOON + 5, DAILY)
    assert decision.action is Action.KEEP and decision.run_at == MONDAY_NOON + 15
    unwanted = Observation(DELETING, last_used=MONDAY_NOON - HOUR)
    assert decide(unwanted, SCALE, MONDAY_NOON, DAILY).run_at is None


def test_retries_draining_after_the_callers_were_due_end_no_pause() -> None:
    """A burst woke the endpoint; its callers came back when due and drained through the
    endpoint's throughput for minutes: no pause of a warm-up is recorded, and the next pause
    is measured from the drain's end."""
    woke, warm_up = MONDAY_NOON, 600.0
    due = woke + warm_up
    memory = Memory(woke - DAY, (DAY,), woke - 2 * DAY, woke - DAY).observe(woke, None, woke)
    memory = memory.observe(woke + 200, None, woke + 240, warming=True)
    memory = memory.observe(due + 5, due, due + 10, retry_due=due)  # the keeper's look then
    assert memory.gaps == (DAY, DAY) and memory.last_arrival == woke
    for step in range(1, 3):  # the drain, seen by the minute schedule
        memory = memory.observe(due + 5 + 60 * step, due, due + 10 + 60 * step, retry_due=due)
    assert memory.gaps == (DAY, DAY)
    memory = memory.observe(woke + DAY, None, woke + DAY)
    assert memory.gaps == (DAY, DAY, DAY - warm_up - 125)


def test_a_caller_after_the_retries_is_an_arrival_the_next_pause_counts_from() -> None:
    """Business hours: a caller came 40 s after the retries; the endpoint was deleted a minute
    later and the next caller came five minutes after it. That pause is recorded (it is what
    a longer timeout would have kept the endpoint across), not one from the call that woke
    it, a warm-up longer."""
    woke, warm_up = MONDAY_NOON, 300.0
    due = woke + warm_up
    memory = Memory(woke - DAY, (DAY,), woke - 2 * DAY, woke - DAY).observe(woke, None, woke)
    memory = memory.observe(due + 2, due, due + 10, retry_due=due)
    memory = memory.observe(due + 40, due, due + 70, retry_due=due)
    assert memory.last_arrival == due + 40 and memory.gaps == (DAY, DAY)
    memory = memory.observe(due + 340, None, due + 340)
    assert memory.gaps == (DAY, DAY, 300.0)
