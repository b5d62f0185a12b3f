"""The grid reads no order from the store on the event loop where a read is a round trip (PostgreSQL): a slot's order
the executor no longer holds (a previous run's, or one whose end the grid missed and the executor has forgotten) is
read on the store writer's thread, so a server stopped with SIGSTOP (ARBOT_TEST_DB_URL) holds the grid, not the
loop."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from bot.domain import BookUpdate, OrderStatus
from tests.fakes.venue import ScriptedVenue
from tests.fakes.venue import plugin as venue_plugin
from tests.helpers.pg_stop import stopped_server
from tests.helpers.waiting import wait_for
from tests.plugins.grid.test_grid_strategy import HOST_CONFIG
from tests.test_store_off_loop import MAX_LAG_S, LagMeter

D = Decimal
STOPPED_S = 2.0


async def test_a_reconcile_reads_a_slots_forgotten_order_off_the_loop(make_bot, postgresql, monkeypatch):
    """Slot 0's buy was cancelled while the grid missed its end, and the executor has since forgotten the order
    (beyond the latest it keeps): the grid's reconcile read it with ``ctx.order``, on the loop, and a stopped server
    held the loop until it answered. It reads it with ``ctx.look_up_order`` now: the loop goes on, and the slot is
    settled (free, a new buy) once the server answers."""
    ScriptedVenue.instances.clear()
    bot = await make_bot(HOST_CONFIG, extra=[("venue", venue_plugin)])
    grid, venue = bot.strategies["g"], bot.exchanges["v"]
    bot.bus.publish(BookUpdate("v", "BTC/USD", ((D("124.99"), D(1)),), ((D("125.01"), D(1)),), 1))
    await wait_for(lambda: len(venue.orders) == 3, what="the three buys below the market")
    cid = f"g-{bot.executor.id_epoch}.0-1"
    with monkeypatch.context() as missed:
        missed.setattr(grid, "on_order_update", lambda update: None)  # the grid misses the buy's end
        bot.executor.cancel(cid)
        await wait_for(lambda: bot.executor.order(cid).status is OrderStatus.CANCELLED, what="the buy cancelled")
        assert await bot.executor.flush()
    bot.executor._written.pop(cid)  # forgotten: older than the latest orders the executor keeps
    assert grid.ctx.held_order(cid) is None and grid._slots[0].order_id == cid
    with LagMeter() as lag, stopped_server(bot.store.engine, max_s=STOPPED_S + 2) as server:
        await asyncio.sleep(0.05)  # the meter runs
        reconciling = asyncio.ensure_future(grid.reconcile())
        for _ in range(round(STOPPED_S / 0.05)):  # the server stays stopped meanwhile; the meter measures
            await asyncio.sleep(0.05)
        waited = not reconciling.done()  # it waits for the store
        server.resume()
        await asyncio.wait_for(reconciling, 10)
    assert lag.worst_s < MAX_LAG_S, f"the loop stalled {lag.worst_s:.2f} s"
    assert waited
    assert grid._slots[0].order_id != cid


async def test_a_start_reads_its_slots_orders_of_a_previous_run_off_the_loop(make_bot, postgresql, monkeypatch):
    """A grid starting with a slot whose order only the store holds (it ended while the bot was down, or its end was
    missed): start read that order with ``ctx.order`` on the loop, once per call (the slot's settling, its fills'
    check, its sells' reprices). It reads the slots' orders the executor does not hold in one call on the store
    writer's thread now, and settles the slot from it as before."""
    import threading

    from sqlalchemy import event

    from plugins.grid.strategy import GridStrategy

    ScriptedVenue.instances.clear()
    bot = await make_bot(HOST_CONFIG, extra=[("venue", venue_plugin)])
    grid, venue = bot.strategies["g"], bot.exchanges["v"]
    bot.bus.publish(BookUpdate("v", "BTC/USD", ((D("124.99"), D(1)),), ((D("125.01"), D(1)),), 1))
    await wait_for(lambda: len(venue.orders) == 3, what="the three buys below the market")
    cid = f"g-{bot.executor.id_epoch}.0-1"
    with monkeypatch.context() as missed:
        missed.setattr(grid, "on_order_update", lambda update: None)  # the grid misses the buy's end
        bot.executor.cancel(cid)
        await wait_for(lambda: bot.executor.order(cid).status is OrderStatus.CANCELLED, what="the buy cancelled")
        assert await bot.executor.flush()
    bot.executor._written.pop(cid)  # the previous run's: the executor does not hold it
    loop_thread, on_loop = threading.current_thread(), []

    def before(conn, cursor, statement, parameters, context, executemany):
        if threading.current_thread() is loop_thread and "orders.client_order_id =" in statement:
            on_loop.append(parameters)

    event.listen(bot.store.engine, "before_cursor_execute", before)
    try:
        again = GridStrategy("g", grid.settings, grid.ctx)  # the grid started anew on the same store
        await again.start()
    finally:
        event.remove(bot.store.engine, "before_cursor_execute", before)
    assert on_loop == []
    assert again._slots[0].order_id is None and again._slots[0].state.value == "free"


async def test_a_start_reads_its_slots_layout_fills_and_orders_off_the_loop(make_bot, postgresql):
    """start read the layout and slots (``load_grid``), what the orders close, the stored fills and the stored orders
    on the loop, each a round trip on PostgreSQL: a server that stops answering held the loop. It reads them all in
    one call on the store writer's thread now; no SELECT runs on the loop's thread while the grid starts."""
    import threading

    from sqlalchemy import event

    from plugins.grid.strategy import GridStrategy

    ScriptedVenue.instances.clear()
    bot = await make_bot(HOST_CONFIG, extra=[("venue", venue_plugin)])
    grid, venue = bot.strategies["g"], bot.exchanges["v"]
    bot.bus.publish(BookUpdate("v", "BTC/USD", ((D("124.99"), D(1)),), ((D("125.01"), D(1)),), 1))
    await wait_for(lambda: len(venue.orders) == 3, what="the three buys below the market")
    assert await bot.executor.flush()
    loop_thread, on_loop = threading.current_thread(), []

    def before(conn, cursor, statement, parameters, context, executemany):
        if threading.current_thread() is loop_thread and statement.lstrip().upper().startswith("SELECT"):
            on_loop.append(statement)

    event.listen(bot.store.engine, "before_cursor_execute", before)
    try:
        again = GridStrategy("g", grid.settings, grid.ctx)  # the grid started anew on the same store
        await again.start()
    finally:
        event.remove(bot.store.engine, "before_cursor_execute", before)
    assert on_loop == []
    assert [slot.order_id for slot in again._slots] == [slot.order_id for slot in grid._slots]


LOOP_LAG_S = 0.25
"""Another task runs within this while the server is stopped."""


async def _three_buys(make_bot):
    ScriptedVenue.instances.clear()
    bot = await make_bot(HOST_CONFIG, extra=[("venue", venue_plugin)])
    grid, venue = bot.strategies["g"], bot.exchanges["v"]
    bot.bus.publish(BookUpdate("v", "BTC/USD", ((D("124.99"), D(1)),), ((D("125.01"), D(1)),), 1))
    await wait_for(lambda: len(venue.orders) == 3, what="the three buys below the market")
    assert await bot.executor.flush()
    return bot, grid, venue


def _stored_slot(bot, index: int):
    from plugins.grid.models import load_grid

    return load_grid(bot.store, "g")[1][index]


async def test_an_order_end_writes_its_slot_off_the_loop(make_bot, postgresql):
    """Slot 0's buy is cancelled while the server is stopped: the grid wrote the freed slot with ``save`` on the
    loop, which a stopped server held until it answered. The write goes to the store writer's thread now: the loop
    goes on, and the slot's row says free once the server answers."""
    from bot.domain import OrderUpdate

    bot, grid, _ = await _three_buys(make_bot)
    cid = grid._slots[0].order_id
    ended = OrderUpdate("v", "BTC/USD", cid, "g", OrderStatus.CANCELLED, D(0), None, 2)
    with LagMeter() as lag, stopped_server(bot.store.engine, max_s=STOPPED_S + 2) as server:
        await asyncio.sleep(0.05)
        grid.on_order_update(ended)
        for _ in range(round(STOPPED_S / 0.05)):
            await asyncio.sleep(0.05)
        server.resume()
    assert lag.worst_s < LOOP_LAG_S, f"the loop stalled {lag.worst_s:.2f} s"
    assert grid._slots[0].state.value == "free"
    await wait_for(lambda: _stored_slot(bot, 0).state.value == "free", what="the freed slot written")
    assert _stored_slot(bot, 0).order_id is None


def _buy_fill(grid, cid: str):
    from bot.domain import Fill, Liquidity, Side

    return Fill("v", "BTC/USD", cid, f"T-{cid}", Side.BUY, grid._slots[2].buy_price, D(1), D(0), "USD",
                Liquidity.MAKER, 2)


async def test_a_filled_buys_sell_waits_for_its_slot_row_not_the_loop(make_bot, postgresql):
    """Slot 2's buy fills while the server is stopped: its slot locks and sells one level up. The slot row (the
    sell's client order id) must be durable before the sell is sent, so a restart never gives the slot a second
    order: the grid wrote it on the loop and the stopped server held the loop. Now the sell waits for the write on
    the store writer's thread; the loop goes on, and the sell is sent once the row is written."""
    from bot.domain import OrderUpdate

    bot, grid, venue = await _three_buys(make_bot)
    buy = grid._slots[2].order_id
    filled = OrderUpdate("v", "BTC/USD", buy, "g", OrderStatus.FILLED, D(1), grid._slots[2].buy_price, 2)
    with LagMeter() as lag, stopped_server(bot.store.engine, max_s=STOPPED_S + 2) as server:
        await asyncio.sleep(0.05)
        grid.on_fill(_buy_fill(grid, buy))
        grid.on_order_update(filled)
        for _ in range(round(STOPPED_S / 0.05)):
            await asyncio.sleep(0.05)
        sell = grid._slots[2].order_id
        sent_before_written = sell in venue.orders or bot.executor.held(sell) is not None
        server.resume()
    assert lag.worst_s < LOOP_LAG_S, f"the loop stalled {lag.worst_s:.2f} s"
    assert grid._slots[2].state.value == "locked" and sell != buy
    assert not sent_before_written
    await wait_for(lambda: sell in venue.orders, what="the sell sent once its slot row is written")
    assert _stored_slot(bot, 2).order_id == sell


async def test_a_buys_end_reads_its_stored_fills_off_the_loop(make_bot, postgresql):
    """Slot 2's buy ends filled, its fill stored but not among the fills delivered of it: the grid read the order's
    stored fills with ``ctx.stored_fills`` on the loop, which a stopped server held. It reads them on the store writer's
    thread now, and the slot locks with the fill's quantity (not an estimate) once the server answers."""
    from bot.domain import OrderUpdate

    bot, grid, venue = await _three_buys(make_bot)
    buy = grid._slots[2].order_id
    fill = _buy_fill(grid, buy)
    assert bot.store.insert_fill(fill, "g")
    grid._count(fill, None)  # in the grid's ledger (as a start counts the stored fills), not among the buy's fills
    filled = OrderUpdate("v", "BTC/USD", buy, "g", OrderStatus.FILLED, D(1), grid._slots[2].buy_price, 2)
    with LagMeter() as lag, stopped_server(bot.store.engine, max_s=STOPPED_S + 2) as server:
        await asyncio.sleep(0.05)
        grid.on_order_update(filled)
        for _ in range(round(STOPPED_S / 0.05)):
            await asyncio.sleep(0.05)
        server.resume()
    assert lag.worst_s < LOOP_LAG_S, f"the loop stalled {lag.worst_s:.2f} s"
    await wait_for(lambda: grid._slots[2].state.value == "locked", what="the slot locked")
    assert buy not in grid._estimated  # its stored fill counted, not an estimate
    await wait_for(lambda: grid._slots[2].order_id in venue.orders, what="the sell sent")


async def test_a_new_layout_reads_its_slots_and_orders_off_the_loop(make_bot, postgresql):
    """A grid started with a new ``lower`` while its buys rest lays itself out again once those buys have ended: it
    read the stored slots (``load_grid``) and orders on the loop then. It reads them in one call on the store
    writer's thread now (after the slot writes handed to it before); no SELECT runs on the loop's thread."""
    import dataclasses
    import threading

    from sqlalchemy import event

    from bot.domain import OrderUpdate
    from plugins.grid.strategy import GridStrategy

    bot, grid, _ = await _three_buys(make_bot)
    resting = [slot.order_id for slot in grid._slots if slot.order_id is not None]
    again = GridStrategy("g", dataclasses.replace(grid.settings, lower=D(90)), grid.ctx)
    await again.start()
    assert again._relayout is not None
    loop_thread, on_loop = threading.current_thread(), []

    def before(conn, cursor, statement, parameters, context, executemany):
        if threading.current_thread() is loop_thread and statement.lstrip().upper().startswith("SELECT"):
            on_loop.append(statement)

    event.listen(bot.store.engine, "before_cursor_execute", before)
    try:
        for cid in resting:
            again.on_order_update(OrderUpdate("v", "BTC/USD", cid, "g", OrderStatus.CANCELLED, D(0), None, 3))
        await wait_for(lambda: again._relayout is None, what="the grid laid out again")
    finally:
        event.remove(bot.store.engine, "before_cursor_execute", before)
    assert on_loop == []
    assert again._slots[0].buy_price == D(90)
