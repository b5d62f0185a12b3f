"""The grid's last gaps (grid6): an ended order's missing fills estimated without a store read on the loop, a slot
write that fails written again promptly (and said so), and ``out_of_range = "shift"`` below the range."""

from __future__ import annotations

import asyncio
import threading
from decimal import Decimal

from sqlalchemy import event

from bot.domain import AlertLevel, BookUpdate, OrderStatus, OrderUpdate, Side
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


class FailingWrites:
    """The stand-in's ``write_later`` (inline), where a store read is a round trip: its next ``failures`` slot writes
    (``plugins.grid.models.save``) fail as a lost connection does."""

    def __init__(self, ctx, monkeypatch, failures: int):
        from plugins.grid import models

        self.failures, self.tries = failures, 0
        inline = ctx.write_later

        def write_later(fn, *args, **kwargs):
            if fn is models.save:
                self.tries += 1
                if self.failures:
                    self.failures -= 1
                    failed = asyncio.get_running_loop().create_future()
                    failed.set_exception(ConnectionError("server closed the connection unexpectedly"))
                    return failed
            return inline(fn, *args, **kwargs)

        monkeypatch.setattr(ctx.store, "fast", None)  # records_inline False: slot writes go through write_later
        monkeypatch.setattr(ctx, "write_later", write_later)


async def test_a_slot_write_that_fails_is_written_again_promptly_and_said_once(make_grid, ctx, monkeypatch, caplog):
    """Slot 0's buy is cancelled and the slot's write fails (the database dropped the connection): the slot row was
    written again only with the grid's next change, so with no further fill or order end it stayed unwritten (a
    restart reads the old row), said only by one ERROR line per failed write. Now the grid writes it again on its own,
    after 1 s, then twice as long each time up to 30 s (shortened here); the first failure is alerted once (WARNING),
    and the row written again is noted once (INFO)."""
    from plugins.grid import strategy
    from tests.plugins.grid.test_grid_strategy import stored

    monkeypatch.setattr(strategy, "WRITE_RETRY_FIRST_S", 0.01)
    monkeypatch.setattr(strategy, "WRITE_RETRY_MAX_S", 0.04)
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    assert len(ctx.submitted) == 3
    writes = FailingWrites(ctx, monkeypatch, failures=3)
    ctx.finish(grid, "g-0-1", OrderStatus.CANCELLED)
    assert grid._slots[0].state.value == "free"
    await wait_for(lambda: stored(grid, 0).state.value == "free", what="the freed slot written again")
    await wait_for(lambda: grid._write_failures == 0, what="the write's end seen by the grid")
    assert writes.tries == 4
    assert stored(grid, 0).order_id is None
    warnings = [a for a in ctx.alerts if "not written" in a[2]]
    assert len(warnings) == 1 and warnings[0][0] is AlertLevel.WARNING, ctx.alerts
    notes = [a for a in ctx.alerts if "written again" in a[2]]
    assert len(notes) == 1 and notes[0][0] is AlertLevel.INFO, ctx.alerts
    assert len([r for r in caplog.records if r.levelname == "ERROR"]) == 1


async def test_an_order_waiting_on_a_failed_slot_write_goes_out_once_it_is_written(make_grid, ctx, monkeypatch):
    """Slot 2's buy fills and its sell's slot row cannot be written: the sell is not sent (a restart must find the id
    it was sent under) and the slot waits. Written again on its own, the slot's sell goes out after its
    ``retry_after_s`` wait as before, with no other event needed than the book."""
    from plugins.grid import strategy
    from tests.plugins.grid.test_grid_strategy import stored

    monkeypatch.setattr(strategy, "WRITE_RETRY_FIRST_S", 0.01)
    grid = await make_grid(retry_after_s=0.1)
    grid.on_market(ctx.book("124.99", "125.01"))
    writes = FailingWrites(ctx, monkeypatch, failures=2)
    ctx.fill_all(grid, "g-2-1")
    assert ctx.submitted_ids() == ["g-0-1", "g-1-1", "g-2-1"]  # its sell's row not written: not sent
    await wait_for(lambda: stored(grid, 2).state.value == "locked", what="the slot written again")
    assert stored(grid, 2).order_id is None and writes.failures == 0
    ctx.clock.advance(0.1)
    grid.on_market(ctx.book("124.99", "125.01"))
    assert ctx.last().side is Side.SELL and ctx.last().price == D(130)


