"""A grid whose slot write fails (the store cannot be written) keeps running and writes the slot again itself, on
SQLite as on PostgreSQL: the fills the executor applied meanwhile reach it, in order."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

from sqlalchemy.exc import OperationalError

from bot.domain import BookUpdate, Fill, Liquidity, OrderReport, OrderState, OrderStatus, Side
from plugins.grid import strategy as grid_module
from tests.fakes.venue import ScriptedVenue
from tests.fakes.venue import plugin as venue_plugin
from tests.helpers.waiting import wait_for
from tests.plugins.grid.test_grid_strategy import HOST_CONFIG

D = Decimal



def book(ts: int) -> BookUpdate:
    return BookUpdate("v", "BTC/USD", ((D("124.99"), D(1)),), ((D("125.01"), D(1)),), ts)


async def start(make_bot, monkeypatch):
    ScriptedVenue.instances.clear()
    bot = await make_bot(HOST_CONFIG, extra=[("venue", venue_plugin)])
    grid, venue = bot.strategies["g"], bot.exchanges["v"]
    bot.bus.publish(book(1))
    await wait_for(lambda: len(venue.orders) == 3, what="the three buys below the market")
    p = f"g-{bot.executor.id_epoch}."
    failures = [OperationalError("UPDATE grid_slots", {}, sqlite3.OperationalError("database or disk is full"))]
    save = grid_module.save

    def flaky_save(*args, **kwargs):
        if failures:
            raise failures.pop()
        return save(*args, **kwargs)

    monkeypatch.setattr(grid_module, "save", flaky_save)
    return bot, grid, venue, p


async def test_a_fill_applied_while_the_strategy_waits_for_the_store_reaches_it(make_bot, monkeypatch):
    bot, grid, venue, p = await start(make_bot, monkeypatch)
    # slot 2's buy fills; the grid's write of the slot fails (disk full): the sell waits and the grid writes the slot
    # again itself, on either store (before grid7 a file-backed SQLite store's failure stopped the strategy until
    # the store worked, the failed write's error raised into the host)
    bot.bus.publish(Fill("v", "BTC/USD", f"{p}2-1", "T1", Side.BUY, D(120), D(1), D("0.12"), "USD",
                         Liquidity.MAKER, 2))
    bot.bus.publish(OrderReport("v", "BTC/USD", OrderState(f"{p}2-1", OrderStatus.FILLED, "X3", D(1), D(120)), 2))
    assert bot.strategy_state("g") == "running"
    # meanwhile slot 1's buy fills half: the executor applies it (portfolio, store)
    bot.bus.publish(Fill("v", "BTC/USD", f"{p}1-1", "T2", Side.BUY, D(110), D("0.5"), D("0.05"), "USD",
                         Liquidity.MAKER, 3))
    await wait_for(lambda: bot.strategy_state("g") == "running", what="the grid to resume by itself")
    assert bot.portfolio.position("v", "BTC/USD") == D("1.5")
    # the grid's own ledger (its realized PnL, fees and what it may sell) holds the same fills
    assert grid._book.qty == D("1.5"), f"the grid's ledger holds {grid._book.qty}: fill T2 never reached it"

