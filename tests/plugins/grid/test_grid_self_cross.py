"""A slot's sell never goes out beside one of the grid's own buys resting at or above its price: a buy placed
before the slot below it bought (and partly filled since) is cancelled first, and the sell follows its end."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.domain import OrderStatus, Side

D = Decimal


def resting(ctx) -> list[tuple[str, Side, Decimal]]:
    return [(o.client_order_id, o.side, o.price) for o in ctx.orders.values() if not o.status.terminal]


@pytest.mark.parametrize("post_only", [True, False])
async def test_a_sell_waits_for_the_grids_own_buy_at_its_price_to_be_cancelled(make_grid, ctx, post_only):
    grid = await make_grid(post_only=post_only)
    grid.on_market(ctx.book("124.99", "125.01"))  # buys at 100, 110, 120
    grid.on_market(ctx.book("130.00", "130.01"))  # and at 130 (g-3-1): no slot holds anything yet
    ctx.fill(grid, "g-3-1", qty="0.3")  # the price dips to 130: the buy there fills in part ...
    grid.on_market(ctx.book("119.99", "120.01"))
    ctx.fill_all(grid, "g-2-1")  # ... and on to 120: slot 2 holds 1 BTC, to sell at 130 where g-3-1 still rests

    assert [o for o in resting(ctx) if o[1] is Side.SELL] == [], f"the grid quotes against itself: {resting(ctx)}"
    assert "g-3-1" in ctx.cancelled

    ctx.finish(grid, "g-3-1", OrderStatus.CANCELLED)  # slot 3 holds its 0.3 BTC, to sell at 140
    offers = sorted((o.price, o.qty, o.closes) for o in ctx.orders.values()
                    if o.side is Side.SELL and not o.status.terminal)
    assert offers == [(D(130), D(1), "g-2-1"), (D(140), D("0.3"), "g-3-1")]
    assert grid.status()["slots"] == "1 free / 2 pending / 2 locked"
    assert ctx.attempts == 6, "the cancelled buy's slot does not bid again below the offer at 130"


async def test_an_unfilled_buy_in_the_way_is_cancelled_and_its_slot_waits_behind_the_offer(make_grid, ctx):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    grid.on_market(ctx.book("130.00", "130.01"))  # g-3-1 rests at 130
    grid.on_market(ctx.book("119.99", "120.01"))  # a gap down: the venue has not filled g-3-1 (yet) ...
    ctx.fill_all(grid, "g-2-1")  # ... but 120: slot 2 sells at 130, where g-3-1 rests
    assert "g-3-1" in ctx.cancelled and ctx.last().side is Side.BUY
    ctx.finish(grid, "g-3-1", OrderStatus.CANCELLED)
    assert (ctx.last().side, ctx.last().price) == (Side.SELL, D(130))
    grid.on_market(ctx.book("130.00", "130.01"))
    ctx.fill_all(grid, "g-2-2")  # sold at 130: slot 3 bids there again at once
    assert (ctx.last().side, ctx.last().price, ctx.last().client_order_id) == (Side.BUY, D(130), "g-3-2")


async def test_reconcile_asks_again_for_a_cancel_the_sell_waits_for(make_grid, ctx):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    grid.on_market(ctx.book("130.00", "130.01"))
    grid.on_market(ctx.book("119.99", "120.01"))
    ctx.fill_all(grid, "g-2-1")
    assert ctx.cancelled == ["g-3-1"]
    await grid.reconcile()  # the cancel may have missed an order still on its way: asked again
    assert ctx.cancelled == ["g-3-1", "g-3-1"]
    ctx.finish(None, "g-3-1", OrderStatus.CANCELLED)  # its update is lost: the next reconcile finds it
    await grid.reconcile()
    assert (ctx.last().side, ctx.last().price) == (Side.SELL, D(130))


async def test_a_gap_down_through_three_buys_whose_fills_come_lowest_first_sells_each_once(make_grid, ctx):
    """The book gapped through three buys; their fills arrive lowest first. The sells above wait for the buys in their
    way (cancels that come too late for filled orders change nothing): each slot then sells its own lot, once."""
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))  # buys at 100, 110, 120
    grid.on_market(ctx.book("99.99", "100.00"))
    for cid in ("g-0-1", "g-1-1", "g-2-1"):
        ctx.fill_all(grid, cid)
    assert sorted((i.price, i.qty, i.closes) for i in ctx.submitted if i.side is Side.SELL) == [
        (D(110), D(1), "g-0-1"), (D(120), D(1), "g-1-1"), (D(130), D(1), "g-2-1")]
    assert grid.status()["slots"] == "2 free / 0 pending / 3 locked"


async def test_a_gap_down_cancels_no_buy_whose_fills_have_come(make_grid, ctx):
    """The three buys' fills all came before their ends, lowest first: the buys in the way of the lowest slot's sell
    are known filled, so nothing is cancelled (a cancel for a filled order is noise a venue may count against the
    rate limit), and each slot sells its own lot, once."""
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))  # buys at 100, 110, 120
    grid.on_market(ctx.book("99.99", "100.00"))
    for cid in ("g-0-1", "g-1-1", "g-2-1"):
        ctx.fill(grid, cid)
    for cid in ("g-0-1", "g-1-1", "g-2-1"):
        ctx.finish(grid, cid)
    assert ctx.cancelled == []
    assert sorted((i.price, i.qty, i.closes) for i in ctx.submitted if i.side is Side.SELL) == [
        (D(110), D(1), "g-0-1"), (D(120), D(1), "g-1-1"), (D(130), D(1), "g-2-1")]


async def test_a_buy_the_executor_knows_filled_is_not_cancelled(make_grid, ctx):
    """The executor's record says the buy in the way filled (its fill not yet handed to the grid): no cancel; the sell
    waits for that buy's end."""
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    grid.on_market(ctx.book("99.99", "100.00"))
    ctx.fill(None, "g-1-1")
    ctx.fill(None, "g-2-1")
    ctx.fill_all(grid, "g-0-1")
    assert ctx.cancelled == []
    for cid in ("g-1-1", "g-2-1"):
        ctx.finish(grid, cid)
    assert sorted((i.price, i.qty, i.closes) for i in ctx.submitted if i.side is Side.SELL) == [
        (D(110), D(1), "g-0-1"), (D(120), D(1), "g-1-1"), (D(130), D(1), "g-2-1")]


async def test_a_shift_cancels_no_buy_whose_fills_have_come(make_grid, ctx):
    grid = await make_grid(out_of_range="shift")
    grid.on_market(ctx.book("124.99", "125.01"))  # buys at 100, 110, 120
    ctx.fill(grid, "g-2-1")  # wholly filled; its end has not come yet
    grid.on_market(ctx.book("151", "151.01"))  # the shift cancels the resting buys, not the filled one
    assert sorted(ctx.cancelled) == ["g-0-1", "g-1-1", "g-3-1", "g-4-1"]
