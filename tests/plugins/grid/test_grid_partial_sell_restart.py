"""A sell partly filled that ended while the bot was down (cancelled at the stop): after the restart the slot sells
the rest, and the round trip's log line gives the prices it traded at, each fill counted once."""

from __future__ import annotations

import logging
from decimal import Decimal

from bot.domain import OrderStatus

D = Decimal


async def test_a_sell_partly_filled_before_a_restart_counts_its_fills_once_in_the_round_trip(make_grid, ctx, store,
                                                                                            restart, caplog):
    """Slot 2 bought 1 at 120; its sell (130, not post-only) filled 0.4 at 131 (a better price: the bid was above
    130 as it arrived), then was cancelled at the stop. At the restart the slot's end of that sell counted its 0.4,
    and the search for the slot's buy counted it again (a filled sell that is no longer the slot's order): the rest,
    0.6 sold at 130, closed a round trip logged "120 -> 130.5714285714285714285714286" (0.8 at 131, 0.6 at 130);
    what it traded at is 0.4 at 131 and 0.6 at 130: 130.4."""
    grid = await make_grid(post_only=False)
    grid.on_market(ctx.book("124.99", "125.01"))
    store.insert_fill(ctx.fill(grid, "g-2-1"), "g")
    ctx.finish(grid, "g-2-1")
    assert ctx.last().client_order_id == "g-2-2"
    store.insert_fill(ctx.fill(grid, "g-2-2", qty="0.4", price="131"), "g")
    ctx.finish(None, "g-2-2", OrderStatus.CANCELLED)  # at the stop, the bot not running any more
    for order in ctx.orders.values():
        store.insert_order(order)

    again = restart()
    again._trade = 100
    grid2 = await make_grid(context=again, post_only=False)
    slot = grid2._slots[2]
    assert slot.qty == D("0.6") and slot.sold_qty == D("0.4"), (slot.qty, slot.sold_qty)
    grid2.on_market(again.book("124.99", "125.01"))
    assert (again.last().client_order_id, again.last().qty) == ("g-2-3", D("0.6"))
    with caplog.at_level(logging.INFO, logger="tests.grid"):
        again.fill_all(grid2, "g-2-3")
    lines = [r.getMessage() for r in caplog.records if "round trip" in r.getMessage()]
    assert len(lines) == 1 and "round trip 120 -> 130.4 done" in lines[0], lines
