"""One owner for each order and fill: a fill is applied once everywhere, however and whenever it arrives.

The paper venue (its own state file, submission log included) stands for a real venue: a resting
order fills there while the bot is down; after the restart the positions /positions and the risk
checks see, the store and the venue agree to the last unit, the fee counted once. A scripted venue
reports fills twice, and by feed and by the order call's answer.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from types import SimpleNamespace

import pytest

from bot import hookimpl
from bot.api import Context, RiskCheck, Strategy
from bot.bus import Bus
from bot.clock import Clock
from bot.commands import Caller
from bot.domain import (
    Fill,
    FillApplied,
    Liquidity,
    Order,
    OrderIntent,
    OrderReport,
    OrderState,
    OrderStatus,
    Side,
    TimeInForce,
)
from bot.tasks import Tasks
from plugins.paper.exchange import PaperExchange
from plugins.paper.settings import PaperSettings
from tests.fakes.venue import ScriptedVenue
from tests.helpers.waiting import wait_for

ADMIN = Caller("test", "root", "admin")


class Counting(Strategy):
    """Records every fill and update it is handed."""

    def __init__(self, *args):
        super().__init__(*args)
        self.fills: list[Fill] = []
        self.updates = []

    def on_fill(self, fill):
        self.fills.append(fill)

    def on_order_update(self, update):
        self.updates.append(update)


class CountingCheck(RiskCheck):
    def __init__(self, *args):
        super().__init__(*args)
        self.fills: list[tuple[str, Fill]] = []

    def check(self, intent, view):
        return None

    def on_fill(self, strategy, fill):
        self.fills.append((strategy, fill))


class counting_plugin:
    @staticmethod
    @hookimpl
    def register_strategies(register):
        register("counting", Counting)

    @staticmethod
    @hookimpl
    def register_risk_checks(register):
        register("counting", CountingCheck)


class FillingVenue(ScriptedVenue):
    """Fills every order at once, in full, and reports it the way some venues do: twice on the feed,
    and once more in the order call's answer."""

    trade_seq = 0

    async def place_order(self, order: Order) -> OrderState:
        self.submissions[order.client_order_id] += 1
        FillingVenue.trade_seq += 1
        fill = Fill(self.name, order.symbol, order.client_order_id, f"T{FillingVenue.trade_seq}", order.side,
                    order.price, order.qty, Decimal("0.25"), "USD", Liquidity.TAKER, 1)
        state = OrderState(order.client_order_id, OrderStatus.FILLED, f"X{FillingVenue.trade_seq}", order.qty,
                           order.price, (fill,))
        self.orders[order.client_order_id] = state
        for _ in range(2):  # the feed repeats itself
            self.ctx.bus.publish(fill)
            self.ctx.bus.publish(OrderReport(self.name, order.symbol, state, 1))
        return state


class filling_plugin:
    @staticmethod
    @hookimpl
    def register_exchanges(register):
        register("filling", FillingVenue)


PLUGINS = [("counting", counting_plugin), ("filling", filling_plugin)]
FILLING = """
[exchanges.v]
type = "filling"
[strategies.s]
type = "counting"
[risk.c]
type = "counting"
"""
"""A bot whose venue fills every order at once, reporting each fill three times, with counting strategy and check."""


def fill_alerts(seen: list) -> list:
    return [a for a in seen if a.kind == "fill"]


async def test_a_fill_reported_twice_by_feed_and_in_the_answer_is_applied_once_everywhere(make_bot):
    bot = await make_bot(FILLING, extra=PLUGINS)
    alerts: list = []
    bot.alerts.subscribe(alerts.append, "test")
    applied: list = []
    bot.bus.subscribe(FillApplied, applied.append, owner="test")
    ctx = bot.strategies["s"].ctx
    for n in range(3):
        ctx.submit(OrderIntent("s", "v", "BTC/USD", Side.BUY, Decimal("0.1"), Decimal(100 + n),
                               client_order_id=f"f-{n}"))  # prices apart: identical alerts would coalesce
    await wait_for(lambda: all(bot.executor.order(f"f-{n}").status is OrderStatus.FILLED for n in range(3)))
    await bot.executor.settle(5)
    await bot.executor.flush()
    await bot.executor.reconcile()  # a look-up reports the same fills once more

    assert bot.portfolio.position("v", "BTC/USD") == Decimal("0.3")
    assert bot.risk.view.position("v", "BTC/USD") == Decimal("0.3")
    stored = [f for _, f in bot.store.fills(strategy="s")]
    assert sorted(f.trade_id for f in stored) == sorted({f.trade_id for f in stored}) and len(stored) == 3
    assert len(bot.strategies["s"].fills) == 3
    assert len(bot.risk.checks[0].fills) == 3
    assert len(fill_alerts(alerts)) == 3
    assert sorted(a.fill.trade_id for a in applied) == sorted(f.trade_id for f in stored)  # the bus: once each
    for n in range(3):
        assert bot.store.get_order(f"f-{n}").fee == Decimal("0.25")  # counted once, stored with the order
    positions = await bot.commands.dispatch(ADMIN, "positions", [])
    assert any(row[2].startswith("0.3") for row in positions.rows[1:]), positions.rows


