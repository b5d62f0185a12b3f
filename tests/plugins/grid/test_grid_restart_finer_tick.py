"""A restart after the venue's tick got finer (grid7): the grid's own sell resting at its old grid price is recognised
as such, not as a sell offered above the range, and a round trip's log line gives the prices it traded at."""

from __future__ import annotations

import logging
from decimal import Decimal

from bot.domain import OrderStatus, Side

D = Decimal

GEOMETRIC = dict(lower=D(100), upper=D(200), levels=4, spacing="geometric")
"""Levels 100, 125.992..., 158.740..., 200: slot 1 buys at 125.99 and sells at 158.75 on a tick of 0.01, 158.741 on
one of 0.001."""


def _restarted_on_finer_tick(ctx):
    """A new stand-in context on the same store and executor records (each order stored, as the host stores every
    order it accepts), with the market's tick now 0.001."""
    from bot.domain import MarketInfo
    from tests.plugins.grid import conftest

    for order in ctx.orders.values():
        if ctx.store.get_order(order.client_order_id) is None:
            ctx.store.insert_order(order)
    market = MarketInfo(symbol="BTC/USD", base="BTC", quote="USD", tick_size=D("0.001"), lot_size=D("0.001"),
                        min_qty=D("0.001"), min_notional=D("5"))
    return conftest.StandInContext(ctx.store, ctx.clock, orders=ctx.orders, market=market)


async def test_a_restart_on_a_finer_tick_keeps_the_grids_own_sell_resting_at_its_old_price(make_grid, ctx):
    """Slot 1's sell rests at 158.75 (its level on a tick of 0.01) when the bot stops (``on_shutdown = "keep"``, or a
    crash); it restarts with the tick now 0.001, where the slot sells at 158.741. The grid took the resting sell for
    one it had offered above the range (a tick above a bid above ``upper``) and cancelled it as soon as the bid was
    inside the range ("bid back inside the grid; cancelling sell g-1-2 to offer it at 158.741"), though the bid never
    left the range. It is the grid's own sell at its price under the tick it was placed on: it keeps resting."""
    grid = await make_grid(**GEOMETRIC)
    grid.on_market(ctx.book("129.99", "130.01"))
    ctx.fill_all(grid, "g-1-1")
    assert (ctx.last().client_order_id, ctx.last().side, ctx.last().price) == ("g-1-2", Side.SELL, D("158.75"))

    again = _restarted_on_finer_tick(ctx)
    grid = await make_grid(context=again, **GEOMETRIC)
    assert grid._slots[1].sell_price == D("158.741")  # the slot's price on the new tick
    grid.on_market(again.book("129.99", "130.01"))
    assert again.cancelled == []
    assert grid._slots[1].order_id == "g-1-2"
    again.fill_all(grid, "g-1-2")
    assert grid.status()["slots completed"] == "1"


async def test_a_restart_on_a_finer_tick_still_returns_a_sell_offered_above_the_range(make_grid, ctx):
    """The other side of the same judgement: a sell the grid offered a tick above a bid above the range (shift) is
    still recognised after a restart on a finer tick, and cancelled once the bid is back inside the range."""
    grid = await make_grid(out_of_range="shift", **GEOMETRIC)
    grid.on_market(ctx.book("129.99", "130.01"))
    ctx.fill_all(grid, "g-1-1")
    ctx.finish(grid, "g-1-2", OrderStatus.CANCELLED)  # say, cancelled by hand: offered again after retry_after_s
    ctx.clock.advance(60)
    grid.on_market(ctx.book("210", "210.01"))  # above the range: offered a tick above the bid
    assert ctx.last("g-1-3").price == D("210.01")

    again = _restarted_on_finer_tick(ctx)
    grid = await make_grid(context=again, out_of_range="shift", **GEOMETRIC)
    grid.on_market(again.book("129.99", "130.01"))
    assert again.cancelled == ["g-1-3"]


async def test_a_restart_after_the_tick_got_finer_while_running_keeps_the_resting_sell(make_grid, ctx):
    """The tick gets finer while the grid runs: the slots move onto it at once (their rows say 158.741) while slot 1's
    sell keeps resting at 158.75. A restart then found the resting sell above the slot's stored price and took it for
    one offered above the range. It is not: 158.75 is inside the range, where no sell offered above it can be."""
    from tests.plugins.grid import conftest

    grid = await make_grid(**GEOMETRIC)
    grid.on_market(ctx.book("129.99", "130.01"))
    ctx.fill_all(grid, "g-1-1")
    finer = _restarted_on_finer_tick(ctx)
    ctx._exchange = finer._exchange
    await grid.reconcile()  # the venue's rules read again: the slots move onto the finer tick
    assert grid._slots[1].sell_price == D("158.741") and ctx.cancelled == []

    again = conftest.StandInContext(ctx.store, ctx.clock, orders=ctx.orders, market=ctx._exchange._market)
    grid = await make_grid(context=again, **GEOMETRIC)
    grid.on_market(again.book("129.99", "130.01"))
    assert again.cancelled == []


