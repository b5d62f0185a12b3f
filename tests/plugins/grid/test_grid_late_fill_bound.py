"""A late fill of a sell older than the finished sells the grid remembers (FINISHED_KEPT, 10,000; 2 here): what the
sell closes is read off the loop, and the fill is booked once, to the lot of the sell's buy, as the ledger books it."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from bot.api.ledger import Position
from bot.domain import AlertLevel, OrderStatus
from plugins.grid import strategy as grid_module
from tests.helpers.waiting import wait_for

D = Decimal
KEPT = 2


@pytest.fixture(autouse=True)
def small_memory(monkeypatch):
    monkeypatch.setattr(grid_module, "FINISHED_KEPT", KEPT)


@pytest.fixture
def on_postgresql(ctx, monkeypatch):
    """The stand-in as on PostgreSQL: a store read is a round trip (never made on the loop), and the executor holds
    in memory only the orders not yet final (it forgets the others once written)."""
    monkeypatch.setattr(ctx.store, "fast", None)
    lookups: list[str] = []

    def held_order(cid):
        order = ctx.orders.get(cid)
        return order if order is not None and not order.status.terminal else None

    async def look_up_order(cid):
        lookups.append(cid)
        await asyncio.sleep(0)  # on the store writer's thread
        return ctx.orders.get(cid)

    monkeypatch.setattr(ctx, "held_order", held_order)
    monkeypatch.setattr(ctx, "order", held_order)  # (ctx.order would read the store: none on the loop)
    monkeypatch.setattr(ctx, "look_up_order", look_up_order)
    return lookups


async def read_and_booked(grid) -> None:
    """Until the sells' records read off the loop are read and their late fills booked (a loaded machine takes longer
    than any fixed sleep: 0.1 s was short of a retry after 0.01 s once in 80 runs beside three busy threads)."""
    await wait_for(lambda: not grid._reading_closes, what="the sell's record read and its late fills booked")


def ledger_realized(ctx, fills) -> Decimal:
    """The ledger's realized PnL of ``fills`` (in their time order): each sell matched to the lot its order names."""
    book, realized = Position(), D(0)
    for fill in sorted(fills, key=lambda f: f.ts_ns):
        realized += book.apply_fill(fill, ctx.orders[fill.client_order_id].closes)
    return realized


async def _sell_cancelled_then_history(grid, ctx, fills) -> str:
    """Slot 3 buys at 130 (the oldest lot), then slot 2 at 120; slot 2's sell (130) is cancelled with nothing filled,
    and slot 0 makes three round trips (100 -> 110) after it: more finished sells than the grid remembers."""
    grid.on_market(ctx.book("134.99", "135.01"))
    for cid in ("g-3-1", "g-2-1"):
        ctx.clock.advance(1)
        fills.append(ctx.fill(grid, cid))
        ctx.finish(grid, cid)
    sell = grid._slots[2].order_id
    assert sell == "g-2-2" and ctx.orders[sell].closes == "g-2-1"
    ctx.finish(grid, sell, OrderStatus.CANCELLED)  # nothing filled, says its end; the slot offers again in 30 s
    for _ in range(3):
        ctx.clock.advance(1)
        buy = grid._slots[0].order_id
        fills.append(ctx.fill(grid, buy))
        ctx.finish(grid, buy)
        for cid in list(ctx.cancelled):  # slot 1's buy at 110 makes way for slot 0's sell there
            if not ctx.orders[cid].status.terminal:
                ctx.finish(grid, cid, OrderStatus.CANCELLED)
        ctx.clock.advance(1)
        fills.append(ctx.fill(grid, grid._slots[0].order_id))
        ctx.finish(grid, grid._slots[0].order_id)
    assert sell not in grid._finished_closes  # beyond what the grid remembers
    return sell


async def test_a_late_fill_of_a_sell_beyond_the_remembered_ones_closes_its_buys_lot(make_grid, ctx, on_postgresql):
    """Slot 2's sell (closing slot 2's buy at 120) was cancelled, and more sells finished since than the grid keeps
    what they close; its fill of 0.4 at 130 comes late (matched before the cancel landed). The grid booked it
    against the oldest lot (slot 3's at 130: realized +0), where the ledger, reading the order, books it against
    slot 2's lot at 120 (+4): /status and /pnl disagreed. What the sell closes is read off the loop, and the fill
    booked once, to that lot; the slot offers only the 0.6 left."""
    grid = await make_grid(post_only=False)
    fills: list = []
    sell = await _sell_cancelled_then_history(grid, ctx, fills)
    before = grid._figures.realized
    ctx.clock.advance(1)
    late = ctx.fill(None, sell, qty="0.4")
    fills.append(late)
    grid.on_fill(late)
    grid.on_fill(late)  # delivered twice: booked once
    await read_and_booked(grid)
    assert grid._figures.realized - before == D(4), "booked against the wrong lot"
    assert grid._figures.realized == ledger_realized(ctx, fills)
    assert grid._slots[2].qty == D("0.6")
    assert on_postgresql == [sell]  # read once, off the loop
    ctx.clock.advance(30)
    grid.on_market(ctx.book("125", "125.01"))
    assert (ctx.last().client_order_id, ctx.last().qty) == ("g-2-3", D("0.6"))


