"""The bot cancels its resting orders when it stops; at the next start the grid puts them back at once (a wait of
``retry_after_s`` is for an order refused, vetoed or failed while it runs, not for its own shutdown's cancels)."""

from __future__ import annotations

from decimal import Decimal

from bot.domain import OrderStatus, Side

D = Decimal


async def test_orders_cancelled_at_shutdown_are_placed_again_at_start(make_grid, ctx, restart):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))  # buys at 100, 110, 120
    ctx.fill_all(grid, "g-2-1")  # slot 2 holds 1 BTC, offered at 130 (g-2-2)
    for cid, order in ctx.orders.items():  # the bot stops: the executor cancels what rests
        if not order.status.terminal:
            ctx.finish(None, cid, OrderStatus.CANCELLED, "cancelled by request")

    again = restart()
    grid2 = await make_grid(context=again)
    grid2.on_market(again.book("124.99", "125.01"))  # the first book after the start
    placed = {(i.side, i.price) for i in again.submitted}
    assert placed == {(Side.BUY, D(100)), (Side.BUY, D(110)), (Side.SELL, D(130))}, placed
