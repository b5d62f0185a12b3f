"""Property: whatever the interleaving of venue fills, order answers, polls, reconciliations, crashes and
restarts, every fill is applied exactly once everywhere and no client order id is ever sent twice.

A venue whose book outlives the bot (class-level state, like a real venue's) fills our orders in
parts and reports each fill in one of several ways: on the feed once or twice, in an order report
only, in the answer to the order call, or not at all (only a look-up finds it). After each step the
store, the portfolio (what /positions and the risk checks read), each order's fee and what the
strategy and risk checks were handed agree; after a reconciliation they agree with the venue too.
"""

from __future__ import annotations

import asyncio
import tempfile
import textwrap
from collections import Counter
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import hookimpl
from bot.api import Exchange, OrderNotFound, RiskCheck, Strategy
from bot.app import Bot
from bot.config import build_config, parse_toml
from bot.domain import (
    ZERO,
    Balance,
    Fill,
    Liquidity,
    MarketInfo,
    Order,
    OrderIntent,
    OrderReport,
    OrderState,
    OrderStatus,
    Side,
)
from bot.plugins import collect, load_plugins

LOT = Decimal("0.01")


class World:
    """The venue's side of things: survives every crash and restart of the bot."""

    def __init__(self):
        self.orders: dict[str, Order] = {}
        self.fills: dict[str, list[Fill]] = {}
        self.submissions: Counter[str] = Counter()
        self.trade_seq = 0
        self.fill_on_arrival = False


WORLD = World()


def state_of(cid: str) -> OrderState:
    order = WORLD.orders[cid]
    fills = tuple(WORLD.fills.get(cid, ()))
    filled = sum((f.qty for f in fills), ZERO)
    status = OrderStatus.FILLED if filled >= order.qty else order.status
    return OrderState(cid, status, f"X-{cid}", filled, order.price if filled else None, fills)


class WorldVenue(Exchange):
    simulated = True

    def market(self, symbol: str) -> MarketInfo:
        return MarketInfo(symbol, "BTC", "USD", Decimal("0.01"), LOT)

    def make_fill(self, cid: str) -> Fill | None:
        order = WORLD.orders[cid]
        filled = sum((f.qty for f in WORLD.fills.get(cid, ())), ZERO)
        if order.status is not OrderStatus.OPEN or filled >= order.qty:
            return None
        WORLD.trade_seq += 1
        fill = Fill(self.name, order.symbol, cid, f"T{WORLD.trade_seq}", order.side, order.price, LOT,
                    Decimal("0.003"), "USD", Liquidity.MAKER, WORLD.trade_seq)
        WORLD.fills.setdefault(cid, []).append(fill)
        return fill

    async def place_order(self, order: Order) -> OrderState:
        WORLD.submissions[order.client_order_id] += 1
        if order.client_order_id not in WORLD.orders:
            WORLD.orders[order.client_order_id] = Order(
                order.client_order_id, order.strategy, order.exchange, order.symbol, order.side, order.qty,
                order.price, status=OrderStatus.OPEN)
            if WORLD.fill_on_arrival:  # reported on the feed and in the answer
                fill = self.make_fill(order.client_order_id)
                self.ctx.bus.publish(fill)
        return state_of(order.client_order_id)

    async def cancel_order(self, symbol: str, client_order_id: str) -> OrderState:
        if client_order_id not in WORLD.orders:
            raise OrderNotFound(client_order_id)
        if state_of(client_order_id).status is OrderStatus.OPEN:
            WORLD.orders[client_order_id].status = OrderStatus.CANCELLED
        return state_of(client_order_id)

    async def fetch_order(self, symbol: str, client_order_id: str) -> OrderState | None:
        return state_of(client_order_id) if client_order_id in WORLD.orders else None

    async def open_orders(self, symbol: str | None = None) -> list[OrderState]:
        return [s for s in map(state_of, WORLD.orders) if s.status is OrderStatus.OPEN]

    async def balances(self) -> dict[str, Balance]:
        return {}


class Tally(Strategy):
    def __init__(self, *args):
        super().__init__(*args)
        self.fills: Counter[str] = Counter()

    def on_fill(self, fill):
        self.fills[fill.trade_id] += 1


class TallyCheck(RiskCheck):
    def __init__(self, *args):
        super().__init__(*args)
        self.fills: Counter[str] = Counter()

    def check(self, intent, view):
        return None

    def on_fill(self, strategy, fill):
        self.fills[fill.trade_id] += 1


