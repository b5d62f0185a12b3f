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
import heapq
import selectors
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from ..clock import ManualClock

T = TypeVar("T")

NS_PER_S = 1_000_000_000
_MAXIMUM_WAIT_S: float = asyncio.base_events.MAXIMUM_SELECT_TIMEOUT  # type: ignore[attr-defined]
"""The longest wait the loop asks of its selector (a day): a timer further away is reached in such steps."""


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

    def __init__(self, clock: BacktestClock, reach_next_timer: Callable[[float], None]):
        super().__init__()
        self._clock = clock
        self._reach_next_timer = reach_next_timer
        """Moves the clock to the loop's next timer, given the loop's timeout (:meth:`BacktestLoop._reach`)."""
        self._polled = False
        """Some file besides the loop's wake-up pipe is registered: poll at every turn."""
        self.before_wait: Callable[[], bool] | None = None
        """Called when the loop has nothing ready (no I/O either) and would wait for its next timer or for I/O:
        True when it moved the clock itself (:meth:`BacktestLoop.wake_until`)."""

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        key = super().register(fileobj, events, data)
        self._polled = len(self.get_map()) > 1
        return key

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        key = super().unregister(fileobj)
        self._polled = len(self.get_map()) > 1
        return key

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if self._polled:
            ready = super().select(0)
            if ready or (timeout is not None and timeout <= 0):  # I/O first, at the time it is
                return ready
        elif timeout is not None and timeout <= 0:  # callbacks ready now: a turn without waiting
            return []
        if self.before_wait is not None and self.before_wait():
            return []
        if timeout is None:  # nothing scheduled: only real I/O (a thread) can wake us
            return super().select(None)
        self._reach_next_timer(timeout)
        return []


