"""A fill that reaches the bot while it starts (after recovery, before the strategies have started: a venue's
private stream reporting a trade while the start-up venue check lists open orders) is applied once to the grid
too, whether the store holds it when the grid's start() reads it or not, and the grid starts and trades as after
any restart."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.domain import BookUpdate, Fill, Liquidity, Side
from tests.fakes.venue import KeptVenue
from tests.fakes.venue import plugin as venue_plugin
from tests.helpers.waiting import wait_for
from tests.plugins.grid.test_grid_strategy import HOST_CONFIG

D = Decimal

CONFIG = 'on_shutdown = "keep"\n' + HOST_CONFIG.replace('type = "scripted"', 'type = "kept"')


@pytest.mark.parametrize("stored", [False, True], ids=["not stored yet", "stored before start() reads"])
async def test_a_fill_arriving_during_start_up_reaches_the_grid_once(make_bot, stored):
    KeptVenue.ORDERS, KeptVenue.on_list, KeptVenue.stored = {}, None, stored
    first = await make_bot(CONFIG, extra=[("venue", venue_plugin)])
    first.bus.publish(BookUpdate("v", "BTC/USD", ((D("124.99"), D(1)),), ((D("125.01"), D(1)),), 1))
    await wait_for(lambda: len(KeptVenue.ORDERS) == 3, what="the three buys")
    p = f"g-{first.executor.id_epoch}."
    await first.stop()

    def trade_reported(venue):  # the venue's stream reports slot 2's buy filled while the bot starts
        KeptVenue.on_list = None
        venue.ctx.bus.publish(Fill("v", "BTC/USD", f"{p}2-1", "T1", Side.BUY, D(120), D(1), D("0.12"), "USD",
                                   Liquidity.MAKER, 2))

    KeptVenue.on_list = trade_reported
    second = await make_bot(CONFIG, extra=[("venue", venue_plugin)])
    assert KeptVenue.on_list is None  # the fill came during start-up
    assert second.portfolio.position("v", "BTC/USD") == D(1)
    assert second.strategy_state("g") == "running", second.strategy_state("g")
    assert second.strategies["g"]._book.qty == D(1)  # the grid's ledger counted it, once
