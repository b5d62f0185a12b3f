"""The dead-man alerts: the event loop stalled, or market data stopped while strategies run.

A stall is measured the only way a stalled loop can be measured: afterwards. A task sleeps a
short interval and compares when it woke with when it asked to; a lateness above ``[alerts]
stall_after_s`` means something blocked the loop (a synchronous call, a CPU-bound callback) and
every feed, order and timer waited that long. Silence is read on the bot's clock (so tests
control it): no book update or trade from any exchange for ``[alerts] silent_after_s`` while at
least one strategy is running. Both alert once and then coalesce: further stalls inside
``[alerts] coalesce_s`` are summed into one follow-up alert; a silence alerts once per spell.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from .bus import Bus
from .clock import Clock
from .config import AlertSettings
from .domain import AlertLevel, BookUpdate, Trade
from .tasks import Tasks

log = logging.getLogger("arbot.watchdog")

KIND = "watchdog"


class Watchdog:
    """Started by the host after the strategies; stopped first on shutdown."""

    def __init__(self, settings: AlertSettings, *, clock: Clock, bus: Bus, tasks: Tasks,
                 alert: Callable[..., None], running_strategies: Callable[[], list[str]],
                 exchanges: Callable[[], list[str]]):
        """``alert(level, kind, message, **fields)``; ``running_strategies()``: those neither paused nor failed."""
        self.clock = clock
        self.bus = bus
        self.tasks = tasks
        self._alert = alert
        self._running_strategies = running_strategies
        self._exchanges = exchanges
        self.stall_after_s = settings.stall_after_s
        self.silent_after_s = settings.silent_after_s
        self.coalesce_s = settings.coalesce_s
        stall_tick = self.stall_after_s / 2 if self.stall_after_s else 0.25
        self.interval_s = max(0.005, min(0.25, stall_tick))
        """How often the task wakes: often enough to see a stall of ``stall_after_s``, cheap otherwise."""
        self._task: asyncio.Task[None] | None = None
        self._last_market = 0.0
        """Bot-clock monotonic time of the latest market event, or of when silence stopped mattering."""
        self._silent_alerted = False
        self._stall_window: tuple[float, int, float] | None = None
        """(window start, stalls counted after the first, longest of those) while stalls coalesce."""
        self.stalls = 0
        self.ticks = 0
        """Times the task woke and checked (tests wait on it)."""

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Subscribe to market events (when silence is watched: a backtest does not) and start the timer task
        (inside the running loop)."""
        self._last_market = self.clock.monotonic()
        if self.silent_after_s:  # the silence check is the only reader of the last market time
            for event_type in (BookUpdate, Trade):
                self.bus.subscribe(event_type, self.on_market, owner="watchdog")
        if self.stall_after_s or self.silent_after_s:
            self._task = self.tasks.create(self._run(), owner="host", what="watchdog")

    def stop(self) -> None:
        """Stop watching (a shutdown is slow and quiet by design; it is not a stall or a silence)."""
        self.bus.unsubscribe_owner("watchdog")
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.interval_s
            await asyncio.sleep(self.interval_s)
            self.ticks += 1
            self.check_stall(loop.time() - due)
            self.check_silence()

    # --- the checks -----------------------------------------------------------------------

    def on_market(self, event: BookUpdate | Trade) -> None:
        """Bus subscriber: market data is flowing."""
        self._last_market = self.clock.monotonic()
        if self._silent_alerted:
            self._silent_alerted = False
            self._alert(AlertLevel.INFO, KIND, "market data flowing again", exchange=event.exchange)

    def check_stall(self, lateness_s: float) -> bool:
        """The timer woke ``lateness_s`` late; alert if that is a stall. Returns True for a stall."""
        now = self.clock.monotonic()
        window = self._stall_window
        if window is not None and now - window[0] >= self.coalesce_s:
            self._stall_window = None
            if window[1]:
                self._alert(AlertLevel.WARNING, KIND,
                               f"event loop stalled {window[1]} more time(s) in {self.coalesce_s:g} s, "
                               f"longest {window[2]:.1f} s", repeats=window[1])
            window = None
        if not self.stall_after_s or lateness_s <= self.stall_after_s:
            return False
        self.stalls += 1
        log.warning("event loop stalled for %.3f s", lateness_s)
        if window is None:
            self._stall_window = (now, 0, 0.0)
            self._alert(AlertLevel.WARNING, KIND, f"event loop stalled for {lateness_s:.1f} s",
                           stall_s=f"{lateness_s:.3f}")
        else:
            self._stall_window = (window[0], window[1] + 1, max(window[2], lateness_s))
        return True

    def check_silence(self) -> bool:
        """Alert once when no market event came for ``silent_after_s`` while strategies run; True if silent."""
        now = self.clock.monotonic()
        running = self._running_strategies()
        if not running:
            self._last_market = now  # nothing is waiting for data: the silence clock starts when one runs
            return False
        silent_s = now - self._last_market
        if not self.silent_after_s or silent_s <= self.silent_after_s:
            return False
        if not self._silent_alerted:
            self._silent_alerted = True
            self._alert(AlertLevel.ERROR, KIND,
                           f"no market data from any exchange for {silent_s:.0f} s while strategies run",
                           strategies=", ".join(running), exchanges=", ".join(self._exchanges()) or "none")
        return True