async def test_a_round_trip_logs_the_prices_it_traded_at_after_a_tick_change(make_grid, ctx, caplog):
    """Slot 1 bought at 125.99 and sells at 158.75 on a tick of 0.01; the bot restarts on a tick of 0.001 (the slot's
    prices are 125.992 and 158.741 now) and the sell fills at 158.75. The round trip's log line gave the slot's
    current prices ("round trip 125.992 -> 158.741"), not the prices traded."""
    grid = await make_grid(**GEOMETRIC)
    grid.on_market(ctx.book("129.99", "130.01"))
    ctx.fill_all(grid, "g-1-1")
    again = _restarted_on_finer_tick(ctx)
    grid = await make_grid(context=again, **GEOMETRIC)
    grid.on_market(again.book("129.99", "130.01"))
    with caplog.at_level(logging.INFO, logger="tests.grid"):
        again.fill_all(grid, "g-1-2")
    lines = [r.getMessage() for r in caplog.records if "round trip" in r.getMessage()]
    assert len(lines) == 1 and "round trip 125.99 -> 158.75 done" in lines[0], lines


TOP = dict(lower=D(100), upper=D("150.05"), levels=6)
"""Levels 100, 110.01, 120.02, 130.03, 140.04, 150.05: on a tick of 0.1 the top slot (4) sells at 150.1, a tick above
``upper``; on a tick of 0.01 at 150.05."""


def _on_tick(ctx, tick: str):
    """A new stand-in context on the same store and executor records (each order and fill stored, as the host stores
    them), the market's tick now ``tick``."""
    import dataclasses

    from tests.plugins.grid import conftest

    for order in ctx.orders.values():
        if ctx.store.get_order(order.client_order_id) is None:
            ctx.store.insert_order(order)
    market = dataclasses.replace(conftest.MARKET, tick_size=D(tick))
    return conftest.StandInContext(ctx.store, ctx.clock, orders=ctx.orders, market=market)


async def _fresh_prices(make_grid, tick: str):
    """The slots' prices a grid started afresh on a tick of ``tick`` lays out (another store: nothing stored)."""
    import dataclasses

    from bot.store import Store
    from tests.plugins.grid import conftest

    store = Store("sqlite://").open()
    try:
        fresh = conftest.StandInContext(store, conftest.ManualClock(),
                                        market=dataclasses.replace(conftest.MARKET, tick_size=D(tick)))
        grid = await make_grid(context=fresh, **TOP)
        return [(slot.buy_price, slot.sell_price) for slot in grid._slots]
    finally:
        store.close()


async def _top_slot_selling_on_coarse_tick(make_grid, ctx):
    """A grid on a tick of 0.1 whose top slot bought at 140 and offers its lot at 150.1 (g-4-2)."""
    from tests.plugins.grid import conftest

    coarse = _on_tick(ctx, "0.1")
    ctx._exchange = coarse._exchange
    grid = await make_grid(**TOP)
    grid.on_market(ctx.book("145", "145.1"))
    bought = ctx.fill(grid, "g-4-1")
    ctx.finish(grid, "g-4-1")
    ctx.store.insert_fill(bought, "g")
    assert (ctx.last().client_order_id, ctx.last().price) == ("g-4-2", D("150.1"))
    assert isinstance(ctx._exchange, conftest.StandInExchange)
    return grid


async def test_a_second_restart_on_a_finer_tick_keeps_the_top_slots_own_sell(make_grid, ctx):
    """The tick goes from 0.1 to 0.01 between two runs: the first restart moves the top slot onto the new layout
    (150.05) and writes it, while its own sell keeps resting at 150.1, a tick of 0.1 above ``upper``. A second restart
    then read that sell as one offered above the range (above ``upper`` and above the slot's stored price, 150.05)
    and cancelled it as soon as the bid was inside the range ("cancelling sell g-4-2 to offer it at 150.05"): the
    grid's own order, cancelled for nothing, its place in the queue lost. It keeps resting; the slots' prices are a
    fresh start's on the new tick, and the lot sells once, as bought."""
    await _top_slot_selling_on_coarse_tick(make_grid, ctx)
    first = _on_tick(ctx, "0.01")
    grid = await make_grid(context=first, **TOP)
    grid.on_market(first.book("145", "145.1"))
    assert first.cancelled == []

    second = _on_tick(ctx, "0.01")
    grid = await make_grid(context=second, **TOP)
    assert [(slot.buy_price, slot.sell_price) for slot in grid._slots] == await _fresh_prices(make_grid, "0.01")
    grid.on_market(second.book("145", "145.1"))
    assert second.cancelled == [], "the grid cancelled its own top sell"
    assert grid._slots[4].order_id == "g-4-2" and grid._slots[4].qty == D(1)
    second.fill_all(grid, "g-4-2")
    assert grid.status()["slots completed"] == "1" and grid._book.qty == 0
    assert grid._figures.realized == D("10.1")  # 150.1 - 140: the lot the sell closes, as the ledger books it


async def test_a_restart_after_a_finer_tick_while_running_keeps_the_top_slots_own_sell(make_grid, ctx):
    """The same after the tick got finer while the grid ran: the slots moved onto it at once (their rows say 150.05)
    while the top slot's own sell kept resting at 150.1; a restart cancelled it."""
    grid = await _top_slot_selling_on_coarse_tick(make_grid, ctx)
    ctx._exchange = _on_tick(ctx, "0.01")._exchange
    await grid.reconcile()  # the venue's rules read again: the slots move onto the finer tick
    assert grid._slots[4].sell_price == D("150.05") and ctx.cancelled == []

    again = _on_tick(ctx, "0.01")
    grid = await make_grid(context=again, **TOP)
    assert [(slot.buy_price, slot.sell_price) for slot in grid._slots] == await _fresh_prices(make_grid, "0.01")
    grid.on_market(again.book("145", "145.1"))
    assert again.cancelled == [], "the grid cancelled its own top sell"
    again.fill_all(grid, "g-4-2")
    assert grid.status()["slots completed"] == "1" and grid._book.qty == 0
