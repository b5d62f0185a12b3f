"""The grid's last gaps (grid6): an ended order's missing fills estimated without a store read on the loop, a slot
write that fails written again promptly (and said so), and ``out_of_range = "shift"`` below the range."""

from __future__ import annotations

import threading
from decimal import Decimal

from sqlalchemy import event

from bot.domain import BookUpdate, OrderStatus, OrderUpdate, Side
from tests.fakes.venue import ScriptedVenue
from tests.fakes.venue import plugin as venue_plugin
from tests.helpers.waiting import wait_for
from tests.plugins.grid.test_grid_strategy import HOST_CONFIG

D = Decimal


async def test_an_ended_orders_missing_fills_are_estimated_without_reading_the_order_on_the_loop(make_bot,
                                                                                               postgresql,
                                                                                               monkeypatch):
    """Slot 0's buy ends cancelled having filled 0.5 by its answer, no fill of it delivered or stored, and the
    executor has forgotten the order (beyond the latest it keeps): the grid estimated the missing 0.5 and read the
    order with ``ctx.order`` to note the estimate's side, a SELECT on the loop (a stopped PostgreSQL server held the
    loop there). The side is the slot's own (a pending slot's order is its buy): no order is read on the loop, and
    the estimate is noted as a buy's."""
    ScriptedVenue.instances.clear()
    bot = await make_bot(HOST_CONFIG, extra=[("venue", venue_plugin)])
    grid, venue = bot.strategies["g"], bot.exchanges["v"]
    bot.bus.publish(BookUpdate("v", "BTC/USD", ((D("124.99"), D(1)),), ((D("125.01"), D(1)),), 1))
    await wait_for(lambda: len(venue.orders) == 3, what="the three buys below the market")
    cid = grid._slots[0].order_id
    with monkeypatch.context() as missed:
        missed.setattr(grid, "on_order_update", lambda update: None)  # the grid misses the buy's end
        bot.executor.cancel(cid)
        await wait_for(lambda: bot.executor.order(cid).status is OrderStatus.CANCELLED, what="the buy cancelled")
        assert await bot.executor.flush()
    bot.executor._written.pop(cid)  # forgotten: older than the latest orders the executor keeps
    assert grid.ctx.held_order(cid) is None
    loop_thread, on_loop = threading.current_thread(), []

    def before(conn, cursor, statement, parameters, context, executemany):
        if threading.current_thread() is loop_thread and "orders.client_order_id =" in statement:
            on_loop.append(parameters)

    event.listen(bot.store.engine, "before_cursor_execute", before)
    try:
        grid.on_order_update(OrderUpdate("v", "BTC/USD", cid, "g", OrderStatus.CANCELLED, D("0.5"), D(100), 3))
        await wait_for(lambda: grid._slots[0].state.value == "locked", what="the slot locked on the estimate")
    finally:
        event.remove(bot.store.engine, "before_cursor_execute", before)
    assert on_loop == []
    assert grid._estimated[cid] == (Side.BUY, D("0.5"), D(100))
