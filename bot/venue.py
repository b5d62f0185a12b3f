"""Shared machinery for exchange plugins of real venues (Kraken, Coinbase, ...).

:class:`PollingVenue` is an :class:`~bot.api.Exchange` that publishes its feeds' states once per
change and learns what happened to resting orders by polling: it keeps the orders it tracks,
runs one loop that wakes every :meth:`poll_interval_s` (``settings.fill_poll_s`` unless the venue
says otherwise, e.g. a slower reconciling pace while a private order stream is up) while any is
tracked, and publishes each new fill and then the order's state when that state changed.
:meth:`poll_soon` asks for a poll now (a private stream came back: read what it may have missed).
A subclass implements :meth:`poll_once` (read the tracked orders from the venue, call
:meth:`report_change` for each).
"""

from __future__ import annotations

import abc
import asyncio
from typing import Any

from .api import Context, Exchange
from .domain import FeedState, FeedStatus, OrderReport, OrderState


class PollingVenue(Exchange):
    """Feed-state publishing and fill polling; ``settings`` must have ``fill_poll_s``."""

    def __init__(self, name: str, settings: Any, ctx: Context) -> None:
        super().__init__(name, settings, ctx)
        self.states: dict[str, FeedState] = {}
        """Feed state per symbol, as last published."""
        self._tracked: dict[str, tuple[str, str, OrderState]] = {}
        """client order id -> (symbol, venue order id, last state published)."""
        self._running = False
        self._poll_wakeup = asyncio.Event()
        self._poll_now = asyncio.Event()

    # --- feeds ------------------------------------------------------------------------------

    def publish_feed_state(self, symbol: str, state: FeedState, reason: str) -> None:
        """Publish a FeedStatus, once per change."""
        if self.states.get(symbol) is state:
            return
        self.states[symbol] = state
        self.ctx.log.info("%s %s feed %s: %s", self.name, symbol, state, reason)
        self.ctx.bus.publish(FeedStatus(self.name, symbol, state, self.ctx.clock.time_ns(), reason))

    # --- orders -----------------------------------------------------------------------------

    def track(self, client_order_id: str, symbol: str, venue_order_id: str, state: OrderState) -> None:
        """Watch a resting order until it is final."""
        self._tracked[client_order_id] = (symbol, venue_order_id, state)
        self._poll_wakeup.set()

    def report_change(self, client_order_id: str, symbol: str, venue_order_id: str, last: OrderState,
                      state: OrderState) -> None:
        """Publish the fills ``state`` adds to ``last``, then ``state`` itself, if anything changed."""
        old = {f.trade_id for f in last.fills}
        if (state.status is last.status and state.filled_qty == last.filled_qty
                and all(f.trade_id in old for f in state.fills)):
            return
        for fill in state.fills:
            if fill.trade_id not in old:
                self.ctx.bus.publish(fill)
        self.ctx.bus.publish(OrderReport(self.name, symbol, state, self.ctx.clock.time_ns()))
        if state.status.terminal:
            self._tracked.pop(client_order_id, None)
        else:
            self._tracked[client_order_id] = (symbol, venue_order_id, state)

    @abc.abstractmethod
    async def poll_once(self) -> None:
        """Read every tracked order once and :meth:`report_change` each (also called by tests)."""

    def poll_interval_s(self) -> float:
        """Time between two polls while orders are tracked: ``settings.fill_poll_s`` by default."""
        return float(self.settings.fill_poll_s)

    def poll_soon(self) -> None:
        """Poll the tracked orders now rather than at the end of the current interval."""
        self._poll_now.set()
        self._poll_wakeup.set()

    async def poll_fills(self) -> None:
        """Every :meth:`poll_interval_s` while orders are tracked: :meth:`poll_once`. Run as a task."""
        while self._running:
            if not self._tracked:
                self._poll_wakeup.clear()
                self._poll_now.clear()  # nothing to read
                try:
                    async with asyncio.timeout(self.settings.fill_poll_s):
                        await self._poll_wakeup.wait()
                except TimeoutError:
                    pass
                continue
            try:
                async with asyncio.timeout(self.poll_interval_s()):
                    await self._poll_now.wait()
            except TimeoutError:
                pass
            self._poll_now.clear()
            if not self._running or not self._tracked:
                continue
            try:
                await self.poll_once()
            except Exception as exc:  # a failed poll is retried next time; the executor reconciles too
                self.ctx.log.warning("%s fill poll failed: %s", self.name, exc)

    def stop_polling(self) -> None:
        self._running = False
        self.poll_soon()
