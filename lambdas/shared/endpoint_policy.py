"""When an endpoint that bills while it exists should exist: the endpoint lifecycle policy.

Comprehend custom endpoints bill per inference-unit second from creation to deletion, whether
or not anyone calls them. A keeper (`lambdas/endpoint_keeper`) runs every minute, on every
wake-up request and at the moment an endpoint's idle timeout runs out (`deadline_run`),
observes the endpoint and its callers' last use, and applies `decide`:

* `always-on`: never deleted; recreated only when a caller asks for it (it was deleted by
  hand, say).
* `scale-to-zero`: deleted once idle for the idle timeout; recreated when a caller asks for it
  or work waits in a queue for it.
* `schedule`: kept (or created) during business hours; outside them, `scale-to-zero`.

The idle timeout adapts to the callers (`idle_timeout`): it is the shortest candidate that,
judged by the recent pauses between uses, rarely deletes an endpoint that a caller wants again
within a warm-up time (when keeping it would have been cheaper than recreating it); with no
history it is the configured `idleMinutes`, which is also its upper bound. `idleMinutes` 0 puts
cost first: the endpoint is deleted as soon as its callers have been quiet for `QUIET_SECONDS`,
so it bills little more than its warm-ups and the calls it serves, and nearly every request
after a pause waits for a warm-up.

Pure functions of (observation, policy, clock): the keeper, the tests and the simulation
benchmark (`benchmarks/endpoint_lifecycle_cost.py`) use the same code.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ALWAYS_ON: Final = "always-on"
SCALE_TO_ZERO: Final = "scale-to-zero"
SCHEDULE: Final = "schedule"
MODES: Final = (ALWAYS_ON, SCALE_TO_ZERO, SCHEDULE)
DAY_NAMES: Final = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")

# Endpoint statuses, as the keeper reports them whatever the service spells.
MISSING: Final = "MISSING"
CREATING: Final = "CREATING"
IN_SERVICE: Final = "IN_SERVICE"
UPDATING: Final = "UPDATING"
DELETING: Final = "DELETING"
FAILED: Final = "FAILED"

# Callers record their use at most this often (per execution environment): the recorded last
# use is at most this much older than the real one.
USE_RECORD_SECONDS: Final = 10.0
# `idleMinutes` 0: the endpoint is deleted once no use has been recorded for this long. It must
# outlast the callers' write throttle (`USE_RECORD_SECONDS`): a recorded quiet of 15 s is at
# least 5 s without a call, so a caller that calls at least every 5 s keeps its endpoint.
QUIET_SECONDS: Final = USE_RECORD_SECONDS + 5.0
# The keeper's schedule, rate(1 minute): it samples the last use this often.
KEEPER_TICK_SECONDS: Final = 60.0
# Pauses shorter than this are not measured: under steady use the last use the keeper samples
# each minute moves by a tick, give or take the callers' write throttle.
MIN_GAP_SECONDS: Final = KEEPER_TICK_SECONDS + 2 * USE_RECORD_SECONDS
MAX_GAPS: Final = 50
CANDIDATE_MINUTES: Final = (1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 240, 480, 720, 1440)
# A deadline this close is run by a delayed message of the keeper's own (its schedule might
# come up to a minute late); a later one by a later run.
DEADLINE_HORIZON_SECONDS: Final = KEEPER_TICK_SECONDS + 30.0
MAX_DELAY_SECONDS: Final = 900  # SQS DelaySeconds
# How often the keeper looks at an endpoint that a caller wants while it is being deleted.
DELETING_POLL_SECONDS: Final = 10.0
# A candidate timeout is kept when at most this share of the pauses that outlast it end
# within a warm-up after it (a deletion that a quick recreation would regret).
REGRET_SHARE: Final = 0.2


class PolicyError(ValueError):
    """A lifecycle policy setting is invalid."""


@dataclass(frozen=True)
class BusinessHours:
    days: tuple[int, ...] = (0, 1, 2, 3, 4)  # 0 is Monday
    start_hour: int = 8
    end_hour: int = 18
    time_zone: str = "UTC"

    def contains(self, epoch: float) -> bool:
        local = datetime.fromtimestamp(epoch, ZoneInfo(self.time_zone))
        return local.weekday() in self.days and self.start_hour <= local.hour < self.end_hour


@dataclass(frozen=True)
class EndpointPolicy:
    mode: str = ALWAYS_ON
    idle_minutes: int = 15
    hours: BusinessHours = field(default_factory=BusinessHours)

    @classmethod
    def parse(
        cls,
        mode: str,
        *,
        idle_minutes: Any = 15,
        days: Any = "MON-FRI",
        start_hour: Any = 8,
        end_hour: Any = 18,
        time_zone: Any = "UTC",
    ) -> EndpointPolicy:
        """A validated policy; every bad value is a `PolicyError` naming it."""
        if mode not in MODES:
            raise PolicyError(f"endpointPolicy must be one of {', '.join(MODES)}, got {mode!r}")
        idle = _integer("idleMinutes", idle_minutes, 0, 1440)
        start = _integer("businessStartHour", start_hour, 0, 23)
        end = _integer("businessEndHour", end_hour, 1, 24)
        if end <= start:
            raise PolicyError(f"businessEndHour ({end}) must be after businessStartHour ({start})")
        zone = str(time_zone)
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise PolicyError(f"businessTimeZone {zone!r} is not an IANA time zone") from None
        return cls(mode, idle, BusinessHours(parse_days(days), start, end, zone))

    def as_json(self) -> str:
        return json.dumps(
            {
                "mode": self.mode,
                "idleMinutes": self.idle_minutes,
                "days": [DAY_NAMES[d] for d in self.hours.days],
                "startHour": self.hours.start_hour,
                "endHour": self.hours.end_hour,
                "timeZone": self.hours.time_zone,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> EndpointPolicy:
        try:
            value = json.loads(text)
        except ValueError:
            raise PolicyError(f"the endpoint policy is not JSON: {text!r}") from None
        if not isinstance(value, dict):
            raise PolicyError("the endpoint policy must be a JSON object")
        return cls.parse(
            str(value.get("mode")),
            idle_minutes=value.get("idleMinutes", 15),
            days=value.get("days", "MON-FRI"),
            start_hour=value.get("startHour", 8),
            end_hour=value.get("endHour", 18),
            time_zone=value.get("timeZone", "UTC"),
        )

    @property
    def scales_down(self) -> bool:
        return self.mode != ALWAYS_ON

    @property
    def cost_first(self) -> bool:
        """`idleMinutes` 0: deleted `QUIET_SECONDS` after the last use, whatever the pauses."""
        return self.idle_minutes == 0


def _integer(name: str, value: Any, minimum: int, maximum: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise PolicyError(f"{name} must be an integer, got {value!r}") from None
    if not minimum <= number <= maximum:
        raise PolicyError(f"{name} must be between {minimum} and {maximum}, got {number}")
    return number


def parse_days(value: Any) -> tuple[int, ...]:
    """`MON-FRI`, `MON,WED,FRI`, `SAT-SUN` or a list of day names: weekday numbers (Monday 0)."""
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    days: set[int] = set()
    for item in (str(i).strip().upper() for i in items):
        first, _, last = item.partition("-")
        if first not in DAY_NAMES or (last and last not in DAY_NAMES):
            raise PolicyError(
                f"businessDays: {item!r} is not a day ({', '.join(DAY_NAMES)}) or a range of days"
            )
        start, end = DAY_NAMES.index(first), DAY_NAMES.index(last or first)
        if end < start:
            raise PolicyError(f"businessDays: the range {item!r} runs backwards")
        days.update(range(start, end + 1))
    if not days:
        raise PolicyError("businessDays names no day")
    return tuple(sorted(days))


# --- what the keeper observes and remembers ---------------------------------------------------


@dataclass(frozen=True)
class Memory:
    """What the keeper keeps between runs: the last use it saw, the last arrival (a use that
    was not a retry), and the recent pauses between arrivals (the first measured from when the
    keeper began watching)."""

    last_seen_use: float | None = None
    gaps: tuple[float, ...] = ()
    watching_since: float | None = None
    last_arrival: float | None = None

    def observe(
        self,
        last_used: float | None,
        ready_at: float | None,
        now: float,
        warming: bool = False,
        retry_due: float | None = None,
    ) -> Memory:
        """Record the pause that ended with a newer use, measured from the arrival before it:
        the interval between two arrivals, which is what keeping the endpoint across it
        costs whether or not it was deleted in between. A use during a recreated endpoint's
        warm-up, or after it until the callers told to come back were due (`retry_due`, or
        its becoming ready if later, within the callers' write throttle; the keeper runs
        then, see `Decision.run_at`), is callers who waited for it (their retries), not an
        arrival: measured from it, a steady cadence would look a warm-up shorter after each
        recreation. A use that follows the last one seen by less than `MIN_GAP_SECONDS` ends
        no pause (steady use, or retries still draining through the endpoint's throughput):
        it is an arrival, and the next pause is measured from it. `warming`: the endpoint is
        being created."""
        since = self.watching_since if self.watching_since is not None else now
        if last_used is None or (
            self.last_seen_use is not None and last_used <= self.last_seen_use
        ):
            return replace(self, watching_since=since)
        arrival = self.last_arrival
        back_by = max(t for t in (ready_at, retry_due, 0.0) if t is not None) + USE_RECORD_SECONDS
        if (arrival is not None and warming) or (
            ready_at is not None
            and arrival is not None
            and arrival < ready_at
            and last_used <= back_by
        ):  # callers who wait or waited for the warm-up: seen, and no arrival
            return replace(self, last_seen_use=last_used, watching_since=since)
        start = max(t for t in (arrival, since) if t is not None)
        paused = self.last_seen_use is None or last_used - self.last_seen_use >= MIN_GAP_SECONDS
        gaps = self.gaps
        if paused and last_used - start >= MIN_GAP_SECONDS:
            gaps = (*gaps, last_used - start)[-MAX_GAPS:]
        return Memory(last_used, gaps, since, last_used)

    def as_json(self) -> str:
        return json.dumps(
            {"lastSeenUse": self.last_seen_use, "gaps": [round(g) for g in self.gaps],
             "watchingSince": self.watching_since, "lastArrival": self.last_arrival},
            separators=(",", ":"),
        )  # fmt: skip

    @classmethod
    def from_json(cls, text: str | None) -> Memory:
        if not text:
            return cls()
        value = json.loads(text)
        return cls(
            value.get("lastSeenUse"),
            tuple(float(g) for g in value.get("gaps", ())),
            value.get("watchingSince"),
            value.get("lastArrival", value.get("lastSeenUse")),  # a keeper's earlier memory
        )


@dataclass(frozen=True)
class Observation:
    status: str  # one of MISSING, CREATING, IN_SERVICE, UPDATING, DELETING, FAILED
    ready_at: float | None = None  # when the endpoint last became IN_SERVICE
    last_used: float | None = None  # the callers' latest use (any request, served or not)
    wake_requested: float | None = None  # a caller's pending request for the endpoint
    waiting: int = 0  # work queued until the endpoint serves (tickets)
    retry_due: float | None = None  # the latest time a caller was told to come back


class Action(StrEnum):
    KEEP = "keep"
    CREATE = "create"
    DELETE = "delete"


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str
    idle_timeout_seconds: float | None = None
    # When the endpoint is to be deleted if nobody uses it meanwhile (a kept, idle one).
    deadline: float | None = None
    # When the keeper should run next: just after the callers told to come back are due (to
    # tell their retries from new arrivals), else at the deadline.
    run_at: float | None = None


def idle_timeout(policy: EndpointPolicy, gaps: tuple[float, ...], warm_up_seconds: float) -> float:
    """Seconds of idleness after which the endpoint is deleted (see the module docstring)."""
    if policy.cost_first:
        return QUIET_SECONDS
    limit = policy.idle_minutes * 60.0
    if not gaps:
        return limit
    for minutes in CANDIDATE_MINUTES:
        timeout = minutes * 60.0
        if timeout >= limit:
            break
        # Pauses near the timeout (within the callers' write throttle: the measurement's
        # resolution) up to a warm-up beyond it would be deleted and then wanted again soon.
        regretted = sum(
            1 for g in gaps if timeout - USE_RECORD_SECONDS < g < timeout + warm_up_seconds
        )
        outlasting = sum(1 for g in gaps if g >= timeout + warm_up_seconds)
        if regretted <= REGRET_SHARE * (regretted + outlasting):
            return timeout
    return limit


def decide(
    observation: Observation,
    policy: EndpointPolicy,
    now: float,
    memory: Memory = Memory(),
    warm_up_seconds: float = 600.0,
) -> Decision:
    """What the keeper does now to the endpoint."""
    o = observation
    wanted = o.wake_requested is not None or o.waiting > 0
    in_hours = policy.mode == SCHEDULE and policy.hours.contains(now)
    if o.status == MISSING:
        if in_hours:
            return Decision(Action.CREATE, "business hours")
        if wanted:
            reason = "a caller asked for it" if o.wake_requested is not None else "work waits"
            return Decision(Action.CREATE, reason)
        return Decision(Action.KEEP, "no endpoint and nothing wants one")
    if o.status == FAILED:
        return Decision(Action.DELETE, "the endpoint failed; a new one is created on demand")
    # The callers told to come back are due by then; a run just after sees their retries.
    retries_seen = None if o.retry_due is None else o.retry_due + USE_RECORD_SECONDS
    retries_seen = retries_seen if retries_seen is not None and retries_seen > now else None
    if o.status != IN_SERVICE:
        # Wanted while still being deleted: look again soon, to create it once it is gone.
        poll = now + DELETING_POLL_SECONDS if o.status == DELETING and wanted else None
        upcoming = [t for t in (retries_seen, poll) if t is not None]
        return Decision(
            Action.KEEP, f"the endpoint is {o.status}", run_at=min(upcoming, default=None)
        )
    if not policy.scales_down:
        return Decision(Action.KEEP, "always-on")
    if in_hours:
        return Decision(Action.KEEP, "business hours")
    if o.waiting > 0:
        return Decision(Action.KEEP, f"{o.waiting} item(s) wait for the endpoint")
    timeout = idle_timeout(policy, memory.gaps, warm_up_seconds)
    # Idle since the latest of: serving began, a caller used it, a caller asked for it, a
    # caller told to come back is due (the grace that keeps a recreated endpoint for the
    # callers who woke it).
    since = max(
        t for t in (o.ready_at, o.last_used, o.wake_requested, o.retry_due, 0.0) if t is not None
    )
    idle = now - since
    if idle >= timeout:
        return Decision(Action.DELETE, f"idle for {idle:.0f} s", timeout)
    deadline = since + timeout
    return Decision(
        Action.KEEP,
        f"idle for {max(idle, 0.0):.0f} s of {timeout:.0f} s",
        timeout,
        deadline,
        min(t for t in (retries_seen, deadline) if t is not None),
    )


def deadline_run(decision: Decision, now: float, pending: float | None) -> int | None:
    """The delay (whole seconds, rounded up) of a keeper run at the decision's `run_at` (its
    idle deadline, or just after callers are due back), if one is to be scheduled now: it is
    near (`DEADLINE_HORIZON_SECONDS`; a later one is scheduled by a later run) and no run is
    pending (`pending`: when an earlier scheduled run comes, if it has not come yet) at or
    before it. That run decides afresh, so a use meanwhile keeps the endpoint."""
    deadline = decision.run_at
    if decision.action is not Action.KEEP or deadline is None:
        return None
    if deadline - now > DEADLINE_HORIZON_SECONDS:
        return None
    if pending is not None and now < pending <= deadline:
        return None
    return min(MAX_DELAY_SECONDS, max(0, math.ceil(deadline - now)))