async def test_a_re_centred_layout_whose_write_failed_is_written_again(make_grid, ctx, monkeypatch, store):
    """The grid re-centres and the write of its new layout (with its slots) fails: the slots were written again with
    the next change, the layout never (its row kept the old range and shift count, which a restart lays the slots out
    from). It is written again with them now."""
    from plugins.grid import strategy
    from plugins.grid.models import load_grid

    monkeypatch.setattr(strategy, "WRITE_RETRY_FIRST_S", 0.01)
    grid = await make_grid(out_of_range="shift")
    grid.on_market(ctx.book("124.99", "125.01"))
    grid.on_market(ctx.book("199.99", "200.01"))
    for cid in ctx.cancelled[:-1]:
        ctx.finish(grid, cid, OrderStatus.CANCELLED)
    FailingWrites(ctx, monkeypatch, failures=1)
    ctx.finish(grid, ctx.cancelled[-1], OrderStatus.CANCELLED)  # every slot free: re-centred on 200
    assert grid._layout.lower == D(175)
    await wait_for(lambda: load_grid(store, "g")[0].shifts == 1, what="the new layout written again")
    assert (load_grid(store, "g")[0].lower, load_grid(store, "g")[0].upper) == (D(175), D(225))


# --- out_of_range = "shift" below the range -------------------------------------------------------------------------


async def test_shift_recentres_down_a_grid_holding_nothing_below_its_range(make_grid, ctx, store):
    """A shifting grid with the bid below ``lower`` and nothing bought (started there, or its buys refused on the
    way down): every buy is at or above the ask and waits for it, so the grid did nothing at all, and said nothing,
    for as long as the price stayed down, while above the range the same grid re-centres. It re-centres on the price
    now, as above (no slot holds inventory), and its buys go out below the ask."""
    from plugins.grid.models import load_grid

    grid = await make_grid(out_of_range="shift")
    grid.on_market(ctx.book("79.99", "80.01"))
    layout, _ = load_grid(store, "g")
    assert (layout.lower, layout.upper, layout.shifts) == (D(55), D(105), 1)
    assert [(i.side, i.price) for i in ctx.submitted] == [(Side.BUY, D(55)), (Side.BUY, D(65)), (Side.BUY, D(75))]
    assert "re-centred on 80.00: 55-105 (was 100-150)" in ctx.alerts[-1][2]


async def test_below_the_range_a_grid_holding_inventory_holds_and_says_so_once(make_grid, ctx, store):
    """Below ``lower`` a shifting grid whose slots hold what they bought on the way down does not re-centre (that
    would leave their sells, or sell at a loss): it holds, and says so once per excursion, as above the range."""
    from plugins.grid.models import load_grid

    grid = await make_grid(out_of_range="shift")
    grid.on_market(ctx.book("124.99", "125.01"))
    for cid in ("g-2-1", "g-1-1", "g-0-1"):
        ctx.fill_all(grid, cid)
    for bid in ("99", "95", "90"):
        grid.on_market(ctx.book(bid, D(bid) + D("0.01")))
    assert load_grid(store, "g")[0].shifts == 0 and ctx.cancelled == []
    notes = [a for a in ctx.alerts if "below the grid's lower price 100" in a[2]]
    assert len(notes) == 1 and "3 slots hold inventory" in notes[0][2], ctx.alerts
    assert grid.status()["state"] == "below range, holding"
    grid.on_market(ctx.book("101", "101.01"))
    assert "state" not in grid.status()
