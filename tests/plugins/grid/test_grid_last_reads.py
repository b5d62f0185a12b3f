"""The grid's last reads of an order on the event loop (grid7): what its open orders' ends and its finished orders'
late fills need is taken from what the grid holds (its slots, its finished sells) or the executor's memory, never
from the store on the loop (PostgreSQL: a stopped server held the whole bot)."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from decimal import Decimal

from sqlalchemy import event

from bot.domain import BookUpdate, Fill, Liquidity, OrderReport, OrderState, OrderStatus, Side
from tests.fakes.venue import ScriptedVenue
from tests.fakes.venue import plugin as venue_plugin
from tests.helpers.waiting import wait_for
from tests.plugins.grid.test_grid_strategy import HOST_CONFIG

D = Decimal


@contextmanager
def order_reads_on_the_loop(bot):
    """The orders read by client order id on the loop's thread while the block runs (each a round trip)."""
    loop_thread, on_loop = threading.current_thread(), []

    def before(conn, cursor, statement, parameters, context, executemany):
        if threading.current_thread() is loop_thread and "orders.client_order_id =" in statement:
            on_loop.append(parameters)

    event.listen(bot.store.engine, "before_cursor_execute", before)
    try:
        yield on_loop
    finally:
        event.remove(bot.store.engine, "before_cursor_execute", before)


async def _ended_unseen(bot, grid, monkeypatch, cid: str) -> None:
    """``cid`` is cancelled (by hand, or by the venue), the grid missing its end (caught by a reconcile later), and
    the executor forgets the order once written (older than the latest final orders it keeps)."""
    with monkeypatch.context() as missed:
        missed.setattr(grid, "on_order_update", lambda update: None)
        bot.executor.cancel(cid)
        await wait_for(lambda: bot.executor.order(cid).status is OrderStatus.CANCELLED, what="the buy cancelled")
        assert await bot.executor.flush()
    bot.executor._written.pop(cid)
    assert grid.ctx.held_order(cid) is None


async def test_a_sell_clearing_its_way_reads_no_order_on_the_loop(make_bot, postgresql, monkeypatch):
    """Slot 2's buy (120) is cancelled, the grid missing its end, and the executor has forgotten it; the price gaps
    down and slot 1's buy fills: its sell at 120 would meet slot 2's buy, which the grid asks whether it is known to
    have ended (:meth:`_known_ended`) before cancelling it. That asked ``ctx.order``: a SELECT on the loop. Now only
    what the grid and the executor hold in memory answer: not known ended, so a cancel is asked (of an order the
    executor no longer holds: nothing happens) and the sell waits for the buy's end, which a reconcile reads off the
    loop."""
    ScriptedVenue.instances.clear()
    bot = await make_bot(HOST_CONFIG, extra=[("venue", venue_plugin)])
    grid = bot.strategies["g"]
    bot.bus.publish(BookUpdate("v", "BTC/USD", ((D("124.99"), D(1)),), ((D("125.01"), D(1)),), 1))
    await wait_for(lambda: len(bot.exchanges["v"].orders) == 3, what="the three buys below the market")
    two, one = grid._slots[2].order_id, grid._slots[1].order_id
    await _ended_unseen(bot, grid, monkeypatch, two)
    bot.bus.publish(BookUpdate("v", "BTC/USD", ((D("109.99"), D(1)),), ((D("110.01"), D(1)),), 2))  # a gap down
    with order_reads_on_the_loop(bot) as on_loop:
        bot.bus.publish(Fill("v", "BTC/USD", one, "T1", Side.BUY, D(110), D(1), D(0), "USD", Liquidity.MAKER, 3))
        bot.bus.publish(OrderReport("v", "BTC/USD", OrderState(one, OrderStatus.FILLED, "X", D(1), D(110)), 3))
        await wait_for(lambda: grid._slots[1].state.value == "locked", what="slot 1 holding what it bought")
    assert on_loop == []
    assert grid._slots[1].order_id is None  # its sell waits for slot 2's buy to end
    await grid.reconcile()  # slot 2's buy read off the loop: cancelled, so slot 1 sells at 120
    await wait_for(lambda: grid._slots[1].order_id in bot.exchanges["v"].orders, what="slot 1's sell at the venue")
    assert grid._slots[2].state.value == "free"
    assert bot.executor.order(grid._slots[1].order_id).price == D(120)


async def test_a_late_fill_of_a_forgotten_sell_reads_no_order_on_the_loop(make_bot, postgresql, monkeypatch):
    """Slot 2's sell is cancelled (nothing filled, says its end) and a fill of it comes after all (matched before the
    cancel landed) while the grid is not running (the host holds its fills: starting, or stopped for the store); the
    executor has forgotten the order when the host hands the fill over. What the sell closes was read with
    ``ctx.order``, a SELECT on the loop. The grid keeps what its finished sells close (the newest FINISHED_KEPT): no
    read, and the ledger's lot of the slot's buy is what the fill closes."""
    ScriptedVenue.instances.clear()
    bot = await make_bot(HOST_CONFIG, extra=[("venue", venue_plugin)])
    grid = bot.strategies["g"]
    bot.bus.publish(BookUpdate("v", "BTC/USD", ((D("124.99"), D(1)),), ((D("125.01"), D(1)),), 1))
    await wait_for(lambda: len(bot.exchanges["v"].orders) == 3, what="the three buys below the market")
    buy = grid._slots[2].order_id
    bot.bus.publish(Fill("v", "BTC/USD", buy, "T1", Side.BUY, D(120), D(1), D(0), "USD", Liquidity.MAKER, 2))
    bot.bus.publish(OrderReport("v", "BTC/USD", OrderState(buy, OrderStatus.FILLED, "X", D(1), D(120)), 2))
    await wait_for(lambda: grid._slots[2].order_id is not None and grid._slots[2].state.value == "locked",
                   what="the sell one step up")
    sell = grid._slots[2].order_id
    await wait_for(lambda: sell in bot.exchanges["v"].orders, what="the sell at the venue")
    bot.executor.cancel(sell)
    await wait_for(lambda: grid._slots[2].order_id is None, what="the sell's end seen by the slot")
    held = []
    with monkeypatch.context() as away:  # the grid not running: the host holds its fills
        away.setattr(grid, "on_fill", held.append)
        bot.bus.publish(Fill("v", "BTC/USD", sell, "T2", Side.SELL, D(130), D("0.4"), D(0), "USD", Liquidity.MAKER,
                             3))
        await wait_for(lambda: held, what="the sell's late fill")
    assert await bot.executor.flush()
    bot.executor._written.pop(sell, None)
    assert grid.ctx.held_order(sell) is None
    with order_reads_on_the_loop(bot) as on_loop:
        grid.on_fill(held[0])  # handed over
    assert on_loop == []
    assert grid._slots[2].qty == D("0.6")
