"""After a restart the grid never offers more base than it holds: a buy partly filled before the restart, or
filled while the bot was down, holds base that no other slot carries as "unsold" (each slot sells its own)."""

from __future__ import annotations

from decimal import Decimal

from bot.domain import OrderStatus, Side

D = Decimal


async def test_a_partly_filled_buy_from_before_a_restart_is_not_sold_by_another_slot(make_grid, ctx, store, restart):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))  # slots 0, 1, 2 buy 1 each at 100, 110, 120
    before = ctx.fill(grid, "g-2-1", qty="0.5")  # slot 2's buy half filled
    store.insert_fill(before, "g")  # the executor stored it; then the bot restarts

    again = restart()
    again._trade = 100
    grid2 = await make_grid(context=again)
    grid2.on_market(again.book("124.99", "125.01"))
    again.fill_all(grid2, "g-1-1")  # slot 1's buy fills: it holds 1 BTC
    grid2.on_market(again.book("114.99", "115.01"))  # below slot 1's sell price (120) ...
    assert again.cancelled == ["g-2-1"]  # ... where slot 2's half-filled buy rests: cancelled first
    again.finish(grid2, "g-2-1", OrderStatus.CANCELLED)  # slot 2 sells its 0.5 at 130; slot 1's sell goes out

    sell = next(i for i in again.submitted if i.client_order_id.startswith("g-1-") and i.side is Side.SELL)
    # The account holds 1.5 BTC: 1 of slot 1's, 0.5 bought by slot 2's buy (slot 2 sells it).
    assert sell.qty == D(1), f"slot 1 offers {sell.qty} BTC: slot 2's 0.5 counted as unsold"
    sells = [i for i in again.submitted if i.side is Side.SELL]
    assert sorted(i.qty for i in sells) == [D("0.5"), D(1)]
    assert sum(i.qty for i in sells) <= grid2._book.qty, "the grid offers more BTC than it holds"


async def test_two_buys_filled_while_the_bot_was_down_are_each_sold_once(make_grid, ctx, store, restart):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))  # slots 0, 1, 2 buy 1 each at 100, 110, 120
    for cid in ("g-1-1", "g-2-1"):  # both fill while the bot is down: the executor stored the fills
        store.insert_fill(ctx.fill(None, cid), "g")
        ctx.finish(None, cid)

    again = restart()
    grid2 = await make_grid(context=again)  # start settles slots 1 and 2 against the executor's records
    grid2.on_market(again.book("104.99", "105.01"))  # below both sell prices: the post-only sells go out

    sells = {i.client_order_id: i.qty for i in again.submitted if i.side is Side.SELL}
    assert grid2._book.qty == D(2)
    assert sum(sells.values()) <= D(2), f"the grid offers {sells} BTC for the 2 BTC it holds"
