"""Shared machinery for exchange plugins of real venues (Kraken, Coinbase, ...).

:class:`PollingVenue` is an :class:`~bot.api.Exchange` that publishes its feeds' states once per
change and learns what happened to resting orders by polling: it keeps the orders it tracks,
runs one loop that wakes every :meth:`poll_interval_s` (``settings.fill_poll_s`` unless the venue
says otherwise, e.g. a slower reconciling pace while a private order stream is up) while any is
tracked, and publishes each new fill and then the order's state when that state changed.
:meth:`poll_soon` asks for a poll now (a private stream came back: read what it may have missed).
A subclass implements :meth:`poll_once` (read the tracked orders from the venue, call
:meth:`report_change` for each).

A venue with a private order stream (fills pushed as they happen) calls :meth:`stream_up` when its
subscription is acknowledged and :meth:`stream_down` when the connection is lost: while the stream
is up, polling slows to ``settings.stream_poll_s`` (it only reconciles); a loss is alerted and
polling returns to ``fill_poll_s``; a return is alerted and one poll runs at once, so nothing that
happened while the stream was down is missed. A stream lost again within :data:`STREAM_FLAP_WINDOW_S` of its return
flaps: alerted once, its next losses counted (logged), and its return alerted once it has held that long.

:class:`OrderMemory` is what such a venue remembers of its orders between reads, bounded: its client id
for each (the venue's id -> ours) and the fills read of each, for the newest orders only.
"""

from __future__ import annotations

import abc
import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from .api import Context, Exchange
from .domain import AlertLevel, FeedState, FeedStatus, Fill, OrderReport, OrderState
from .flapping import COUNTED, FLAP_WINDOW_S, FLAPPING, Flapping

log = logging.getLogger("arbot.venue")

STREAM_FLAP_WINDOW_S = FLAP_WINDOW_S
"""A private stream lost again within this long of its return flaps (see :meth:`PollingVenue.stream_down`)."""


