"""``out_of_range = "shift"`` follows the market with a post-only slot whose sell would cross: a buy that filled
after the bid passed its sell price (or a sell waiting for the bid to come back when it leaves the range) offers
one tick above the bid, a maker order worth more than its step; once it has sold, the grid re-centres."""

from __future__ import annotations

from decimal import Decimal

from bot.domain import OrderStatus, Side
from plugins.grid.models import load_grid

D = Decimal


async def test_a_fill_heard_of_above_the_range_is_offered_above_the_bid_and_the_grid_then_shifts(make_grid, ctx, store):
    grid = await make_grid(out_of_range="shift")
    grid.on_market(ctx.book("124.99", "125.01"))
    ctx.fill(grid, "g-2-1")
    grid.on_market(ctx.book("151", "151.01"))  # the bid left the range before we heard the buy filled
    ctx.finish(grid, "g-2-1")

    sell = ctx.last()
    assert (sell.side, sell.price, sell.qty, sell.closes, sell.post_only) == (Side.SELL, D("151.01"), D(1), "g-2-1",
                                                                              True)
    assert load_grid(store, "g")[0].shifts == 0  # the shift begun at 151 is abandoned: slot 2 holds 1 BTC
    for cid in ("g-0-1", "g-1-1", "g-3-1", "g-4-1"):
        ctx.finish(grid, cid, OrderStatus.CANCELLED)
    ctx.fill_all(grid, sell.client_order_id)  # sold above its step: nothing is held any more
    assert grid._slots[2].profit == D("31.01")

    grid.on_market(ctx.book("151", "151.01"))  # the shift goes ahead: it cancels slot 2's new buy at 120
    assert ctx.cancelled[-1] == "g-2-3"
    ctx.finish(grid, "g-2-3", OrderStatus.CANCELLED)
    layout = load_grid(store, "g")[0]
    assert (layout.shifts, grid.status()["slots"]) == (1, "2 free / 3 pending / 0 locked")
    assert grid._book.qty == 0


async def test_a_sell_waiting_for_the_bid_is_offered_above_it_once_the_bid_leaves_the_range(make_grid, ctx):
    grid = await make_grid(out_of_range="shift")
    grid.on_market(ctx.book("124.99", "125.01"))
    ctx.fill(grid, "g-2-1")
    grid.on_market(ctx.book("135", "135.01"))  # inside the range, above the slot's sell price (130)
    ctx.finish(grid, "g-2-1")
    assert ctx.last().side is Side.BUY  # the post-only sell waits for the bid to come back below 130

    grid.on_market(ctx.book("152", "152.02"))  # the market leaves the range: waiting would block the shift
    assert (ctx.last().side, ctx.last().price, ctx.last().qty) == (Side.SELL, D("152.01"), D(1))


async def test_hold_keeps_waiting_for_the_bid_to_come_back(make_grid, ctx):
    grid = await make_grid(out_of_range="hold")
    grid.on_market(ctx.book("124.99", "125.01"))
    ctx.fill(grid, "g-2-1")
    grid.on_market(ctx.book("151", "151.01"))
    ctx.finish(grid, "g-2-1")
    assert ctx.last().side is Side.BUY  # hold sells at the grid's own price only
    grid.on_market(ctx.book("129.9", "129.91"))
    assert ctx.cancelled == ["g-3-1", "g-4-1"]  # the buys placed at 151 rest at and above 130: cancelled first
    for cid in ctx.cancelled:
        ctx.finish(grid, cid, OrderStatus.CANCELLED)
    assert (ctx.last().side, ctx.last().price) == (Side.SELL, D(130))


async def test_a_sell_offered_above_the_range_returns_to_its_grid_price_once_the_bid_is_back_inside(make_grid, ctx):
    """Offered a tick above a bid that left the range, the sell is cancelled once the bid is back inside the range,
    and the slot sells at its grid price as any other: waiting, post-only, for the bid to fall below it."""
    grid = await make_grid(out_of_range="shift")
    grid.on_market(ctx.book("124.99", "125.01"))
    ctx.fill(grid, "g-2-1")
    grid.on_market(ctx.book("151", "151.01"))
    ctx.finish(grid, "g-2-1")
    assert (ctx.last().side, ctx.last().price) == (Side.SELL, D("151.01"))
    for cid in ("g-0-1", "g-1-1", "g-3-1", "g-4-1"):
        ctx.finish(grid, cid, OrderStatus.CANCELLED)  # the shift's cancels

    grid.on_market(ctx.book("140", "140.01"))  # back inside the range: 151.01 is no longer the grid's price
    assert ctx.cancelled[-1] == "g-2-2"
    grid.on_market(ctx.book("139", "139.01"))
    assert ctx.cancelled.count("g-2-2") == 1  # asked once ...
    await grid.reconcile()
    assert ctx.cancelled.count("g-2-2") == 2  # ... and again by reconcile (it may have missed an order on its way)
    ctx.finish(grid, "g-2-2", OrderStatus.CANCELLED)
    assert ctx.last().client_order_id == "g-2-2"  # no retry_after_s wait, but 130 would cross the bid: it waits
    grid.on_market(ctx.book("129.9", "129.91"))
    assert (ctx.last().side, ctx.last().price, ctx.last().qty, ctx.last().closes) == (Side.SELL, D(130), D(1),
                                                                                       "g-2-1")


async def test_a_sell_offered_above_the_range_before_a_restart_returns_to_its_grid_price(make_grid, ctx, store,
                                                                                          restart):
    grid = await make_grid(out_of_range="shift")
    grid.on_market(ctx.book("124.99", "125.01"))
    store.insert_fill(ctx.fill(grid, "g-2-1"), "g")
    grid.on_market(ctx.book("151", "151.01"))
    ctx.finish(grid, "g-2-1")
    assert (ctx.last().client_order_id, ctx.last().price) == ("g-2-2", D("151.01"))

    again = restart()  # the sell at 151.01 still rests (the bot died without cancelling it)
    grid2 = await make_grid(context=again, out_of_range="shift")
    grid2.on_market(again.book("140", "140.01"))
    assert "g-2-2" in again.cancelled