class BacktestLoop(asyncio.SelectorEventLoop):
    """An event loop on simulated time: ``time()`` is the clock's, idle waits advance the clock."""

    def __init__(self, clock: BacktestClock):
        selector = _SimulatedTimeSelector(clock, self._reach)
        super().__init__(selector)
        self._backtest_clock = clock
        self._wake: tuple[int, asyncio.Future[None]] | None = None
        selector.before_wait = self._before_wait
        self._head: asyncio.TimerHandle | None = None
        """The timer at the head of the heap when :meth:`idle_until` last looked, and the nanosecond it is due on
        (``_ns_of(head.when())``): a timer's time never changes, so it is computed once per head, not per step."""
        self._head_ns = 0

    def time(self) -> float:
        clock = self._backtest_clock
        return (clock._ns - clock.start_ns) / NS_PER_S  # clock.monotonic(), one call less: the loop asks often

    def _ns_of(self, when: float) -> int:
        """The nanosecond a timer due at ``when`` (the loop's float seconds) lands on. It depends on ``when``
        alone: the clock reaches a timer on the same nanosecond whatever stops it made on the way (another
        timer, a cancelled one, the driver's wait), so a backtest's times and decisions do not depend on which
        unrelated timers were pending."""
        return self._backtest_clock.start_ns + round(when * NS_PER_S)

    def _reach(self, timeout: float) -> None:
        """The loop would wait ``timeout`` seconds for its next timer (the head of its heap, which it has just
        cleared of cancelled ones): move the clock to that timer's own nanosecond; a timer more than the
        longest wait away is approached by steps of it, as the loop waits for it."""
        if timeout >= _MAXIMUM_WAIT_S:
            self._backtest_clock.advance_ns(round(_MAXIMUM_WAIT_S * NS_PER_S))
            return
        scheduled: list[asyncio.TimerHandle] = self._scheduled  # type: ignore[attr-defined]
        # Within 0.5 ns of the timer's float seconds, so its turn runs it (the loop runs what is due within its
        # clock resolution of 1 ns); a timer already due by then leaves the clock where it is.
        self._backtest_clock.advance_to(self._ns_of(scheduled[0].when()))

    def ready_now(self) -> bool:
        """True when callbacks are ready to run now (no wait: one turn of the loop runs them)."""
        return bool(self._ready)  # type: ignore[attr-defined]  # BaseEventLoop's own queue of ready callbacks

    def wake_until(self, ns: int) -> asyncio.Future[None]:
        """A future done when the clock stands at ``ns`` (wall-clock nanoseconds) with nothing left to run by then:
        the driver's wait before a step, without a timer of its own. Every timer due by ``ns`` (on its own
        nanosecond, ``ns`` itself included) runs first, and so does every callback they make ready; then the clock
        moves to ``ns`` and the future is done in that turn (the loop looks for it only when it would otherwise
        wait). One at a time: a new one replaces the last."""
        future = self.create_future()
        self._wake = (ns, future)
        return future

    def _before_wait(self) -> bool:
        """The loop has nothing ready and would wait for its next timer (or for I/O): when no timer is due by
        :meth:`wake_until`'s nanosecond, move the clock there and wake the driver now (True)."""
        wake = self._wake
        if wake is None:
            return False
        ns, future = wake
        if future.done():  # cancelled: the driver is gone
            self._wake = None
            return False
        clock = self._backtest_clock
        scheduled = self._scheduled  # type: ignore[attr-defined]  # its heap of timers, earliest first
        if scheduled and self._ns_of(scheduled[0].when()) <= ns:
            return False  # a timer due by then: the loop moves the clock to that one first
        if ns - clock._ns > _MAXIMUM_WAIT_S * NS_PER_S:  # as the loop waits for a timer that far: by the longest wait
            clock.advance_ns(round(_MAXIMUM_WAIT_S * NS_PER_S))
            return True
        clock.advance_to(ns)
        self._wake = None
        future.set_result(None)
        return True

    def idle_until(self, ns: int) -> bool:
        """True when nothing would run before the clock reaches ``ns``: no callback ready, no timer due
        by then. The driver then moves the clock and steps the market itself, synchronously, without a
        turn of the loop (the discrete-event fast path: most market steps wake nobody but the bus)."""
        base: Any = self  # BaseEventLoop's own queue of ready callbacks and heap of timers, earliest first
        if base._ready:
            return False
        scheduled = base._scheduled
        while scheduled and scheduled[0]._cancelled:  # as the loop's next turn would: a dead timer runs nothing
            dead = heapq.heappop(scheduled)
            dead._scheduled = False
            base._timer_cancelled_count -= 1
        if not scheduled:
            return True
        head = scheduled[0]
        if head is not self._head:  # _ns_of(head.when()), once per head: the driver asks at every market step
            self._head = head
            self._head_ns = self._backtest_clock.start_ns + round(head._when * NS_PER_S)
        return self._head_ns > ns

    def step_to(self, ns: int) -> bool:
        """:meth:`idle_until` and, when nothing would run before ``ns``, the clock moved to ``ns`` (a time already
        passed changes nothing): the driver's fast path before a market step, in one call. The common case (nothing
        ready, no timer, or the same head timer as last time, not due by then) is answered here without a call."""
        base: Any = self
        if base._ready:
            return False
        scheduled = base._scheduled
        # the cached head, even if cancelled since, is due after ns: so is every timer behind it (idle_until would
        # pop it first and find the same answer; the loop's next turn pops it anyway)
        if scheduled and not (scheduled[0] is self._head and self._head_ns > ns) and not self.idle_until(ns):
            return False
        clock = self._backtest_clock
        if ns > clock._ns:
            clock._ns = ns
        return True


def run_simulated(main: Coroutine[Any, Any, T], clock: BacktestClock) -> T:
    """Run ``main`` to completion in a new :class:`BacktestLoop` on ``clock`` (like ``asyncio.run``)."""
    with asyncio.Runner(loop_factory=lambda: BacktestLoop(clock)) as runner:
        return runner.run(main)
