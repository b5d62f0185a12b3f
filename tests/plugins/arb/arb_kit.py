"""Shared by the arb strategy tests: a small simulated DEX venue, an alert recorder, the config.

``FakeDex`` is an ``Exchange`` holding one constant-product pool (``arbotlib.amm``'s exact integer
maths): it publishes a ``PoolUpdate`` every ``publish_every_ms`` (and after each swap), executes a
LIMIT order as a swap whose limit price is the worst acceptable *average* price (SELL: min-out /
qty, BUY: max-in / qty), and charges the network fee in SOL, as the design asks every DEX venue
to. ``reject = "slippage"`` makes every swap fail as a slippage-exceeded transaction would.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import itertools
from dataclasses import dataclass
from decimal import Decimal

import plugins.arb
from arbotlib.amm.constant_product import ConstantProductPool
from arbotlib.amm.model import ConstantProductModel
from bot import hookimpl
from bot.api import Exchange, Notifier, PermanentError
from bot.domain import (
    Balance,
    FeedState,
    FeedStatus,
    Fill,
    Liquidity,
    MarketInfo,
    Order,
    OrderReport,
    OrderState,
    OrderStatus,
    PoolUpdate,
    Side,
    split_symbol,
)
from bot.settings import option

BASE_DECIMALS, QUOTE_DECIMALS = 9, 6


@dataclass(frozen=True, kw_only=True)
class FakeDexSettings:
    symbol: str = option("SOL/USDC", help="the pool's pair")
    reserve_base: Decimal = option(Decimal("10000"), help="base in the pool")
    reserve_quote: Decimal = option(Decimal("1530000"), help="quote in the pool")
    fee_bps: int = option(30, help="pool fee")
    network_fee_sol: Decimal = option(Decimal("0.000007"), help="fee of one swap, SOL")
    publish_every_ms: int = option(20, help="pool update heartbeat")
    latency_ms: int = option(0, help="delay before a swap lands")
    reject: str = option("", help='"slippage": every swap fails')
    stale_on_order: bool = option(False, help="the feed says STALE when an order arrives (the pool's data lost)")
    lands_after_ms: int = option(0, help="the swap is broadcast and lands this much later whatever the caller does; "
                                         "until then the venue does not know it and the call never answers")
    balances: dict[str, str] = option({"SOL": "100", "USDC": "100000"}, help="wallet")


class FakeDex(Exchange):
    Settings = FakeDexSettings
    simulated = True
    venue_kind = "pool"
    exchange_settings = ()

    def __init__(self, name, settings, ctx):
        super().__init__(name, settings, ctx)
        base, quote = split_symbol(settings.symbol)
        self.base, self.quote = base, quote
        self.pool = ConstantProductModel(
            ConstantProductPool(int(settings.reserve_base.scaleb(BASE_DECIMALS)),
                                int(settings.reserve_quote.scaleb(QUOTE_DECIMALS)), settings.fee_bps),
            base, quote, BASE_DECIMALS, QUOTE_DECIMALS)
        self.rules = MarketInfo(settings.symbol, base, quote, tick_size=Decimal("0.000001"),
                                lot_size=Decimal("0.000000001"))
        self.orders: dict[str, OrderState] = {}
        self.received: list[Order] = []
        self.pools_swapped: list = []
        """The pool as each swap found it."""
        self.wallet = {k: Decimal(v) for k, v in settings.balances.items()}
        self.trade_ids = itertools.count(1)
        self.running = False
        self.broadcast: set[str] = set()
        """Client ids of the swaps sent to the chain (``lands_after_ms``)."""

    async def start(self):
        self.ctx.bus.publish(FeedStatus(self.name, self.settings.symbol, FeedState.LIVE, self.ctx.clock.time_ns()))
        self.publish()
        self.running = True
        if self.settings.publish_every_ms:
            self.ctx.create_task(self.heartbeat(), "pool heartbeat")

    async def stop(self):
        self.running = False

    async def heartbeat(self):
        while self.running:
            await asyncio.sleep(self.settings.publish_every_ms / 1000)
            if self.running:
                self.publish()

    def publish(self):
        self.ctx.bus.publish(PoolUpdate(self.name, self.settings.symbol, self.pool, self.ctx.clock.time_ns()))

    def market(self, symbol):
        if symbol != self.settings.symbol:
            raise KeyError(symbol)
        return self.rules

    async def place_order(self, order: Order) -> OrderState:
        self.received.append(order)
        if self.settings.stale_on_order:
            self.ctx.bus.publish(FeedStatus(self.name, self.settings.symbol, FeedState.STALE,
                                            self.ctx.clock.time_ns(), "pool data lost"))
        if self.settings.latency_ms:
            await asyncio.sleep(self.settings.latency_ms / 1000)
        if order.client_order_id in self.orders:
            return self.orders[order.client_order_id]
        if self.settings.lands_after_ms:
            if order.client_order_id not in self.broadcast:  # a resend of the same intent joins the first
                self.broadcast.add(order.client_order_id)
                self.ctx.create_task(self._land_late(order), f"swap {order.client_order_id}")
            await asyncio.sleep(3600)  # the node never confirms in time: the caller gives up
        return self._swap(order)

    async def _land_late(self, order: Order) -> None:
        await asyncio.sleep(self.settings.lands_after_ms / 1000)
        state = self._swap(order)  # confirmed at last: the venue reports it by itself
        self.ctx.bus.publish(OrderReport(self.name, order.symbol, state, self.ctx.clock.time_ns()))

    def _swap(self, order: Order) -> OrderState:
        if self.settings.reject == "slippage":
            state = OrderState(order.client_order_id, OrderStatus.REJECTED,
                               reason="slippage tolerance exceeded (simulated)")
            self.orders[order.client_order_id] = state
            raise PermanentError(state.reason)
        est = self.pool.estimate(order.side, order.qty)
        limit_quote = order.price * order.qty
        if (order.side is Side.SELL and est.quote_qty < limit_quote) or (
                order.side is Side.BUY and est.quote_qty > limit_quote):
            state = OrderState(order.client_order_id, OrderStatus.REJECTED,
                               reason=f"slippage: {est.quote_qty} {self.quote} vs limit {limit_quote}")
            self.orders[order.client_order_id] = state
            raise PermanentError(state.reason)
        self.pools_swapped.append(self.pool)
        self.pool = est.pool_after
        fill = Fill(self.name, order.symbol, order.client_order_id, f"dex-{next(self.trade_ids)}", order.side,
                    est.price, order.qty, fee=self.settings.network_fee_sol, fee_asset="SOL",
                    liquidity=Liquidity.TAKER, ts_ns=self.ctx.clock.time_ns())
        sign = 1 if order.side is Side.BUY else -1
        self.wallet[self.base] += sign * order.qty
        self.wallet[self.quote] -= sign * est.quote_qty
        self.wallet["SOL"] = self.wallet.get("SOL", Decimal(0)) - fill.fee
        state = OrderState(order.client_order_id, OrderStatus.FILLED, filled_qty=order.qty, avg_fill_price=est.price,
                           fills=(fill,))
        self.orders[order.client_order_id] = state
        self.publish()
        return state

    async def cancel_order(self, symbol, client_order_id):
        return self.orders[client_order_id]

    async def fetch_order(self, symbol, client_order_id):
        return self.orders.get(client_order_id)

    async def open_orders(self, symbol=None):
        return []

    async def balances(self):
        return {a: Balance(a, v, v) for a, v in self.wallet.items()}


class RealDex(FakeDex):
    """The same venue declared as a real one (places real orders: live mode only)."""

    simulated = False


class Alerts(Notifier):
    """Keeps every alert it is sent (per test: cleared by the fixture)."""

    sent: list = []

    async def send(self, alert):
        Alerts.sent.append(alert)


class kit_plugin:
    @staticmethod
    @hookimpl
    def register_exchanges(register):
        register("fake-dex", FakeDex)
        register("real-dex", RealDex)

    @staticmethod
    @hookimpl
    def register_notifiers(register):
        register("arb-alerts", Alerts)


def arb_plugins() -> list[tuple[str, object]]:
    """The arb plugin, unless its entry point is installed (then it loads by itself)."""
    installed = {ep.name for ep in importlib.metadata.entry_points(group="arbot")}
    return [] if "arb" in installed else [("arb", plugins.arb)]


def extra() -> list[tuple[str, object]]:
    """The kit, plus the arb plugin unless it is installed (its entry point)."""
    return [("arb-kit", kit_plugin), *arb_plugins()]


def config(*, dex: str = "", arb: str = "", cex: str = "", tick_ms: int = 10) -> str:
    """A paper CEX at 150 (bid 149.95, ask 150.05, no volatility) against a pool at 153.

    The CEX book keeps its prices but draws new level sizes at every step (each ``tick_ms``, on wall time).
    ``level_qty = "5"`` makes its best level at least 2 SOL in every book (the smallest profile is 0.4 x
    level_qty), more than the largest size ``max_notional = 300`` allows (1.9): every book prices an
    opportunity alike, and an IOC leg fills in full however many steps ran between the decision and
    the venue receiving it (a starved event loop runs overdue steps first). With a thin book a test of
    what happens *after* a full CEX fill failed now and then: the rest of the IOC "found no liquidity
    at the limit price".
    """
    return f"""
        [exchanges.paper]
        symbols = ["SOL/USDC"]
        start_price = "150"
        volatility_bps = 0
        tick_interval_ms = {tick_ms}
        level_qty = "5"
        taker_fee_bps = 10
        min_qty = "0.01"
        lot_size = "0.01"
        state_file = ""
        initial_balances = {{ USDC = "100000", SOL = "100" }}
        {cex}
        [exchanges.dex]
        type = "fake-dex"
        {dex}
        [notifiers.arb-alerts]
        [strategies.sol-arb]
        type = "arb"
        cex = "paper"
        dex = "dex"
        symbol = "SOL/USDC"
        min_edge_bps = 10
        cex_taker_fee_bps = 10
        max_cex_slippage_bps = 20
        max_dex_impact_bps = 100
        max_notional = 300
        size_step = "0.1"
        min_size = "0.1"
        cooldown_ms = 600000
        {arb}
    """
