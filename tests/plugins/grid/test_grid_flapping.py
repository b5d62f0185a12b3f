"""A bid flapping back and forth across ``upper`` moves nothing: the grid counts the bid above the range only once
it has stayed there ``out_of_range_after_s``, and back inside only once it has stayed inside as long."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from bot.domain import FeedState, FeedStatus, OrderStatus, Side
from plugins.grid.models import load_grid
from plugins.grid.settings import GridSettings

D = Decimal

AFTER_S = next(f.default for f in dataclasses.fields(GridSettings) if f.name == "out_of_range_after_s")
"""The default: what a trader gets without setting it."""

CROSSINGS = 40


async def locked_slot_waiting_above_its_sell(make_grid, ctx, **settings):
    """Slot 2 bought at 120; the bid (135) is above its sell price (130), so its post-only sell waits."""
    grid = await make_grid(out_of_range="shift", **settings)
    grid.on_market(ctx.book("124.99", "125.01"))
    ctx.fill(grid, "g-2-1")
    grid.on_market(ctx.book("135", "135.01"))
    ctx.finish(grid, "g-2-1")
    assert ctx.last().side is Side.BUY
    return grid


def end_cancels(grid, ctx) -> None:
    """The venue confirms every cancel asked for."""
    for cid in ctx.cancelled:
        if not ctx.orders[cid].status.terminal:
            ctx.finish(grid, cid, OrderStatus.CANCELLED)


def flap(grid, ctx, crossings: int, every_s: float) -> None:
    """The bid crosses upper (150) ``crossings`` times, one crossing every ``every_s``; each cancel ends at once."""
    for i in range(crossings):
        ctx.clock.advance(every_s)
        grid.on_market(ctx.book("151", "151.01") if i % 2 == 0 else ctx.book("149", "149.01"))
        end_cancels(grid, ctx)


async def test_a_bid_flapping_across_upper_sends_a_bounded_number_of_orders(make_grid, ctx):
    assert AFTER_S > 1
    grid = await locked_slot_waiting_above_its_sell(make_grid, ctx, out_of_range_after_s=AFTER_S)
    attempts, cancels, alerts = ctx.attempts, len(ctx.cancelled), len(ctx.alerts)
    flap(grid, ctx, CROSSINGS, every_s=1.0)  # quicker than out_of_range_after_s: 20 sells and 20 cancels before
    assert (ctx.attempts - attempts, len(ctx.cancelled) - cancels, len(ctx.alerts) - alerts) == (0, 0, 0)
    assert grid.status()["slots"] == "1 free / 3 pending / 1 locked"  # slot 3 would bid at 130, where slot 2 sells


async def test_without_hysteresis_each_crossing_moves_the_sell(make_grid, ctx):
    """out_of_range_after_s = 0, the behaviour before: a cancel and a new sell per two crossings (the bound above
    is the setting's doing)."""
    grid = await locked_slot_waiting_above_its_sell(make_grid, ctx, out_of_range_after_s=0)
    attempts, cancels = ctx.attempts, len(ctx.cancelled)
    flap(grid, ctx, CROSSINGS, every_s=1.0)
    assert (ctx.attempts - attempts, len(ctx.cancelled) - cancels) == (CROSSINGS // 2, CROSSINGS // 2)


async def test_a_bid_that_stays_above_is_followed_once_it_has_stayed_there(make_grid, ctx):
    grid = await locked_slot_waiting_above_its_sell(make_grid, ctx, out_of_range_after_s=10.0)
    grid.on_market(ctx.book("152", "152.02"))
    ctx.clock.advance(9.9)
    grid.on_market(ctx.book("152", "152.02"))
    assert ctx.last().side is Side.BUY  # not yet: the bid may come straight back
    ctx.clock.advance(0.1)
    grid.on_market(ctx.book("152", "152.02"))
    assert (ctx.last().side, ctx.last().price, ctx.last().qty) == (Side.SELL, D("152.01"), D(1))
    sell = ctx.last().client_order_id

    grid.on_market(ctx.book("140", "140.01"))  # back inside, but not for long enough yet
    ctx.clock.advance(5)
    grid.on_market(ctx.book("153", "153.01"))  # above again: the clock of the return starts again next time
    ctx.clock.advance(5)
    grid.on_market(ctx.book("140", "140.01"))
    ctx.clock.advance(9.9)
    grid.on_market(ctx.book("140", "140.01"))
    assert sell not in ctx.cancelled
    ctx.clock.advance(0.1)
    grid.on_market(ctx.book("140", "140.01"))  # inside for 10 s: the sell returns to its own price
    assert ctx.cancelled[-1] == sell


async def test_a_shift_waits_for_the_bid_to_stay_above_the_range(make_grid, ctx, store):
    grid = await make_grid(out_of_range="shift", out_of_range_after_s=10.0)
    grid.on_market(ctx.book("124.99", "125.01"))
    flap(grid, ctx, 9, every_s=1.0)  # ends above, having crossed 9 times within 9 s
    assert (ctx.cancelled, load_grid(store, "g")[0].shifts) == ([], 0)
    ctx.clock.advance(10)
    grid.on_market(ctx.book("151", "151.01"))  # above for 10 s: the buys are cancelled, the grid re-centred
    end_cancels(grid, ctx)
    assert load_grid(store, "g")[0].shifts == 1


def feed(ctx, state: FeedState) -> FeedStatus:
    return FeedStatus("paper", "BTC/USD", state, ctx.clock.time_ns())


async def test_time_the_feed_is_stale_does_not_count_toward_out_of_range(make_grid, ctx, store):
    """What the bid did while the feed was stale is unknown: a stale stretch starts the count again once it is live."""
    grid = await make_grid(out_of_range="shift", out_of_range_after_s=10.0)
    grid.on_market(ctx.book("124.99", "125.01"))
    grid.on_market(ctx.book("151", "151.01"))  # above: the count starts
    ctx.clock.advance(1)
    grid.on_market(feed(ctx, FeedState.STALE))
    ctx.clock.advance(60)
    grid.on_market(ctx.book("151", "151.01"))  # not trusted
    grid.on_market(feed(ctx, FeedState.LIVE))
    grid.on_market(ctx.book("151", "151.01"))  # 61 s after the crossing, all but 1 s of it stale: not yet
    assert (ctx.cancelled, load_grid(store, "g")[0].shifts) == ([], 0)
    ctx.clock.advance(9.9)
    grid.on_market(ctx.book("151", "151.01"))
    assert ctx.cancelled == []
    ctx.clock.advance(0.1)
    grid.on_market(ctx.book("151", "151.01"))  # above for 10 s of live feed: the buys are cancelled to re-centre
    end_cancels(grid, ctx)
    assert load_grid(store, "g")[0].shifts == 1
