"""Simulated time for backtests: an asyncio loop whose clock is the bot's :class:`ManualClock`.

A backtest runs the bot's own code (venues, executor, strategies, timers) at full speed. Nothing
may wait for wall time, yet a venue's latency (``asyncio.sleep`` in the paper venues), a retry's
backoff or a strategy's timer must still take *simulated* time, and every ``ctx.clock.time_ns()``
must agree with it. So the loop reads its time from the clock, and whenever it would block waiting
for its next timer it moves the clock to that timer instead (the discrete-event way): sleeps cost
nothing, and the order of events is exactly the one a real run would have at those delays.

Real I/O still works (the selector is polled without waiting); only when no timer is scheduled
at all does the loop block for real (a worker thread's answer, say).
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Coroutine
from typing import Any, TypeVar

from ..clock import ManualClock

T = TypeVar("T")

NS_PER_S = 1_000_000_000


class BacktestClock(ManualClock):
    """A manual clock kept in integer nanoseconds (monotonic seconds derived from them), so many
    small advances never drift and the same run lands on the same nanoseconds every time."""

    def __init__(self, start_ns: int = 1_700_000_000_000_000_000):
        super().__init__(start_ns)
        self.start_ns = start_ns

    def time_ns(self) -> int:
        return self._ns

    def monotonic(self) -> float:
        return (self._ns - self.start_ns) / NS_PER_S

    def advance(self, seconds: float) -> None:
        """Move forward by ``seconds``, rounded to the nearest nanosecond."""
        self.advance_ns(round(seconds * NS_PER_S))

    def advance_ns(self, ns: int) -> None:
        """Move forward by ``ns`` nanoseconds."""
        self._ns += max(0, ns)

    def advance_to(self, ns: int) -> None:
        """Move forward to ``ns`` (wall-clock nanoseconds); a time already passed changes nothing."""
        if ns > self._ns:
            self._ns = ns


class _SimulatedTimeSelector(selectors.DefaultSelector):
    """Polls for I/O without waiting; a wait for the next timer becomes a clock advance.

    While the only file registered is the loop's own wake-up pipe (a backtest without sockets), it is not
    polled at every turn: a callback another thread hands the loop (``call_soon_threadsafe``) is queued
    before the pipe is written to, so the turn runs it anyway; the pipe is read when the loop blocks."""

    def __init__(self, clock: BacktestClock):
        super().__init__()
        self._clock = clock

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if len(self.get_map()) <= 1 and timeout is not None:  # nothing but the wake-up pipe: no system call
            if timeout > 0:
                self._clock.advance_ns(max(1, round(timeout * NS_PER_S)))
            return []
        ready = super().select(0)
        if ready or timeout is None or timeout <= 0:
            if not ready and timeout is None:  # nothing scheduled: only real I/O (a thread) can wake us
                return super().select(None)
            return ready
        # To the timer, to the nanosecond (float seconds round; the loop's clock resolution of 1 ns
        # absorbs that), and at least 1 ns so a timer a hair ahead is always reached.
        self._clock.advance_ns(max(1, round(timeout * NS_PER_S)))
        return []


class BacktestLoop(asyncio.SelectorEventLoop):
    """An event loop on simulated time: ``time()`` is the clock's, idle waits advance the clock."""

    def __init__(self, clock: BacktestClock):
        super().__init__(_SimulatedTimeSelector(clock))
        self._backtest_clock = clock

    def time(self) -> float:
        return self._backtest_clock.monotonic()

    def ready_now(self) -> bool:
        """True when callbacks are ready to run now (no wait: one turn of the loop runs them)."""
        return bool(self._ready)  # type: ignore[attr-defined]  # BaseEventLoop's own queue of ready callbacks

    def idle_until(self, ns: int) -> bool:
        """True when nothing would run before the clock reaches ``ns``: no callback ready, no timer due
        by then. The driver then moves the clock and steps the market itself, synchronously, without a
        turn of the loop (the discrete-event fast path: most market steps wake nobody but the bus)."""
        if self._ready:  # type: ignore[attr-defined]  # BaseEventLoop's own queue of ready callbacks
            return False
        scheduled = self._scheduled  # type: ignore[attr-defined]  # its heap of timers, earliest first
        if not scheduled:
            return True
        clock = self._backtest_clock
        return bool(scheduled[0].when() > (ns - clock.start_ns) / NS_PER_S)


def run_simulated(main: Coroutine[Any, Any, T], clock: BacktestClock) -> T:
    """Run ``main`` to completion in a new :class:`BacktestLoop` on ``clock`` (like ``asyncio.run``)."""
    with asyncio.Runner(loop_factory=lambda: BacktestLoop(clock)) as runner:
        return runner.run(main)
