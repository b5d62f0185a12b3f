"""Time sources. Components read time only through a Clock so tests can control it."""

from __future__ import annotations

import time


class Clock:
    """Wall time in integer nanoseconds and a monotonic time in seconds."""

    simulated = False
    """True for a clock that moves only when told (the store writer then writes inline, not on a thread)."""

    time_ns = staticmethod(time.time_ns)
    """Wall time in integer nanoseconds: ``time.time_ns`` itself (read on every book change; no Python frame)."""

    monotonic = staticmethod(time.monotonic)


class ManualClock(Clock):
    """A clock that moves only when told to (tests, replays, backtests)."""

    simulated = True

    def __init__(self, start_ns: int = 1_700_000_000_000_000_000):
        self._ns = start_ns
        self._mono = 0.0

    def time_ns(self) -> int:
        return self._ns

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        self._ns += int(seconds * 1_000_000_000)
        self._mono += seconds
