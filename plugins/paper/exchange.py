"""The paper venue: simulated markets, a matching engine and the venue's own state file, as an Exchange."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from bot.api import Context, Exchange, ExchangeError, OrderNotFound
from bot.domain import (
    Balance,
    FeedState,
    FeedStatus,
    MarketInfo,
    Order,
    OrderReport,
    OrderState,
    split_symbol,
)

from .engine import MatchingEngine
from .orders import Changes, PaperOrder
from .market import MarketParams, SimulatedMarket
from .settings import PaperSettings
from .state import PaperState

SAVE_MARKETS_EVERY = 1000
"""Steps between two saves of where the markets stand (also saved on stop)."""


class PaperExchange(Exchange):
    """A simulated venue with simulated markets; no network, no real money.

    **Market data.** Each symbol is a :class:`~plugins.paper.market.SimulatedMarket` (seeded random
    walk). Every step publishes a ``BookUpdate`` (``depth_levels`` per side, best first) and
    usually a public ``Trade``. :meth:`start` publishes ``FeedStatus(LIVE)`` and a first book per
    symbol, then steps every ``tick_interval_ms`` in a background task; with ``tick_interval_ms =
    0`` only :meth:`step` moves the markets (benchmarks, backtests).

    **Matching** (details in :mod:`plugins.paper.engine`): orders that cross on arrival take the
    published levels as taker, walking them up to the limit price; post-only orders that would
    cross raise ``PostOnlyWouldCross``; the rest of a GTC order rests and fills as maker, at its own
    price, when a later step's book moves through it (up to the size of the levels through it) or
    a public trade prints at or through it (up to the trade's size). IOC and market orders cancel
    what does not fill at once. Fees are in the quote asset, rounded half up to ``fee_decimals``.

    **Fills on the bus.** Whenever one of our orders fills — resting in a later step *or*
    immediately on arrival — each ``Fill`` (trade id ``paper-<n>``, unique for the life of the
    state file) is published, then one ``OrderReport`` with the order's state. Immediate fills are
    therefore both published and returned in ``OrderState.fills`` by :meth:`place_order`; the
    executor dedupes fills by trade id. Cancels and rejections publish nothing: the answer is the
    return value (or the raised error).

    **Idempotency and persistence.** The venue keeps its own SQLite file (``state_file``): balances,
    every order by client order id with its fills, and a row per submission attempt. A second
    :meth:`place_order` with a client order id the venue already knows creates nothing: the
    attempt is logged and the existing order's state is returned, whatever its status (as
    Coinbase does). Refused orders are kept as REJECTED (with the reason), so :meth:`fetch_order`
    can tell "refused" from "never arrived" (None). Each request is one transaction, committed
    before the answer leaves; the market position is saved every ``SAVE_MARKETS_EVERY`` steps and on
    stop, and a restarted venue carries on from there (initial balances apply only to a new file).

    **Latency.** With ``latency_ms > 0`` an order request (place, cancel, batch) waits half the
    latency, then the venue receives it (logs, acts, commits), then waits the other half before the
    answer returns: a crash in the second half leaves an order the bot never heard about.
    """

    Settings = PaperSettings
    simulated = True
    supports_batch = True

    def __init__(self, name: str, settings: PaperSettings, ctx: Context):
        super().__init__(name, settings, ctx)
        self.settings: PaperSettings = settings
        self._rules: dict[str, MarketInfo] = {}
        self.markets: dict[str, SimulatedMarket] = {}
        """The simulated market of each symbol (read-only for callers)."""
        for symbol in settings.symbols:
            base, quote = split_symbol(symbol)
            self._rules[symbol] = MarketInfo(
                symbol=symbol, base=base, quote=quote, tick_size=settings.tick_size, lot_size=settings.lot_size,
                min_qty=settings.min_qty, min_notional=settings.min_notional,
            )  # fmt: skip
            params = MarketParams(
                tick_size=settings.tick_size, lot_size=settings.lot_size, start_price=settings.start_price_of(symbol),
                spread_ticks=settings.spread_ticks, level_step_ticks=settings.level_step_ticks,
                depth_levels=settings.depth_levels, level_qty=settings.level_qty,
                volatility_bps=settings.volatility_bps, seed=settings.seed,
            )  # fmt: skip
            self.markets[symbol] = SimulatedMarket(name, symbol, params)
        self._market_list = tuple(self.markets.values())
        self._half_latency_s = settings.latency_ms / 2000
        self._state: PaperState | None = None
        self._engine: MatchingEngine | None = None
        self._running = False
        self._steps_unsaved = 0

    # --- lifecycle ----------------------------------------------------------------------------

    @property
    def state_path(self) -> str:
        """Where the venue's state lives (``":memory:"`` when ``state_file`` is empty)."""
        if not self.settings.state_file:
            return ":memory:"
        path = Path(self.settings.state_file).expanduser()
        return str(path if path.is_absolute() else self.ctx.data_dir / path)

    async def start(self) -> None:
        """Load (or create) the account, publish a first book per symbol, start the market clock."""
        path = self.state_path
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        state = self._state = PaperState(path, self.name)
        state.initialize({asset: Decimal(text) for asset, text in self.settings.initial_balances.items()})
        positions = state.market_positions()
        for symbol, market in self.markets.items():
            if symbol in positions:
                step_count, best_bid = positions[symbol]
                market.resume(step_count, int((best_bid / market.tick_size).to_integral_value()))
        last_order_seq, last_trade_seq = state.last_seqs()
        open_orders = state.open_orders()
        self._engine = MatchingEngine(
            self.name, self.markets, self._rules, maker_fee_bps=self.settings.maker_fee_bps,
            taker_fee_bps=self.settings.taker_fee_bps, fee_decimals=self.settings.fee_decimals,
            balances=state.balances(), open_orders=open_orders, last_order_seq=last_order_seq,
            last_trade_seq=last_trade_seq,
        )  # fmt: skip
        self.ctx.log.info("paper account %s: %d resting orders", path, len(open_orders))
        self._publish = self.ctx.bus.publish
        self._time_ns = self.ctx.clock.time_ns
        now = self._time_ns()
        for market in self._market_list:
            self._publish(FeedStatus(self.name, market.symbol, FeedState.LIVE, now))
            self._publish(market.book(now))
        if self.settings.tick_interval_ms > 0:
            self._running = True
            self.ctx.create_task(self._run(), "market")

    async def stop(self) -> None:
        """Stop the market clock, save where the markets stand and close the state file."""
        self._running = False
        if self._state is not None:
            with self._state.transaction():
                self._save_markets()
            self._state.close()
            self._state = None

    async def _run(self) -> None:
        interval_s = self.settings.tick_interval_ms / 1000
        while self._running:
            await asyncio.sleep(interval_s)
            if not self._running:
                break
            self.step()

    # --- market -------------------------------------------------------------------------------

    def step(self) -> None:
        """Move every market once: publish its book and trade, then the fills of our orders it caused."""
        now = self._time_ns()
        publish = self._publish
        engine = self._engine
        for market in self._market_list:
            book, trade = market.step(now)
            publish(book)
            if trade is not None:
                publish(trade)
            engine.match(market, now)
            if engine.changed:
                self._commit(now)
        self._steps_unsaved += 1
        if self._steps_unsaved >= SAVE_MARKETS_EVERY:
            with self._state.transaction():
                self._save_markets()

    def market(self, symbol: str) -> MarketInfo:
        """Trading rules of ``symbol``; KeyError if this venue does not simulate it."""
        return self._rules[symbol]

    # --- orders -------------------------------------------------------------------------------

    async def place_order(self, order: Order) -> OrderState:
        """Submit one order (see the class docstring for what happens to it)."""
        await self._latency()
        try:
            return self._receive(order)
        finally:  # the answer travels back whether the venue accepted or refused the order
            await self._latency()

    async def place_orders(self, orders: list[Order]) -> list[OrderState | ExchangeError]:
        """Submit several orders in one request; one state or error per order, in order."""
        await self._latency()
        results: list[OrderState | ExchangeError] = []
        try:
            for order in orders:
                try:
                    results.append(self._receive(order))
                except ExchangeError as exc:
                    results.append(exc)
        finally:
            await self._latency()
        return results

    async def cancel_order(self, symbol: str, client_order_id: str) -> OrderState:
        """Cancel a resting order and return its final state; an order already final is returned
        unchanged. Raises OrderNotFound for a client order id the venue never saw."""
        await self._latency()
        try:
            return self._cancel(client_order_id)
        finally:
            await self._latency()

    async def cancel_orders(self, symbol: str, client_order_ids: list[str]) -> list[OrderState | ExchangeError]:
        """Cancel several orders in one request; one state or error per order, in order."""
        await self._latency()
        results: list[OrderState | ExchangeError] = []
        try:
            for cid in client_order_ids:
                try:
                    results.append(self._cancel(cid))
                except ExchangeError as exc:
                    results.append(exc)
        finally:
            await self._latency()
        return results

    async def fetch_order(self, symbol: str, client_order_id: str) -> OrderState | None:
        """An order by client order id (venue-wide), with all its fills; None if never seen."""
        order = self._find(client_order_id)
        return None if order is None else order.state()

    async def open_orders(self, symbol: str | None = None) -> list[OrderState]:
        """Every resting order, oldest first (optionally of one symbol)."""
        return [o.state() for o in self._engine_ready().open_orders(symbol)]

    async def balances(self) -> dict[str, Balance]:
        """Total and free (total less what resting orders reserve) by asset."""
        return self._engine_ready().balances()

    def submissions(self, client_order_id: str | None = None) -> list[tuple[int, str, int, dict]]:
        """Every submission attempt the venue received, oldest first: (seq, client order id, ts_ns, payload)."""
        return self._state_ready().submissions(client_order_id)

    # --- internals ----------------------------------------------------------------------------

    async def _latency(self) -> None:
        if self._half_latency_s > 0:
            await asyncio.sleep(self._half_latency_s)

    def _receive(self, order: Order) -> OrderState:
        """The venue receives one order: log the attempt, then act on it, in one transaction."""
        engine = self._engine_ready()
        now = self._time_ns()
        existing = self._find(order.client_order_id)
        if existing is not None:
            with self._state.transaction():
                self._state.record_submission(order, now)
            return existing.state()
        try:
            placed = engine.place(order, now)
        finally:  # a refused order is kept (REJECTED) along with its submission
            self._commit(now, submission=order)
        return placed.state()

    def _cancel(self, client_order_id: str) -> OrderState:
        engine = self._engine_ready()
        order = engine.open_order(client_order_id)
        if order is None:
            final = self._state.order(client_order_id)
            if final is None:
                raise OrderNotFound(f'{self.name} has no order with client order id "{client_order_id}"')
            return final.state()
        engine.cancel(order, self._time_ns())
        self._commit(self._time_ns())
        return order.state()

    def _find(self, client_order_id: str) -> PaperOrder | None:
        order = self._engine_ready().open_order(client_order_id)
        return order if order is not None else self._state.order(client_order_id)

    def _commit(self, now: int, submission: Order | None = None) -> None:
        """Write what changed in one transaction, then publish the fills and order reports."""
        changes = self._engine.take_changes()
        with self._state.transaction():
            if submission is not None:
                self._state.record_submission(submission, now)
            self._state.save(changes)
        self._publish_fills(changes, now)

    def _publish_fills(self, changes: Changes, now: int) -> None:
        for cid, fills in changes.fills.items():
            for fill in fills:
                self._publish(fill)
            order = changes.orders[cid]
            self._publish(OrderReport(self.name, order.symbol, order.state(), now))

    def _save_markets(self) -> None:
        self._state.save_market_positions(
            {m.symbol: (m.step_count, m.price(m.bid_ticks)) for m in self._market_list}
        )
        self._steps_unsaved = 0

    def _engine_ready(self) -> MatchingEngine:
        if self._engine is None or self._state is None:
            raise RuntimeError(f"paper exchange {self.name} is not started")
        return self._engine

    def _state_ready(self) -> PaperState:
        self._engine_ready()
        return self._state