class plugin:
    @staticmethod
    @hookimpl
    def register_exchanges(register):
        register("world", WorldVenue)

    @staticmethod
    @hookimpl
    def register_strategies(register):
        register("tally", Tally)

    @staticmethod
    @hookimpl
    def register_risk_checks(register):
        register("tally", TallyCheck)


CONFIG = """
[bot]
data_dir = "{data_dir}"
control_socket = ""
on_shutdown = "keep"
[exchanges.v]
type = "world"
[strategies.s]
type = "tally"
[risk.t]
type = "tally"
"""

PLUGINS = load_plugins(extra=[("world", plugin)])
REGISTRY = collect(PLUGINS)


async def start(data_dir: Path) -> Bot:
    text = textwrap.dedent(CONFIG.format(data_dir=data_dir))
    bot = Bot(build_config(parse_toml(text, "t.toml"), REGISTRY, "t.toml"), PLUGINS, REGISTRY)
    await bot.start()
    return bot


async def crash(bot: Bot) -> None:
    """Die without writing what the store writer had not written yet."""
    bot.executor._dirty.clear()
    bot.executor._new_fills.clear()

    async def lost(**_kwargs) -> bool:
        return True

    bot.executor.flush = lost
    await bot.stop()


def check(bot: Bot, *, against_venue: bool) -> None:
    stored = [f for _, f in bot.store.fills()]
    ids = [f.trade_id for f in stored]
    assert len(ids) == len(set(ids)), "a fill stored twice"
    position = sum((f.qty if f.side is Side.BUY else -f.qty for f in stored), ZERO)
    assert bot.portfolio.position("v", "BTC/USD") == position
    assert bot.risk.view.position("v", "BTC/USD") == position
    for order in bot.store.orders():
        assert order.fee == sum((f.fee for f in stored if f.client_order_id == order.client_order_id), ZERO)
    assert all(n == 1 for n in bot.strategies["s"].fills.values())
    assert all(n == 1 for n in bot.risk.checks[0].fills.values())
    assert all(n == 1 for n in WORLD.submissions.values()), WORLD.submissions
    if against_venue:
        at_venue = sorted(f.trade_id for fills in WORLD.fills.values() for f in fills)
        assert sorted(ids) == at_venue


STEPS = st.lists(st.tuples(st.sampled_from(["submit", "fill", "poll", "reconcile", "crash", "restart",
                                            "arrival"]),
                           st.integers(0, 50), st.integers(0, 3)), min_size=3, max_size=10)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(STEPS)
def test_every_fill_is_applied_once_and_no_id_is_sent_twice(steps):
    global WORLD
    WORLD = World()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(scenario(Path(tmp), steps))


async def scenario(data_dir: Path, steps) -> None:
    bot = await start(data_dir)
    try:
        for op, pick, how in steps:
            venue: WorldVenue = bot.exchanges["v"]
            cids = sorted(WORLD.orders)
            if op == "submit":
                side = Side.BUY if how % 2 == 0 else Side.SELL
                bot.strategies["s"].ctx.submit(OrderIntent("s", "v", "BTC/USD", side, LOT * 3, Decimal("100")))
            elif op == "arrival":
                WORLD.fill_on_arrival = not WORLD.fill_on_arrival
            elif op == "fill" and cids:
                cid = cids[pick % len(cids)]
                fill = venue.make_fill(cid)
                if fill is not None:
                    if how in (0, 1):  # on the feed, once or twice
                        for _ in range(how + 1):
                            venue.ctx.bus.publish(fill)
                    elif how == 2:  # in an order report only
                        venue.ctx.bus.publish(OrderReport("v", "BTC/USD", state_of(cid), 0))
                    # how == 3: not reported; a look-up finds it
            elif op == "poll" and cids:
                cid = cids[pick % len(cids)]
                venue.ctx.bus.publish(OrderReport("v", "BTC/USD", state_of(cid), 0))
            elif op == "reconcile":
                await bot.executor.reconcile()
            elif op in ("crash", "restart"):
                await bot.executor.settle(2)
                if op == "crash":
                    await crash(bot)
                else:
                    await bot.stop()
                bot = await start(data_dir)
            await bot.executor.settle(2)
            await bot.executor.flush()
            check(bot, against_venue=op in ("reconcile", "crash", "restart") and not any(
                o.status is OrderStatus.PENDING for o in bot.executor.open_orders()))
        await bot.executor.reconcile()
        check(bot, against_venue=True)
    finally:
        await bot.stop()