async def test_a_late_fill_of_a_sell_no_record_names_is_booked_once_and_alerted_once(make_grid, ctx, on_postgresql):
    """The same sell, but its order cannot be read (gone from the store): the fill is booked once, to the oldest lot
    (as the ledger does with an order it cannot read), and alerted once however many of its fills come."""
    grid = await make_grid(post_only=False)
    fills: list = []
    sell = await _sell_cancelled_then_history(grid, ctx, fills)
    before = grid._figures.realized
    ctx.clock.advance(1)
    first, second = ctx.fill(None, sell, qty="0.2"), ctx.fill(None, sell, qty="0.2")
    del ctx.orders[sell]  # no record of it to read
    for fill in (first, second, first):
        grid.on_fill(fill)
    await read_and_booked(grid)
    assert grid._slots[2].qty == D("0.6")
    assert grid._book.qty == D("1.6")  # slot 3's and slot 2's lots, less the 0.4 the sell sold
    assert grid._figures.realized - before == 0  # 0.4 at 130 against the oldest lot, slot 3's at 130
    unmatched = [a for a in ctx.alerts if sell in a[2] and "closes" in a[2]]
    assert len(unmatched) == 1 and unmatched[0][0] is AlertLevel.WARNING, ctx.alerts
    assert "filled 0.4 BTC" in unmatched[0][2], unmatched


async def test_a_late_fill_of_a_sell_whose_slot_the_grid_no_longer_has_is_alerted(make_grid, ctx, store, restart):
    """Slot 4's sell (150) is cancelled and offered again, that one sells the lot; the grid is then laid out again with
    3 levels (2 slots: every slot free). A fill of 0.4 of the first sell comes late: the ledger counts it (the grid
    holds 0.4 BTC less than its slots say), but the grid said nothing: no slot 4 to book it to, the fill was dropped
    without a word, where the same fill on a slot the grid still has is alerted as base sold twice. It is alerted,
    once."""
    grid = await make_grid(post_only=False)
    grid.on_market(ctx.book("144.99", "145.01"))
    store.insert_fill(ctx.fill(grid, "g-4-1"), "g")
    ctx.finish(grid, "g-4-1")
    ctx.finish(grid, "g-4-2", OrderStatus.CANCELLED)
    ctx.clock.advance(30)
    grid.on_market(ctx.book("144.99", "145.01"))
    store.insert_fill(ctx.fill(grid, "g-4-3"), "g")
    ctx.finish(grid, "g-4-3")
    for cid in [c for c, o in ctx.orders.items() if not o.status.terminal]:  # the stop cancels what rests
        ctx.finish(grid, cid, OrderStatus.CANCELLED)
    for order in ctx.orders.values():
        store.insert_order(order)

    again = restart()
    again._trade = 100
    grid2 = await make_grid(context=again, post_only=False, levels=3)
    assert len(grid2._slots) == 2
    late = again.fill(None, "g-4-2", qty="0.4")
    grid2.on_fill(late)
    grid2.on_fill(late)  # delivered twice: counted and alerted once
    assert grid2._book.qty == D("-0.4")
    said = [a for a in again.alerts if "g-4-2" in a[2]]
    assert len(said) == 1 and said[0][0] is AlertLevel.WARNING and "0.4" in said[0][2], again.alerts


async def test_a_sells_record_the_store_cannot_read_yet_is_read_again(make_grid, ctx, on_postgresql, monkeypatch):
    """The store fails the read (a dropped connection): the fill waits, and the order is read again (after 1 s,
    doubling; shortened here) rather than booked against the wrong lot or alerted as unreadable."""
    from sqlalchemy.exc import OperationalError

    monkeypatch.setattr(grid_module, "WRITE_RETRY_FIRST_S", 0.01)
    grid = await make_grid(post_only=False)
    fills: list = []
    sell = await _sell_cancelled_then_history(grid, ctx, fills)
    before = grid._figures.realized
    reads = ctx.look_up_order

    async def failing_once(cid):
        monkeypatch.setattr(ctx, "look_up_order", reads)
        raise OperationalError("SELECT ...", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(ctx, "look_up_order", failing_once)
    ctx.clock.advance(1)
    grid.on_fill(ctx.fill(None, sell, qty="0.4"))
    assert grid._figures.realized == before  # waiting for the read
    await read_and_booked(grid)
    assert grid._figures.realized - before == D(4) and grid._slots[2].qty == D("0.6")
    assert on_postgresql == [sell] and not [a for a in ctx.alerts if sell in a[2]], ctx.alerts