class OrderMemory:
    """A venue's memory of its orders: the venue's client id of each (-> our client order id) and the fills read
    of each (by trade id), for the newest ``kept`` orders, so that a venue running for months does not keep every
    order it ever placed. An order ``held`` says is still open (tracked) is never forgotten: it goes to the back.
    An order forgotten is read from the venue again if it is ever asked for, as after a restart, and a fill read
    again is applied once all the same (the executor knows every fill by exchange and trade id).

    Orders are kept in the order they were last used (remembered, or a fill kept); call :meth:`forget_old` after
    an answer is made (its order is then the newest, never the one forgotten)."""

    def __init__(self, kept: int, held: Callable[[str], bool]) -> None:
        self.kept = kept
        self._held = held
        self.ids: dict[str, str] = {}
        """The venue's client id -> our client order id, the least recently used first."""
        self.fills: dict[str, Fill] = {}
        """Trade id -> its fill, for the orders in :attr:`trade_ids`."""
        self.trade_ids: dict[str, list[str]] = {}
        """Our client order id -> its trade ids in :attr:`fills`, the least recently used order first."""

    def remember(self, venue_id: str, client_order_id: str) -> None:
        """The venue knows our order ``client_order_id`` as ``venue_id`` (forgetting the oldest beyond ``kept``)."""
        self.ids.pop(venue_id, None)
        self.ids[venue_id] = client_order_id
        self.forget_old()

    def keep(self, fill: Fill) -> None:
        """A fill read from the venue (call :meth:`forget_old` once the answer it goes into is made)."""
        known = fill.trade_id in self.fills
        self.fills[fill.trade_id] = fill
        tids = self.trade_ids.pop(fill.client_order_id, [])
        if not known:
            tids.append(fill.trade_id)
        self.trade_ids[fill.client_order_id] = tids

    def forget_old(self) -> None:
        """Forget the least recently used orders beyond ``kept`` (their ids, their fills), never one held (met at
        the front, it goes to the back: each once at most)."""
        ids, trade_ids, held = self.ids, self.trade_ids, self._held
        moves = len(ids)
        while len(ids) > self.kept and moves > 0:
            venue_id, cid = next(iter(ids.items()))
            del ids[venue_id]
            if held(cid):
                ids[venue_id] = cid
                moves -= 1
        moves = len(trade_ids)
        while len(trade_ids) > self.kept and moves > 0:
            cid, tids = next(iter(trade_ids.items()))
            del trade_ids[cid]
            if held(cid):
                trade_ids[cid] = tids
                moves -= 1
            else:
                for tid in tids:
                    self.fills.pop(tid, None)


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
        self.streaming = False
        """The venue's private order stream is up (see :meth:`stream_up`)."""
        self._stream_lost = False
        self.stream_flap = Flapping(monotonic=ctx.clock.monotonic, spawn=ctx.create_task, held=self._stream_held,
                                    what="private stream", window_s=STREAM_FLAP_WINDOW_S)
        """The flap rule of the private order stream (its ``window_s``: :data:`STREAM_FLAP_WINDOW_S`)."""

    # --- feeds ------------------------------------------------------------------------------

    async def wait_live(self, symbols: list[str], timeout_s: float) -> None:
        """Wait up to ``timeout_s`` for every symbol's feed to be LIVE: strategies start after the venues
        and assume a live feed, so the first snapshots get a chance (a late one is not an error)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline and not all(self.states.get(sym) is FeedState.LIVE for sym in symbols):
            await asyncio.sleep(0.01)

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
        """Publish the fills ``state`` adds to ``last`` (what the caller read before), then ``state`` itself,
        if anything changed.

        A read older than what was published meanwhile (a private stream may have moved the order on
        while a poll waited for its answer) publishes nothing, so an order's state never goes back:
        the order is no longer tracked (its final state is out), or it is tracked as more filled.
        """
        current = self._tracked.get(client_order_id)
        if current is None and not last.status.terminal:
            return
        if current is not None and state.filled_qty < current[2].filled_qty:
            return
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
        """Time between two polls while orders are tracked: ``stream_poll_s`` while a private stream is up."""
        return float(self.settings.stream_poll_s if self.streaming else self.settings.fill_poll_s)

    @property
    def stream_flap_window_s(self) -> float:
        """A loss this soon after the stream's return was alerted is a flap; a flapping stream's return is alerted
        once it has held this long (:attr:`stream_flap`'s window)."""
        return self.stream_flap.window_s

    @stream_flap_window_s.setter
    def stream_flap_window_s(self, seconds: float) -> None:
        self.stream_flap.window_s = seconds

    def stream_up(self) -> None:
        """The private order stream is subscribed: poll only to reconcile; after a loss, poll now and alert the return
        (a flapping stream's once it has held for :attr:`stream_flap_window_s`)."""
        self.streaming = True
        if not self._stream_lost:
            return
        self._stream_lost = False
        self.poll_soon()
        if self.stream_flap.back():
            self.ctx.alert(AlertLevel.WARNING, "private-stream", f"{self.name}: private order stream is back; "
                           "reading what happened meanwhile", exchange=self.name)

    def stream_down(self, reason: str) -> None:
        """The private order stream is lost: poll every ``fill_poll_s`` until it is back; alert the loss, or (lost
        again soon after its return) that it flaps, once: later losses are counted until it holds again."""
        if not self.streaming:
            return
        self.streaming = False
        self._stream_lost = True
        self.poll_soon()
        polling = f"polling orders every {self.settings.fill_poll_s:g} s while it is down"
        flap = self.stream_flap
        loss = flap.lost()
        if loss == COUNTED:
            log.warning("%s: private order stream lost again (%s): %d losses since it began flapping", self.name,
                        reason, flap.losses)
        elif loss == FLAPPING:
            self.ctx.alert(AlertLevel.WARNING, "private-stream", f"{self.name}: private order stream flapping: lost "
                           f"again ({reason}) {flap.up_s:.0f} s after it came back; {polling}; its next losses "
                           f"are counted, not alerted, until it holds for {flap.window_s:g} s", exchange=self.name)
        else:
            self.ctx.alert(AlertLevel.WARNING, "private-stream", f"{self.name}: private order stream lost ({reason}); "
                           f"polling orders every {self.settings.fill_poll_s:g} s until it is back",
                           exchange=self.name)

    def _stream_held(self, losses: int, seconds: float) -> None:
        """A flapping stream has held for :attr:`stream_flap_window_s`: say so with its count."""
        self.ctx.alert(AlertLevel.WARNING, "private-stream", f"{self.name}: private order stream holds again: up for "
                       f"{self.stream_flap_window_s:g} s after {losses} losses in {seconds:.0f} s",
                       exchange=self.name, losses=losses)

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


class DeadManSwitch:
    """A venue's own dead-man switch (Kraken's ``CancelAllOrdersAfter``, Gate's ``countdown_cancel_all``):
    if the bot stops refreshing it (its machine or network died), the venue cancels the resting orders.

    :meth:`start` arms it (``arm(timeout_s)``) and re-arms it every ``refresh_s`` while the venue runs;
    :meth:`stop`, on a clean stop, disarms it (``arm(0)``), so orders kept with ``on_shutdown = "keep"``
    stay. A failure to arm is alerted once (kind ``dead-man``), and so is its recovery; the venue keeps
    running either way. Arming that fails again within :data:`~bot.flapping.FLAP_WINDOW_S` of its recovery flaps
    (:attr:`flap`): alerted once, its next failures counted (logged), and its recovery alerted once arming has held
    that long.
    """

    def __init__(self, venue: str, ctx: Context, arm: Callable[[int], Awaitable[object]], *, timeout_s: int,
                 refresh_s: float):
        self.venue = venue
        self.ctx = ctx
        self._arm_call = arm
        self.timeout_s = timeout_s
        self.refresh_s = refresh_s
        self.armed = False
        self._failing = False
        self._running = False
        self.flap = Flapping(monotonic=ctx.clock.monotonic, spawn=ctx.create_task, held=self._held,
                             what="dead-man switch")
        """The flap rule of arming (see :mod:`bot.flapping`)."""

    async def start(self) -> None:
        self._running = True
        await self.arm()
        self.ctx.create_task(self._refresh(), "dead-man switch")

    async def arm(self) -> None:
        try:
            await self._arm_call(self.timeout_s)
        except Exception as exc:
            if not self._failing:
                self._failing = True
                self._failed(exc)
            return
        self.armed = True
        if self._failing:
            self._failing = False
            if self.flap.back():
                self.ctx.alert(AlertLevel.WARNING, "dead-man", f"{self.venue}: the dead-man switch is armed again",
                               exchange=self.venue)

    def _failed(self, exc: Exception) -> None:
        unprotected = "resting orders are not protected if the bot dies"
        flap = self.flap
        loss = flap.lost()
        if loss == COUNTED:
            log.warning("%s: arming the dead-man switch failed again (%s): %d failures since it began flapping",
                        self.venue, exc, flap.losses)
        elif loss == FLAPPING:
            self.ctx.alert(AlertLevel.ERROR, "dead-man", f"{self.venue}: arming the dead-man switch flapping: failed "
                           f"again ({exc}) {flap.up_s:.0f} s after it was armed again; {unprotected} while it fails; "
                           f"its next failures are counted, not alerted, until arming holds for {flap.window_s:g} s",
                           exchange=self.venue)
        else:
            self.ctx.alert(AlertLevel.ERROR, "dead-man", f"{self.venue}: arming the dead-man switch failed: "
                           f"{exc}; {unprotected}", exchange=self.venue)

    def _held(self, failures: int, seconds: float) -> None:
        """Arming that flapped has held for the flap window: say so with its count."""
        self.ctx.alert(AlertLevel.WARNING, "dead-man", f"{self.venue}: arming the dead-man switch holds again: armed "
                       f"for {self.flap.window_s:g} s after {failures} failures in {seconds:.0f} s",
                       exchange=self.venue, failures=failures)

    async def _refresh(self) -> None:
        while self._running:
            await asyncio.sleep(self.refresh_s)
            if self._running:
                await self.arm()

    async def stop(self) -> None:
        self._running = False
        self.flap.close()
        if not self.armed:
            return
        try:
            await self._arm_call(0)
            self.armed = False
            self.ctx.log.info("%s: dead-man switch disarmed", self.venue)
        except Exception as exc:
            self.ctx.alert(AlertLevel.ERROR, "dead-man", f"{self.venue}: disarming the dead-man switch failed: {exc};"
                           f" the venue cancels the resting orders within {self.timeout_s} s", exchange=self.venue)
