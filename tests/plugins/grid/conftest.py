"""A stand-in for the host's Context, so the grid strategy can be driven event by event.

It keeps an executor-like record of every order it accepted (``ctx.orders``) and turns the
test's ``fill``/``finish`` calls into the Fill and OrderUpdate events the host would deliver.

Tests reach everything here through fixtures (``ctx``, ``make_grid``, ``restart``), never by
importing this module: pytest keeps only one module named ``conftest`` at a time.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import Any

import pytest

from bot.clock import ManualClock
from bot.domain import (
    BookUpdate,
    Fill,
    Liquidity,
    MarketInfo,
    Order,
    OrderIntent,
    OrderStatus,
    OrderUpdate,
)
from bot.store import Store
from plugins.grid.settings import GridSettings
from plugins.grid.strategy import GridStrategy

D = Decimal

MARKET = MarketInfo(symbol="BTC/USD", base="BTC", quote="USD", tick_size=D("0.01"), lot_size=D("0.001"),
                    min_qty=D("0.001"), min_notional=D("5"))

DEFAULTS: dict[str, Any] = dict(exchange="paper", symbol="BTC/USD", lower=D(100), upper=D(150), levels=6,
                                order_size=D(1), out_of_range_after_s=0.0)
"""Levels 100, 110, 120, 130, 140, 150: slot i buys at 100 + 10i and sells 10 higher. A bid above 150 counts at
once (``test_grid_flapping.py`` tests the hysteresis of the default ``out_of_range_after_s``)."""


class StandInExchange:
    def __init__(self, market: MarketInfo):
        self._market = market

    def market(self, symbol: str) -> MarketInfo:
        if symbol != self._market.symbol:
            raise KeyError(symbol)
        return self._market


class StandInContext:
    """The parts of :class:`bot.api.Context` a strategy uses; orders are recorded, not sent."""

    def __init__(self, store: Store, clock: ManualClock, orders: dict[str, Order] | None = None,
                 market: MarketInfo = MARKET):
        self.store = store
        self.clock = clock
        self.log = logging.getLogger("tests.grid")
        self.id_epoch = ""
        self.orders: dict[str, Order] = {} if orders is None else orders
        """Executor records by client order id (share the dict to simulate a restart)."""
        self.submitted: list[OrderIntent] = []
        self.attempts = 0
        """Calls to submit, accepted or not."""
        self.cancelled: list[str] = []
        self.alerts: list[tuple[Any, str, str, dict]] = []
        self.veto = False
        self.tasks: list[asyncio.Task[Any]] = []
        self._exchange = StandInExchange(market)
        self._trade = 0

    # --- the Context API -----------------------------------------------------------------------

    def stored_orders(self, *, open_only: bool = False) -> list[Order]:  # one strategy per test store
        return [o for o in self.store.orders() if not (open_only and o.status.terminal)]

    def stored_fills(self, *, client_order_id: str | None = None, since_ns: int | None = None) -> list[Fill]:
        return [f for _, f in self.store.fills(since_ns=since_ns)
                if client_order_id is None or f.client_order_id == client_order_id]

    def submit(self, intent: OrderIntent) -> str | None:
        self.attempts += 1
        if self.veto:
            return None
        cid = intent.client_order_id
        assert cid is not None
        assert cid not in self.orders, f"client order id {cid} submitted twice"
        self.submitted.append(intent)
        self.orders[cid] = Order(
            client_order_id=cid, strategy=intent.strategy, exchange=intent.exchange, symbol=intent.symbol,
            side=intent.side, qty=intent.qty, price=intent.price, post_only=intent.post_only, status=OrderStatus.OPEN,
            closes=intent.closes,
        )
        return cid

    def cancel(self, client_order_id: str) -> None:
        self.cancelled.append(client_order_id)

    def order(self, client_order_id: str) -> Order | None:
        return self.orders.get(client_order_id)

    def held_order(self, client_order_id: str) -> Order | None:  # every record here is in memory
        return self.orders.get(client_order_id)

    async def look_up_order(self, client_order_id: str) -> Order | None:
        return self.orders.get(client_order_id)

    def read_later(self, fn: Any, *args: Any, **kwargs: Any) -> asyncio.Future[Any]:
        """Inline, as :meth:`write_later`."""
        return self.write_later(fn, *args, **kwargs)

    def write_later(self, fn: Any, *args: Any, **kwargs: Any) -> asyncio.Future[Any]:
        """Inline, as the host's on simulated time: the future is done when this returns."""
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        try:
            done.set_result(fn(*args, **kwargs))
        except Exception as exc:
            done.set_exception(exc)
        return done

    def create_task(self, coro: Any, what: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=what)
        self.tasks.append(task)
        return task

    def exchange(self, name: str) -> StandInExchange:
        if name != "paper":
            raise KeyError(name)
        return self._exchange

    def alert(self, level: Any, kind: str, message: str, **fields: Any) -> None:
        self.alerts.append((level, kind, message, fields))

    # --- driving the strategy like the host would --------------------------------------------

    @staticmethod
    def book(bid: str | Decimal, ask: str | Decimal) -> BookUpdate:
        return BookUpdate("paper", "BTC/USD", ((D(bid), D(1)),), ((D(ask), D(1)),), 0)

    def submitted_ids(self) -> list[str]:
        return [i.client_order_id for i in self.submitted]

    def last(self, cid: str | None = None) -> OrderIntent:
        """The latest submitted intent (with ``cid``: that order's intent)."""
        if cid is None:
            return self.submitted[-1]
        return next(i for i in self.submitted if i.client_order_id == cid)

    def fill(self, strategy: GridStrategy | None, cid: str, qty: str | Decimal | None = None,
             price: str | Decimal | None = None, fee: str | Decimal = "0", fee_asset: str = "USD") -> Fill:
        """Record an execution of ``cid`` (default: all that is left, at its limit price) and deliver it."""
        order = self.orders[cid]
        qty = order.remaining_qty if qty is None else D(qty)
        price = order.price if price is None else D(price)
        self._trade += 1
        fill = Fill("paper", "BTC/USD", cid, f"t{self._trade}-{cid}", order.side, price, qty, D(fee), fee_asset,
                    Liquidity.MAKER, self.clock.time_ns())
        notional = (order.avg_fill_price or 0) * order.filled_qty + price * qty
        order.filled_qty += qty
        order.avg_fill_price = notional / order.filled_qty
        if strategy is not None:
            strategy.on_fill(fill)
        return fill

    def finish(self, strategy: GridStrategy | None, cid: str, status: OrderStatus = OrderStatus.FILLED,
               reason: str = "") -> None:
        """Set the final status of ``cid`` and deliver the OrderUpdate (None: record only, a missed update)."""
        order = self.orders[cid]
        order.status = status
        order.reason = reason
        if strategy is not None:
            strategy.on_order_update(OrderUpdate("paper", "BTC/USD", cid, order.strategy, status, order.filled_qty,
                                                 order.avg_fill_price, self.clock.time_ns(), reason))

    def fill_all(self, strategy: GridStrategy, cid: str, fee: str | Decimal = "0", fee_asset: str = "USD") -> None:
        self.fill(strategy, cid, fee=fee, fee_asset=fee_asset)
        self.finish(strategy, cid)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store(db_url):
    s = Store(db_url).open()
    yield s
    s.close()


@pytest.fixture
def ctx(store, clock) -> StandInContext:
    return StandInContext(store, clock)


@pytest.fixture
def restart(ctx):
    """``restart()``: a new context on the same store, clock and executor records, as after a restart."""

    def make() -> StandInContext:
        return StandInContext(ctx.store, ctx.clock, orders=ctx.orders)

    return make


@pytest.fixture
def make_grid(ctx):
    """``await make_grid(name="g", context=ctx, **settings)``: a started grid strategy."""

    async def make(name: str = "g", context: StandInContext | None = None, **overrides: Any) -> GridStrategy:
        settings = GridSettings(**{**DEFAULTS, **overrides})
        strategy = GridStrategy(name, settings, context or ctx)
        await strategy.start()
        return strategy

    return make
