"""A real Bot with a paper CEX anchoring a paper DEX: pool updates reach a strategy, its swaps fill."""

from __future__ import annotations

from decimal import Decimal

from bot import hookimpl
from bot.api import Strategy
from bot.domain import (
    BookUpdate,
    FeedStatus,
    OrderIntent,
    OrderType,
    PoolUpdate,
    Side,
    TimeInForce,
)
from tests.helpers.waiting import wait_for

D = Decimal

CONFIG = """
[exchanges.cex]
type = "paper"
symbols = ["SOL/USDC"]
start_price = "150"
tick_size = "0.01"
volatility_bps = "2"
tick_interval_ms = {cex_ms}
state_file = ""
initial_balances = {{ SOL = "10", USDC = "2000" }}
[exchanges.dex]
type = "paper-dex"
anchor = "cex"
start_price = "148.5"
reversion = "0.5"
volatility_bps = "0"
dislocation_probability = "0"
tick_interval_ms = {dex_ms}
state_file = ""
[strategies.watch]
type = "pool-watcher"
"""


class PoolWatcher(Strategy):
    """Keeps every market event it receives and the fills of its orders."""

    def __init__(self, *args):
        super().__init__(*args)
        self.events: list = []
        self.fills: list = []
        WATCHERS.append(self)

    def markets(self):
        return [("cex", "SOL/USDC"), ("dex", "SOL/USDC")]

    def on_market(self, event):
        self.events.append(event)

    def on_fill(self, fill):
        self.fills.append(fill)

    def of(self, event_type, exchange="dex"):
        return [e for e in self.events if isinstance(e, event_type) and e.exchange == exchange]


WATCHERS: list[PoolWatcher] = []


class WatcherPlugin:
    @staticmethod
    @hookimpl
    def register_strategies(register):
        register("pool-watcher", PoolWatcher)


async def test_pool_follows_the_paper_cex_and_a_strategy_swaps_on_it(make_bot):
    WATCHERS.clear()
    bot = await make_bot(CONFIG.format(cex_ms=0, dex_ms=0), extra=[("watcher", WatcherPlugin)])
    (watcher,) = WATCHERS
    cex, dex = bot.exchanges["cex"], bot.exchanges["dex"]
    assert dex.anchor_mid == D(150)  # the first book of the CEX, started before the DEX, was not missed
    for _ in range(12):
        cex.step()
        dex.step()
    pools = watcher.of(PoolUpdate)
    assert len(pools) == 12 and all(p.symbol == "SOL/USDC" for p in pools)
    cex_mid = dex.anchor_mid
    assert abs(pools[-1].pool.mid() - cex_mid) / cex_mid < D("0.001") < abs(D("148.5") - cex_mid) / cex_mid
    assert watcher.of(FeedStatus) == [] and watcher.of(BookUpdate, "cex")  # LIVE went out at start, before strategies

    cid = bot.executor.submit(OrderIntent(strategy="watch", exchange="dex", symbol="SOL/USDC", side=Side.SELL,
                                          qty=D("2"), price=pools[-1].pool.mid() * D("0.99"),
                                          order_type=OrderType.LIMIT, tif=TimeInForce.IOC))
    await wait_for(lambda: watcher.fills, timeout_s=10, what="the swap's fill")
    (fill,) = watcher.fills
    assert (fill.client_order_id, fill.exchange, fill.fee, fill.fee_asset) == (cid, "dex", D("0.0000065"), "SOL")
    await bot.executor.flush()
    assert [f for _, f in bot.store.fills()] == [fill]
    assert len(watcher.of(PoolUpdate)) == 13  # the swap moved the pool: a PoolUpdate
    assert (await dex.balances())["USDC"].total == D(15000) + fill.price * fill.qty


async def test_timed_pools_keep_publishing(make_bot):
    WATCHERS.clear()
    bot = await make_bot(CONFIG.format(cex_ms=20, dex_ms=20), extra=[("watcher", WatcherPlugin)])
    (watcher,) = WATCHERS
    await wait_for(lambda: len(watcher.of(PoolUpdate)) >= 5, timeout_s=20, what="five pool updates")
    assert bot.exchanges["dex"].step_count >= 4
