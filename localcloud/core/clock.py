"""A compressible clock: virtual time that runs `speed` times faster than real time.

Everything on the local cloud that waits (Step Functions Wait states and retry intervals, SQS
visibility timeouts, local engines' job durations, schedules) reads and sleeps on this clock, so a
60-second Wait takes 60 ms at the default speed while every component still agrees on the time.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

DEFAULT_SPEED = 1000.0


class LocalClock:
    def __init__(self, speed: float = DEFAULT_SPEED, start: datetime | None = None) -> None:
        if speed <= 0:
            raise ValueError(f"clock speed must be positive, got {speed}")
        self.speed = speed
        self._real_start = time.monotonic()
        self._virtual_start = (start or datetime.now(UTC)).timestamp()
        self._offset = 0.0
        self._lock = threading.Lock()

    def time(self) -> float:
        """Virtual seconds since the epoch."""
        elapsed = time.monotonic() - self._real_start
        with self._lock:
            return self._virtual_start + elapsed * self.speed + self._offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)

    def sleep(self, seconds: float) -> None:
        """Block until `seconds` of virtual time have passed."""
        if seconds > 0:
            time.sleep(seconds / self.speed)

    def advance(self, seconds: float) -> None:
        """Jump virtual time forward at once (a test skipping a long idle period)."""
        if seconds < 0:
            raise ValueError("the clock never goes backwards")
        with self._lock:
            self._offset += seconds
