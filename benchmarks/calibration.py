"""The machine's speed for pure Python, printed beside a benchmark's figures so that figures from different
machines (or a busy one) can be read together: the time of a fixed loop, ``sum(range(100))``, best of 5 rounds
of 1,000 (about 0.6-0.8 us on a current desktop CPU). Benchmarks run as scripts import it from their folder."""

from __future__ import annotations

import time

DESKTOP = "about 0.6-0.8 us on a current desktop CPU"


def calibration_us() -> float:
    """Microseconds of one ``sum(range(100))``, the best of 5 rounds of 1,000."""
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(1000):
            sum(range(100))
        best = min(best, (time.perf_counter() - t0) / 1000 * 1e6)
    return best


def calibration_line() -> str:
    return f"calibration: sum(range(100)) takes {calibration_us():.2f} us here ({DESKTOP})"