async def test_finished_orders_leave_the_executors_memory_and_their_fills_are_still_applied_once(make_bot,
                                                                                                monkeypatch):
    """The executor keeps the fill keys of the orders it holds, not of its whole history: once an order is final
    and written they go (the latest FINISHED_KEPT orders' are remembered), and a fill of it that comes again (a
    feed repeating itself, a look-up) is checked in the store when not remembered; a fill of it made late (a new
    trade) is applied, once."""
    from bot import execution

    monkeypatch.setattr(execution, "FINISHED_KEPT", 5)
    bot = await make_bot(FILLING, extra=PLUGINS)
    applied: list = []
    bot.bus.subscribe(FillApplied, applied.append, owner="test")
    ctx = bot.strategies["s"].ctx
    for n in range(20):
        ctx.submit(OrderIntent("s", "v", "BTC/USD", Side.BUY, Decimal("0.1"), Decimal(100 + n),
                               client_order_id=f"m-{n}"))
    await wait_for(lambda: all(bot.executor.order(f"m-{n}").status is OrderStatus.FILLED for n in range(20)))
    await bot.executor.settle(5)
    assert await bot.executor.flush()
    assert not bot.executor._applied  # every order final and written: nothing held for them
    assert list(bot.executor._finished) == [f"m-{n}" for n in range(15, 20)]  # the latest remembered
    store_reads: list[str] = []
    fill_stored = bot.store.fill_stored
    monkeypatch.setattr(bot.store, "fill_stored",
                        lambda exchange, trade_id: store_reads.append(trade_id) or fill_stored(exchange, trade_id))

    venue = bot.exchanges["v"]
    inline = bot.store.records_inline  # file-backed SQLite: a read is a call; PostgreSQL: off the loop
    for n in range(20):  # every fill comes again: on the feed, in a report, in the answer to a look-up
        state = venue.orders[f"m-{n}"]
        bot.bus.publish(state.fills[0])
        bot.executor.handle_report(OrderReport("v", "BTC/USD", state, 2))
        assert not bot.executor.apply_fill(state.fills[0])
    if inline:
        older = {venue.orders[f"m-{n}"].fills[0].trade_id for n in range(15)}
        assert set(store_reads) == older and len(store_reads) == 3 * 15  # the remembered ones cost no read
    else:  # each order only the store holds is read back on the writer's thread, its stored fills with it
        await wait_for(lambda: not bot.executor._looking_up, what="the orders read back")
    assert len(applied) == 20  # none of the repeats applied
    late = dataclasses.replace(venue.orders["m-3"].fills[0], trade_id="T-late", qty=Decimal("0.05"))
    if inline:
        assert bot.executor.apply_fill(late)  # a new trade of a finished order: applied
    else:  # held since its read-back, unless written and forgotten again meanwhile: then read back once more first
        bot.executor.apply_fill(late)
        await wait_for(lambda: len(applied) == 21 and not bot.executor._looking_up, what="the late fill applied")
    assert len(applied) == 21
    assert not bot.executor.apply_fill(late)  # and only once, before it is written
    await wait_for(lambda: not bot.executor._looking_up, what="a read-back of the repeat, if any")
    assert len(applied) == 21
    assert await bot.executor.flush()
    assert not bot.executor._applied and not bot.executor._from_store and len(bot.executor._finished) == 5
    assert not bot.executor.apply_fill(late)  # and after: the store has it

    assert bot.portfolio.position("v", "BTC/USD") == Decimal("2.05")
    assert bot.risk.view.position("v", "BTC/USD") == Decimal("2.05")
    assert len(bot.strategies["s"].fills) == 21 and len(bot.risk.checks[0].fills) == 21 and len(applied) == 21
    assert len(bot.store.fills(strategy="s")) == 21
    assert bot.store.get_order("m-3").fee == Decimal("0.50")  # each fill's fee counted once


# --- a fill made at the paper venue while the bot is down ----------------------------------------------

PAPER = """
on_shutdown = "keep"
[exchanges.paper]
tick_interval_ms = 0
volatility_bps = "20"
start_price = "30000"
[strategies.s]
type = "counting"
[risk.c]
type = "counting"
"""


def standalone_paper(data_dir, alerts: list | None = None) -> PaperExchange:
    """The paper venue on its own (the bot is down): the same state file, its market stepped by hand."""
    tasks = Tasks(on_error=lambda owner, what, exc: None)
    stand_in = SimpleNamespace(  # the part of bot.api.Context's host that a venue reaches
        bus=Bus(on_error=lambda owner, exc, event: None), clock=Clock(), data_dir=data_dir, mode="paper",
        create_task=lambda coro, owner, what: tasks.create(coro, owner=owner, what=what),
        emit_alert=(alerts.append if alerts is not None else lambda alert: None), exchanges={},
    )
    settings = dataclasses.replace(PaperSettings(), tick_interval_ms=0, volatility_bps=Decimal("20"),
                                   start_price=Decimal("30000"))
    return PaperExchange("paper", settings, Context(stand_in, "exchange", "paper"))


