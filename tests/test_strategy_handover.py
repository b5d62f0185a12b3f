"""Fills and order updates of a strategy that does not run yet (it starts) or for now (it stopped because the
store could not be written) are held for it and handed over, in order, once it runs: each fill reaches it once,
through what its start() reads from the store or through ``on_fill``, never both, never neither."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import pytest
from sqlalchemy.exc import OperationalError

from bot import hookimpl
from bot.api import Strategy
from bot.domain import Fill, Liquidity, OrderIntent, OrderStatus, Side
from tests.fakes.venue import KeptVenue
from tests.fakes.venue import plugin as venue_plugin
from tests.helpers.waiting import wait_for

D = Decimal
CONFIG = """
on_shutdown = "keep"
[exchanges.v]
type = "kept"
[strategies.t]
type = "tally"
"""


class Tally(Strategy):
    """Counts every fill it learns of: from the store at start, then from ``on_fill``."""

    def markets(self):
        return [("v", "BTC/USD")]

    async def start(self) -> None:
        self.trades = [fill.trade_id for fill in self.ctx.stored_fills()]

    def on_fill(self, fill: Fill) -> None:
        self.trades.append(fill.trade_id)


class plugin:
    @staticmethod
    @hookimpl
    def register_strategies(register):
        register("tally", Tally)


def fill(cid: str, trade: str) -> Fill:
    return Fill("v", "BTC/USD", cid, trade, Side.BUY, D(100), D("0.1"), D("0.01"), "USD", Liquidity.MAKER, 2)


@pytest.mark.parametrize("stored", [False, True], ids=["not stored when start() reads", "stored before"])
async def test_a_fill_applied_while_the_strategy_starts_reaches_it_once(make_bot, stored):
    KeptVenue.ORDERS, KeptVenue.on_list, KeptVenue.stored = {}, None, stored
    first = await make_bot(CONFIG, extra=[("venue", venue_plugin), ("tally", plugin)])
    cid = first.strategies["t"].ctx.submit(OrderIntent("t", "v", "BTC/USD", Side.BUY, D("0.2"), D(100)))
    await wait_for(lambda: first.executor.order(cid).status is OrderStatus.OPEN)
    await first.stop()

    KeptVenue.on_list = lambda venue: (setattr(KeptVenue, "on_list", None),
                                       venue.ctx.bus.publish(fill(cid, "T1")))
    second = await make_bot(CONFIG, extra=[("venue", venue_plugin), ("tally", plugin)])
    assert KeptVenue.on_list is None  # the fill came while the bot started
    assert second.portfolio.position("v", "BTC/USD") == D("0.1")
    second.bus.publish(fill(cid, "T2"))  # once it runs: straight to on_fill
    assert second.strategies["t"].trades == ["T1", "T2"]
    assert second.strategy_state("t") == "running"


class Flaky(Tally):
    """Its store write fails (disk full) once on each trade named in ``fail_on``, after it counted the trade."""

    fail_on: set[str] = set()

    def on_fill(self, fill: Fill) -> None:
        super().on_fill(fill)
        if fill.trade_id in Flaky.fail_on:
            Flaky.fail_on.discard(fill.trade_id)
            raise OperationalError("UPDATE tally", {}, sqlite3.OperationalError("database or disk is full"))


class flaky_plugin:
    @staticmethod
    @hookimpl
    def register_strategies(register):
        register("flaky", Flaky)


async def test_fills_applied_while_the_store_stopped_the_strategy_reach_it_in_order_once(make_bot):
    KeptVenue.ORDERS, KeptVenue.on_list, KeptVenue.stored = {}, None, False
    bot = await make_bot(CONFIG.replace('"tally"', '"flaky"'),
                         extra=[("venue", venue_plugin), ("tally", plugin), ("flaky", flaky_plugin)])
    cid = bot.strategies["t"].ctx.submit(OrderIntent("t", "v", "BTC/USD", Side.BUY, D("1"), D(100)))
    await wait_for(lambda: bot.executor.order(cid).status is OrderStatus.OPEN)
    Flaky.fail_on = {"T1", "T2"}
    bot.bus.publish(fill(cid, "T1"))  # the strategy stops: the store cannot be written
    assert bot.strategy_state("t").startswith("failed (store unavailable")
    for trade in ("T2", "T3", "T4"):  # held for it; handing them over, T2 stops it again: T3 and T4 wait again
        bot.bus.publish(fill(cid, trade))
    await wait_for(lambda: bot.strategy_state("t") == "running" and not Flaky.fail_on, what="two resumes")
    await wait_for(lambda: len(bot.strategies["t"].trades) == 4, what="every fill handed over")
    bot.bus.publish(fill(cid, "T5"))
    assert bot.strategies["t"].trades == ["T1", "T2", "T3", "T4", "T5"]
