"""A fill that reaches the bot while it starts (after recovery, before the strategies have started: a venue's
private stream reporting a trade while the start-up venue check lists open orders) is applied once to the grid
too, whether the store holds it when the grid's start() reads it or not, and the grid starts and trades as after
any restart."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from bot import hookimpl
from bot.domain import BookUpdate, Fill, Liquidity, Side
from tests.fakes.venue import ScriptedVenue

D = Decimal

CONFIG = """
on_shutdown = "keep"
[exchanges.v]
type = "kept"
[strategies.g]
type = "grid"
exchange = "v"
symbol = "BTC/USD"
lower = "100"
upper = "150"
levels = 6
order_size = "1"
"""


class KeptVenue(ScriptedVenue):
    """A venue whose orders outlive the bot (as a real venue's do); ``on_list`` runs when open orders are listed,
    then, with ``stored``, the bot's executor writes what it applied (as its batch writer does ~50 ms later)."""

    ORDERS: dict = {}
    on_list = None
    stored = False

    def __init__(self, *args):
        super().__init__(*args)
        self.orders = KeptVenue.ORDERS

    async def open_orders(self, symbol=None):
        if KeptVenue.on_list is not None:
            KeptVenue.on_list(self)
            if KeptVenue.stored:
                await self.ctx._host.executor.flush()
        return await super().open_orders(symbol)


class kept_plugin:
    @staticmethod
    @hookimpl
    def register_exchanges(register):
        register("kept", KeptVenue)


async def eventually(condition, what: str) -> None:
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("stored", [False, True], ids=["not stored yet", "stored before start() reads"])
async def test_a_fill_arriving_during_start_up_reaches_the_grid_once(make_bot, stored):
    KeptVenue.ORDERS, KeptVenue.on_list, KeptVenue.stored = {}, None, stored
    first = await make_bot(CONFIG, extra=[("kept", kept_plugin)])
    first.bus.publish(BookUpdate("v", "BTC/USD", ((D("124.99"), D(1)),), ((D("125.01"), D(1)),), 1))
    await eventually(lambda: len(KeptVenue.ORDERS) == 3, "the three buys")
    p = f"g-{first.executor.id_epoch}."
    await first.stop()

    def trade_reported(venue):  # the venue's stream reports slot 2's buy filled while the bot starts
        KeptVenue.on_list = None
        venue.ctx.bus.publish(Fill("v", "BTC/USD", f"{p}2-1", "T1", Side.BUY, D(120), D(1), D("0.12"), "USD",
                                   Liquidity.MAKER, 2))

    KeptVenue.on_list = trade_reported
    second = await make_bot(CONFIG, extra=[("kept", kept_plugin)])
    assert KeptVenue.on_list is None  # the fill came during start-up
    assert second.portfolio.position("v", "BTC/USD") == D(1)
    assert second.strategy_state("g") == "running", second.strategy_state("g")
    assert second.strategies["g"]._book.qty == D(1)  # the grid's ledger counted it, once
