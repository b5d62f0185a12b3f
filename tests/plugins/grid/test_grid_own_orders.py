"""The grid never bids against its own offer: no buy rests at or above the price at which a slot sells what it holds
(on a venue that would be a post-only buy refused against our own sell, or a trade with ourselves)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.domain import Side

D = Decimal


def resting(ctx) -> list[tuple[Side, Decimal]]:
    return [(o.side, o.price) for o in ctx.orders.values() if not o.status.terminal]


@pytest.mark.parametrize("post_only", [True, False])
async def test_no_buy_at_the_price_a_slot_sells_at(make_grid, ctx, post_only):
    grid = await make_grid(post_only=post_only)
    grid.on_market(ctx.book("124.99", "125.01"))  # buys at 100, 110, 120
    grid.on_market(ctx.book("119.99", "120.00"))
    ctx.fill_all(grid, "g-2-1")  # slot 2 holds 1 BTC and offers it at 130
    assert ctx.last().side is Side.SELL and ctx.last().price == D(130)

    grid.on_market(ctx.book("129.99", "130.01"))  # slot 3 buys at 130 once the ask is above it ...
    buys = [price for side, price in resting(ctx) if side is Side.BUY]
    assert max(buys) < D(130), f"the grid bids {max(buys)} against its own offer at 130: {resting(ctx)}"

    ctx.fill_all(grid, "g-2-2")  # ... once slot 2 has sold there
    assert (ctx.last().side, ctx.last().price, ctx.last().client_order_id) == (Side.BUY, D(130), "g-3-1")