async def test_a_fill_made_while_the_bot_was_down_is_counted_once_after_the_restart(make_bot, tmp_path):

    first = await make_bot(PAPER, extra=PLUGINS)
    venue = first.exchanges["paper"]
    bid = venue.markets["BTC/USD"].book(0).bids[0][0]
    ctx = first.strategies["s"].ctx
    # one fill now (crossing: published and in the answer), one resting order that fills while we are down
    ctx.submit(OrderIntent("s", "paper", "BTC/USD", Side.BUY, Decimal("0.05"), bid + 100, tif=TimeInForce.IOC,
                           client_order_id="now-1"))
    ctx.submit(OrderIntent("s", "paper", "BTC/USD", Side.BUY, Decimal("0.1"), bid - Decimal("30"),
                           client_order_id="rest-1"))
    await wait_for(lambda: first.executor.order("rest-1").status is OrderStatus.OPEN
                   and first.executor.order("now-1").status.terminal)
    await first.stop()

    down = standalone_paper(tmp_path)
    await down.start()
    for _ in range(20_000):
        if (await down.fetch_order("BTC/USD", "rest-1")).status is OrderStatus.FILLED:
            break
        down.step()
    at_venue = (await down.fetch_order("BTC/USD", "rest-1"))
    assert at_venue.status is OrderStatus.FILLED
    await down.stop()

    second = await make_bot(PAPER, extra=PLUGINS)
    venue = second.exchanges["paper"]
    venue_fills = [f for cid in ("now-1", "rest-1") for f in (await venue.fetch_order("BTC/USD", cid)).fills]
    venue_position = sum(f.qty for f in venue_fills)
    venue_fees = {cid: sum(f.fee for f in venue_fills if f.client_order_id == cid) for cid in ("now-1", "rest-1")}
    await second.executor.flush()
    stored = [f for _, f in second.store.fills()]

    assert venue_position == Decimal("0.15")
    assert second.portfolio.position("paper", "BTC/USD") == venue_position
    assert second.risk.view.position("paper", "BTC/USD") == venue_position
    assert sorted(f.trade_id for f in stored) == sorted(f.trade_id for f in venue_fills)
    assert second.executor.order("rest-1").status is OrderStatus.FILLED
    for cid, fee in venue_fees.items():
        assert second.store.get_order(cid).fee == fee > 0
    # the fill made while we were down reached the risk checks once, the old one not again; strategies start
    # after recovery and read their orders and fills from the store
    assert second.strategies["s"].fills == []
    assert [f.client_order_id for _, f in second.risk.checks[0].fills] == ["rest-1"]
    positions = await second.commands.dispatch(ADMIN, "positions", [])
    assert any(row[2].startswith("0.15") for row in positions.rows[1:]), positions.rows
    await second.stop()

    third = await make_bot(PAPER, extra=PLUGINS)  # a plain restart reads the same figures back
    assert third.portfolio.position("paper", "BTC/USD") == Decimal("0.15")
    assert third.strategies["s"].fills == []
    assert len(third.store.fills()) == len(venue_fills)


@pytest.fixture(autouse=True)
def _clear_venues():
    ScriptedVenue.instances.clear()


async def test_the_paper_market_survives_a_full_disk_and_keeps_what_it_changed(tmp_path):
    import asyncio
    import sqlite3

    from sqlalchemy.exc import OperationalError

    alerts: list = []
    venue = standalone_paper(tmp_path, alerts)
    venue.settings = dataclasses.replace(venue.settings, tick_interval_ms=5)
    await venue.start()
    try:
        state = venue._state
        save = state.save
        full = {"on": True}

        def save_or_fail(changes):
            if full["on"]:
                raise OperationalError("UPDATE", {}, sqlite3.OperationalError("database or disk is full"))
            return save(changes)

        state.save = save_or_fail
        bid = venue.markets["BTC/USD"].book(0).bids[0][0]
        with pytest.raises(OperationalError):  # the order arrives, its commit fails: the answer is an error
            await venue.place_order(Order("full-1", "s", "paper", "BTC/USD", Side.BUY, Decimal("0.01"), bid - 5))
        for _ in range(200):
            await asyncio.sleep(0.01)
            if any("stalls" in a.message for a in alerts):
                break
        assert [a.message for a in alerts if "stalls" in a.message][0].startswith("paper paper: the market stalls")
        full["on"] = False
        for _ in range(500):
            await asyncio.sleep(0.01)
            if (await venue.fetch_order("BTC/USD", "full-1")) is not None and any("moves again" in a.message
                                                                                 for a in alerts):
                break
        assert any("moves again" in a.message for a in alerts)
        assert state.order("full-1") is not None  # the order the failed commit held was written after all
        assert len([a for a in alerts if "stalls" in a.message]) == 1
    finally:
        await venue.stop()
