"""A buy partly filled before a restart and filled after it: the slot's figures are those of a run without the
restart. The fills delivered after the restart and those stored before it are counted together, each trade once
(the fill from before the restart, with its fee, is not replaced by an estimate)."""

from __future__ import annotations

from decimal import Decimal

from bot.domain import Side

D = Decimal


async def test_a_buy_partly_filled_before_a_restart_keeps_that_fills_fee(make_grid, ctx, store, restart):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))  # slot 2 buys 1 at 120 (g-2-1)
    before = ctx.fill(grid, "g-2-1", qty="0.4", fee="0.10")
    store.insert_fill(before, "g")  # the executor stored it; then the bot was killed

    again = restart()
    again._trade = 100  # trade ids go on from the venue's, not from 1
    grid2 = await make_grid(context=again)
    # the rest, 0.6, after the restart; not in the store yet (the executor writes it ~50 ms after the update)
    again.fill(grid2, "g-2-1", fee="0.15")
    again.finish(grid2, "g-2-1")

    slot = grid2._slots[2]
    # without the restart: 120 * 1 + 0.10 + 0.15
    assert slot.cost == D("120.25"), f"slot cost {slot.cost}: the fee of the fill from before the restart is lost"


async def test_a_buy_partly_filled_before_a_restart_sells_only_what_it_received(make_grid, ctx, store, restart):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    before = ctx.fill(grid, "g-2-1", qty="0.4", fee="0.001", fee_asset="BTC")
    store.insert_fill(before, "g")

    again = restart()
    again._trade = 100  # trade ids go on from the venue's, not from 1
    grid2 = await make_grid(context=again)
    grid2.on_market(again.book("124.99", "125.01"))
    again.fill(grid2, "g-2-1", fee="0.001", fee_asset="BTC")
    again.finish(grid2, "g-2-1")

    sell = again.last()
    assert sell.side is Side.SELL
    # the buy received 1 - 0.001 - 0.001 = 0.998 BTC (the grid's own ledger agrees); a run without the restart
    # offers 0.998
    assert grid2._book.qty == D("0.998")
    assert sell.qty == D("0.998"), f"the sell offers {sell.qty} BTC, more than the buy received"
