"""Time sources. Components read time only through a Clock so tests can control it."""

from __future__ import annotations

import argparse
import re
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


def parse_duration(text: str) -> float:
    """``"60s"``, ``"5m"``, ``"1h"``, ``"250ms"`` or plain seconds -> seconds: the command line's durations (``arbot
    run --for``, ``arbot record --for``), an argparse type."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f'expected a duration such as "60s", "5m" or "1h", got "{text}"')
    value, unit = float(match.group(1)), match.group(2) or "s"
    return value * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
