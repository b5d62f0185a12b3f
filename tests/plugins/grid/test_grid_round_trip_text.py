"""The round trip's log line gives the average price traded as a price is shown (significant digits), not every
digit of a quotient that does not end."""

from __future__ import annotations

import logging
from decimal import Decimal

from bot.domain import OrderStatus

D = Decimal


async def test_an_average_sell_price_that_does_not_end_is_logged_as_a_price(make_grid, ctx, store, restart, caplog):
    """Slot 2 bought 0.9 at 120; its sell filled 0.3 at 131, was cancelled at the stop, and the rest (0.6) sold at
    130 after the restart: 117.3 / 0.9 = 130.333... (logged with 28 digits before)."""
    grid = await make_grid(post_only=False)
    grid.on_market(ctx.book("124.99", "125.01"))
    store.insert_fill(ctx.fill(grid, "g-2-1", qty="0.9"), "g")
    ctx.finish(grid, "g-2-1")
    assert ctx.last().client_order_id == "g-2-2"
    store.insert_fill(ctx.fill(grid, "g-2-2", qty="0.3", price="131"), "g")
    ctx.finish(None, "g-2-2", OrderStatus.CANCELLED)
    for order in ctx.orders.values():
        store.insert_order(order)

    again = restart()
    again._trade = 100
    grid2 = await make_grid(context=again, post_only=False)
    grid2.on_market(again.book("124.99", "125.01"))
    assert (again.last().client_order_id, again.last().qty) == ("g-2-3", D("0.6"))
    with caplog.at_level(logging.INFO, logger="tests.grid"):
        again.fill_all(grid2, "g-2-3")
    lines = [r.getMessage() for r in caplog.records if "round trip" in r.getMessage()]
    assert len(lines) == 1 and "round trip 120 -> 130.33333 done" in lines[0], lines
