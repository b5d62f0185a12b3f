"""The executor every strategy shares: risk gate, idempotency, persist-before-send, rate limit, retry.

Guarantees:

* An order row (keyed by its unique client order id) is committed *before* the request leaves.
  After a crash, :meth:`Executor.recover` asks the venue about every order not known to be final
  and adopts what it finds; an order the venue never saw is marked FAILED. Nothing is re-sent.
* Only errors that prove the request did not execute (:class:`TransientError`) are retried
  blind. A timeout or a lost connection (:class:`UnknownOutcome`, or anything unexpected) is
  resolved by looking the order up by client order id before anything is sent again.
* Requests to one venue pass through one token bucket; a venue's "rate limited" answer
  blocks the bucket for the time it asked.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from .api import (
    Exchange,
    PermanentError,
    RateLimited,
    TransientError,
)
from .config import ExecutorSettings
from .domain import (
    AlertLevel,
    Fill,
    Order,
    OrderIntent,
    OrderReport,
    OrderState,
    OrderStatus,
    OrderUpdate,
    Side,
)
from .ratelimit import TokenBucket, backoff_delay

if TYPE_CHECKING:
    from .app import Bot

log = logging.getLogger("arbot.executor")

MAX_BATCH = 20


@dataclass
class _Job:
    order: Order
    attempt: int = 0


class _Lane:
    """Send queue and token bucket of one exchange."""

    def __init__(self, exchange: Exchange, bucket: TokenBucket):
        self.exchange = exchange
        self.bucket = bucket
        self.queue: asyncio.Queue[_Job] = asyncio.Queue()


class Executor:
    def __init__(self, bot: Bot, settings: ExecutorSettings):
        self.bot = bot
        self.settings = settings
        self._active: dict[str, Order] = {}
        """Orders not known to be final, by client order id."""
        self._seen_trades: set[tuple[str, str]] = set()
        self._lanes: dict[str, _Lane] = {}
        self._dirty: dict[str, Order] = {}
        self._new_fills: list[tuple[str, Fill]] = []
        self._flush_wakeup = asyncio.Event()
        self._in_flight = 0
        """Orders queued or being sent (retries included)."""
        self._idle = asyncio.Event()
        self._idle.set()
        self.closing = False
        self.on_order_update: Callable[[str, OrderUpdate], None] = lambda strategy, update: None
        self.on_fill: Callable[[str, Fill], None] = lambda strategy, fill: None

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        for name, exchange in self.bot.exchanges.items():
            # on the loop's clock: time.monotonic in a run, simulated time in a backtest (bot/backtest/clock.py)
            loop_time = asyncio.get_running_loop().time
            bucket = TokenBucket(self.settings.orders_per_s, self.settings.burst, now=loop_time)
            lane = self._lanes[name] = _Lane(exchange, bucket)
            self.bot.tasks.create(self._lane_worker(lane), owner="executor", what=f"send queue {name}")
        self.bot.tasks.create(self._flusher(), owner="executor", what="store writer")

    def open_orders(self) -> list[Order]:
        return list(self._active.values())

    def order(self, client_order_id: str) -> Order | None:
        order = self._active.get(client_order_id) or self._dirty.get(client_order_id)
        if order is not None:
            return order
        return self.bot.store.get_order(client_order_id)

    # --- submit ---------------------------------------------------------------------------

    def submit(self, intent: OrderIntent, *, risk: bool = True) -> str | None:
        """Risk-check an intent and queue it; returns its client order id, or None if refused.

        ``risk=False`` is for the host's own closing orders (flatten), which no check may block.
        """
        strategy = self.bot.strategies.get(intent.strategy)
        if self.closing or (strategy is not None and strategy.paused):
            return None
        cid = intent.client_order_id
        if cid is None:
            cid = f"{intent.strategy[:16]}-{uuid.uuid4().hex[:16]}"
            intent = replace(intent, client_order_id=cid)  # risk checks see the id the order will carry
        if cid in self._active:
            return cid  # already on its way: idempotent
        if intent.client_order_id is not None and self.order(cid) is not None:
            # a strategy's own id that an earlier order (this run or a previous one) carried: never again
            log.warning("strategy %s submitted client order id %s again; it is already stored, not sent",
                        intent.strategy, cid)
            return None
        if intent.exchange not in self._lanes:
            log.error("strategy %s sent an order to unknown exchange %s", intent.strategy, intent.exchange)
            return None
        if intent.post_only and intent.price is not None:
            intent = self._degrade_post_only(intent)
            if intent is None:
                return None
        veto = self.bot.risk.check(intent) if risk else None
        if veto is not None:
            self.bot.on_veto(intent, veto)
            return None
        now = self.bot.clock.time_ns()
        order = Order(
            client_order_id=cid, strategy=intent.strategy, exchange=intent.exchange, symbol=intent.symbol,
            side=intent.side, qty=intent.qty, price=intent.price, order_type=intent.order_type, tif=intent.tif,
            post_only=intent.post_only, created_ns=now, updated_ns=now,
        )
        if self.bot.mode == "observe":  # read per order: /observe switches it at run time
            order.status = OrderStatus.OBSERVED
            order.reason = "observe mode: not sent"
            if self.bot.store.insert_order(order):
                self._notify(order)
            return cid
        if self.bot.mode != "live" and not self.bot.exchanges[intent.exchange].simulated:
            # the config check refuses this; a strategy that picks its venue at run time meets it here
            log.error("strategy %s sent an order to %s, a real venue, in %s mode: refused", intent.strategy,
                      intent.exchange, self.bot.mode)
            self.bot.alert(AlertLevel.ERROR, "order", f"order to the real venue {intent.exchange} refused in "
                           f"{self.bot.mode} mode", strategy=intent.strategy, client_order_id=cid)
            return None
        self._active[cid] = order
        self._begin()
        self._lanes[intent.exchange].queue.put_nowait(_Job(order))
        return cid

    def _begin(self) -> None:
        self._in_flight += 1
        self._idle.clear()

    def _end(self) -> None:
        self._in_flight -= 1
        if self._in_flight == 0:
            self._idle.set()

    async def settle(self, timeout_s: float) -> bool:
        """Wait until no order is queued or in flight (new ones may still come); False on timeout."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True

    async def close(self, timeout_s: float) -> bool:
        """Take no new orders and wait for those queued or in flight to settle; False on timeout."""
        self.closing = True
        if not await self.settle(timeout_s):
            log.warning("%d order(s) still in flight at shutdown; recovery settles them on the next start",
                        self._in_flight)
            return False
        return True

    def _degrade_post_only(self, intent: OrderIntent) -> OrderIntent | None:
        bid, ask = self.bot.portfolio.top(intent.exchange, intent.symbol)
        crosses = (intent.side is Side.BUY and ask is not None and intent.price >= ask) or (
            intent.side is Side.SELL and bid is not None and intent.price <= bid)
        if not crosses:
            return intent
        if self.settings.post_only_cross == "limit":
            log.info("post-only %s %s at %s would cross the book; sending as a plain limit order",
                     intent.side, intent.symbol, intent.price)
            return replace(intent, post_only=False)
        log.info("post-only %s %s at %s would cross the book; not sent", intent.side, intent.symbol, intent.price)
        return None

    # --- sending --------------------------------------------------------------------------

    async def _lane_worker(self, lane: _Lane) -> None:
        while True:
            batch = [await lane.queue.get()]
            if lane.exchange.supports_batch:
                while len(batch) < MAX_BATCH and not lane.queue.empty():
                    batch.append(lane.queue.get_nowait())
            fresh = []
            for job in batch:
                if job.attempt == 0 and not self.bot.store.insert_order(job.order):
                    # The id is already stored: some earlier run owns it. Never send it again.
                    log.error("order %s already exists in the store; not sending it again", job.order.client_order_id)
                    self._active.pop(job.order.client_order_id, None)
                    self._end()
                    continue
                fresh.append(job)
            if not fresh:
                continue
            await lane.bucket.acquire()
            self.bot.tasks.create(self._send(lane, fresh), owner="executor", what=f"send to {lane.exchange.name}")

    async def _send(self, lane: _Lane, jobs: list[_Job]) -> None:
        timeout = self.settings.request_timeout_s
        try:
            if len(jobs) == 1:
                results: list[OrderState | BaseException] = [
                    await asyncio.wait_for(lane.exchange.place_order(jobs[0].order), timeout)]
            else:
                results = list(await asyncio.wait_for(
                    lane.exchange.place_orders([j.order for j in jobs]), timeout))
        except Exception as exc:  # the whole request failed: same outcome for each order in it
            results = [exc] * len(jobs)
        for job, result in zip(jobs, results, strict=True):
            try:
                await self._handle_result(lane, job, result)
            finally:
                self._end()

    async def _handle_result(self, lane: _Lane, job: _Job, result: OrderState | BaseException) -> None:
        order = job.order
        if isinstance(result, OrderState):
            self._apply(order, result)
            return
        if isinstance(result, PermanentError):
            self._finish(order, OrderStatus.REJECTED, f"{type(result).__name__}: {result}")
            return
        if isinstance(result, TransientError):
            if isinstance(result, RateLimited) and result.retry_after_s:
                lane.bucket.block_for(result.retry_after_s)
            self._retry_later(lane, job, f"{type(result).__name__}: {result}")
            return
        # Unknown outcome (timeout, lost connection, unexpected error): ask before resending.
        what = "timed out" if isinstance(result, TimeoutError) else f"{type(result).__name__}: {result}"
        log.warning("order %s: outcome unknown (%s); looking it up", order.client_order_id, what)
        answered, state = await self._lookup(lane, order)
        if state is not None:
            self._apply(order, state)
        elif answered:
            self._retry_later(lane, job, f"unknown outcome ({what}); the venue has no such order")
        else:
            self._finish(order, OrderStatus.UNKNOWN, f"outcome unknown ({what}) and the look-up failed; "
                         "reconciliation will keep asking")

    async def _lookup(self, lane: _Lane, order: Order) -> tuple[bool, OrderState | None]:
        """Look an order up by client id, retrying failures: (the venue answered, its state or None)."""
        for attempt in range(self.settings.max_retries + 1):
            await lane.bucket.acquire()
            try:
                state = await asyncio.wait_for(
                    lane.exchange.fetch_order(order.symbol, order.client_order_id), self.settings.request_timeout_s)
            except Exception as exc:
                log.warning("look-up of %s failed: %s", order.client_order_id, exc)
                await asyncio.sleep(backoff_delay(attempt, self.settings.backoff_initial_s, self.settings.backoff_max_s))
                continue
            return True, state
        return False, None

    def _retry_later(self, lane: _Lane, job: _Job, reason: str) -> None:
        if job.attempt >= self.settings.max_retries:
            self._finish(job.order, OrderStatus.FAILED, f"gave up after {job.attempt + 1} attempts: {reason}")
            return
        delay = backoff_delay(job.attempt, self.settings.backoff_initial_s, self.settings.backoff_max_s)
        log.info("order %s: %s; retry %d in %.2fs", job.order.client_order_id, reason, job.attempt + 1, delay)

        async def later() -> None:
            await asyncio.sleep(delay)
            lane.queue.put_nowait(_Job(job.order, job.attempt + 1))

        self._begin()  # the retry is in flight until its own result is handled

        self.bot.tasks.create(later(), owner="executor", what="retry")

    # --- cancelling -----------------------------------------------------------------------

    def cancel(self, client_order_id: str) -> None:
        order = self._active.get(client_order_id)
        if order is None:
            return
        self.bot.tasks.create(self._cancel([order]), owner="executor", what=f"cancel {client_order_id}")

    async def cancel_all(self, strategy: str | None = None) -> int:
        """Cancel every open order (of one strategy); returns how many were asked."""
        orders = [o for o in self._active.values() if strategy is None or o.strategy == strategy]
        await self._cancel(orders)
        return len(orders)

    async def _cancel(self, orders: list[Order]) -> None:
        groups: dict[tuple[str, str], list[Order]] = {}
        for order in orders:
            groups.setdefault((order.exchange, order.symbol), []).append(order)
        for (exchange_name, symbol), group in groups.items():
            lane = self._lanes[exchange_name]
            await lane.bucket.acquire()
            try:
                results = await asyncio.wait_for(
                    lane.exchange.cancel_orders(symbol, [o.client_order_id for o in group]),
                    self.settings.request_timeout_s)
            except Exception as exc:
                results = [exc] * len(group)
            for order, result in zip(group, results, strict=True):
                if isinstance(result, OrderState):
                    self._apply(order, result)
                else:
                    _, state = await self._lookup(lane, order)
                    if state is not None:
                        self._apply(order, state)

    # --- state from the venue -------------------------------------------------------------

    def handle_fill(self, fill: Fill) -> None:
        """Bus subscriber: a venue reported a fill of one of our orders."""
        key = (fill.exchange, fill.trade_id)
        if key in self._seen_trades:
            return
        order = self._active.get(fill.client_order_id)
        if order is None:
            order = self.bot.store.get_order(fill.client_order_id)
            if order is None:
                log.warning("fill %s for unknown order %s ignored", fill.trade_id, fill.client_order_id)
                return
        self._seen_trades.add(key)
        order.fee += fill.fee
        self._new_fills.append((order.strategy, fill))
        self._flush_wakeup.set()
        self.on_fill(order.strategy, fill)

    def handle_report(self, report: OrderReport) -> None:
        """Bus subscriber: a venue reported a change of one of our orders."""
        order = self._active.get(report.state.client_order_id)
        if order is not None:
            self._apply(order, report.state)

    def _apply(self, order: Order, state: OrderState) -> None:
        for fill in state.fills:
            self.handle_fill(fill)
        changed = (state.status != order.status or state.filled_qty != order.filled_qty
                   or (state.exchange_order_id and state.exchange_order_id != order.exchange_order_id))
        order.status = state.status
        order.filled_qty = state.filled_qty
        order.avg_fill_price = state.avg_fill_price
        order.exchange_order_id = state.exchange_order_id or order.exchange_order_id
        if state.reason:
            order.reason = state.reason
        if changed:
            order.updated_ns = self.bot.clock.time_ns()
            self._notify(order)

    def _finish(self, order: Order, status: OrderStatus, reason: str) -> None:
        order.status = status
        order.reason = reason
        order.updated_ns = self.bot.clock.time_ns()
        level = AlertLevel.WARNING if status is OrderStatus.REJECTED else AlertLevel.ERROR
        self.bot.alert(level, "order", f"order {order.client_order_id} {status.value}: {reason}",
                       source=order.strategy, exchange=order.exchange, symbol=order.symbol)
        self._notify(order)

    def _notify(self, order: Order) -> None:
        if order.status.terminal or order.status is OrderStatus.UNKNOWN:
            self._active.pop(order.client_order_id, None)
        if order.status is not OrderStatus.OBSERVED:
            self._dirty[order.client_order_id] = order
            self._flush_wakeup.set()
        update = OrderUpdate(
            exchange=order.exchange, symbol=order.symbol, client_order_id=order.client_order_id,
            strategy=order.strategy, status=order.status, filled_qty=order.filled_qty,
            avg_fill_price=order.avg_fill_price, ts_ns=order.updated_ns, reason=order.reason,
        )
        self.on_order_update(order.strategy, update)

    # --- persistence off the hot path -----------------------------------------------------

    async def _flusher(self) -> None:
        while True:
            await self._flush_wakeup.wait()
            await asyncio.sleep(0.05)  # gather a few changes per transaction
            self._flush_wakeup.clear()
            self.flush()

    def flush(self) -> None:
        """Write queued order changes and fills now (also called on shutdown)."""
        if not self._dirty and not self._new_fills:
            return
        dirty, self._dirty = self._dirty, {}
        fills, self._new_fills = self._new_fills, []
        self.bot.store.write_batch(list(dirty.values()), fills)

    # --- recovery and reconciliation ------------------------------------------------------

    async def recover(self) -> dict[str, int]:
        """On start, before anything new is placed: settle every order a previous run left open."""
        counts = {"adopted": 0, "failed": 0, "unknown": 0}
        for order in self.bot.store.orders(statuses=[OrderStatus.PENDING, OrderStatus.OPEN, OrderStatus.UNKNOWN]):
            lane = self._lanes.get(order.exchange)
            if lane is None:
                log.error("order %s is on exchange %s, which is not configured; left as is",
                          order.client_order_id, order.exchange)
                counts["unknown"] += 1
                continue
            self._active[order.client_order_id] = order
            answered, state = await self._lookup(lane, order)
            if state is not None:
                self._apply(order, state)
                counts["adopted"] += 1
            elif answered:
                self._finish_quiet(order, OrderStatus.FAILED, "the venue never received it (found after a restart)")
                counts["failed"] += 1
            else:  # stays active: reconciliation keeps asking
                counts["unknown"] += 1
        self.flush()
        return counts

    def _finish_quiet(self, order: Order, status: OrderStatus, reason: str) -> None:
        order.status, order.reason, order.updated_ns = status, reason, self.bot.clock.time_ns()
        self._notify(order)

    async def reconcile(self) -> None:
        """Periodic: re-read every order not known to be final from its venue."""
        for order in list(self._active.values()):
            lane = self._lanes.get(order.exchange)
            if lane is None:
                continue
            # A PENDING order may still be on its way: "not found" changes nothing here.
            _, state = await self._lookup(lane, order)
            if state is not None:
                self._apply(order, state)
        self.flush()
