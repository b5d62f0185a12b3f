"""Every layout is made on the venue's rules as they are when it is made: a tick or lot size the venue changed
(between two runs, or while the bot runs) is used for the whole of a new layout from its start, never the one the
grid read before."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from bot.domain import OrderStatus, Side
from plugins.grid.models import load_grid

D = Decimal

GEOMETRIC = dict(lower=D(100), upper=D(200), levels=4, spacing="geometric")
"""Levels 100, 125.99.., 158.74.., 200: off a tick of 0.1 at 0.01."""


def on_tick(prices, tick: Decimal) -> bool:
    return all((p / tick) % 1 == 0 for p in prices)


def change_rules(context, **rules) -> None:
    """The venue's rules of BTC/USD change (what ``ctx.exchange("paper").market("BTC/USD")`` answers from now)."""
    exchange = context._exchange
    exchange._market = dataclasses.replace(exchange._market, **rules)


async def test_a_layout_waiting_for_its_buys_puts_the_slots_on_the_new_tick_at_once(make_grid, ctx, store):
    """Settings and tick both changed across a restart: the grid is laid out again once the buys resting under the
    old settings have ended. A buy that filled before its cancel sells on the venue's new tick, not the old one."""
    grid = await make_grid(**GEOMETRIC)
    grid.on_market(ctx.book("126.5", "126.51"))
    assert ctx.last().client_order_id == "g-1-1"  # slot 1 buys at 125.99 (sells at 158.75)
    for order in ctx.orders.values():
        store.insert_order(order)

    coarser = dataclasses.replace(ctx._exchange.market("BTC/USD"), tick_size=D("0.1"))
    again = type(ctx)(store, ctx.clock, orders=ctx.orders, market=coarser)
    grid2 = await make_grid(context=again, **{**GEOMETRIC, "levels": 5})
    assert again.cancelled == ["g-0-1", "g-1-1"]
    assert on_tick([s.sell_price for s in grid2._slots], D("0.1"))  # the buys' prices are those resting
    grid2.on_market(again.book("126.5", "126.51"))
    again.fill_all(grid2, "g-1-1")  # filled before the cancel landed: the slot sells at its old step, new tick
    assert (again.last().side, again.last().price) == (Side.SELL, D("158.8"))


async def test_a_re_centred_grid_uses_the_tick_and_lot_of_the_moment(make_grid, ctx, store):
    grid = await make_grid(out_of_range="shift", order_size=D("0.075"), **GEOMETRIC)
    grid.on_market(ctx.book("124.99", "125.01"))
    assert ctx.last().qty == D("0.075")
    change_rules(ctx, tick_size=D("0.1"), lot_size=D("0.01"), min_qty=D("0.01"))  # while the bot runs
    grid.on_market(ctx.book("233.33", "233.35"))  # above the range: the buys are cancelled, the grid re-centred
    for cid in list(ctx.cancelled):
        ctx.finish(grid, cid, OrderStatus.CANCELLED)
    assert load_grid(store, "g")[0].shifts == 1
    prices = [p for s in grid._slots for p in (s.buy_price, s.sell_price)]
    assert on_tick(prices, D("0.1")), prices
    placed = ctx.submitted[-1]
    assert (placed.side, placed.qty, on_tick([placed.price], D("0.1"))) == (Side.BUY, D("0.07"), True)


async def test_a_layout_done_once_its_buys_ended_uses_the_tick_of_the_moment(make_grid, ctx, store, restart):
    grid = await make_grid(**GEOMETRIC)
    grid.on_market(ctx.book("124.99", "125.01"))
    again = restart()
    grid2 = await make_grid(context=again, **{**GEOMETRIC, "levels": 5})
    change_rules(again, tick_size=D("0.1"))  # before the cancelled buy's end lets the grid be laid out again
    grid2.on_market(again.book("124.99", "125.01"))
    again.finish(grid2, "g-0-1", OrderStatus.CANCELLED)
    assert grid2.status()["slots"].startswith("2 free / 2 pending"), grid2.status()
    prices = [p for s in grid2._slots for p in (s.buy_price, s.sell_price)]
    assert on_tick(prices, D("0.1")), prices
    assert on_tick([i.price for i in again.submitted], D("0.1")), again.submitted


async def test_a_layout_the_venue_s_new_tick_is_too_coarse_for_waits_and_says_so_once(make_grid, ctx, restart):
    grid = await make_grid(**GEOMETRIC)
    grid.on_market(ctx.book("124.99", "125.01"))
    again = restart()
    grid2 = await make_grid(context=again, **{**GEOMETRIC, "levels": 5})
    change_rules(again, tick_size=D(40))
    grid2.on_market(again.book("124.99", "125.01"))
    again.finish(grid2, "g-0-1", OrderStatus.CANCELLED)
    again.clock.advance(30)
    grid2.on_market(again.book("124.98", "125.01"))  # tried again: still too coarse
    waits = [a[2] for a in again.alerts if "waits" in a[2]]
    assert len(waits) == 1, waits  # once, however often it is tried
    assert waits[0].startswith("laying the grid out again (levels 4 -> 5) waits: ") and "tick size 40" in waits[0]
    assert waits[0].endswith("; trying again every 30s")
    assert (grid2.status()["state"], again.submitted) == ("laying out again", [])
    change_rules(again, tick_size=D("0.1"))  # the venue's tick fits again: the grid is laid out on it ...
    again.clock.advance(29)
    grid2.on_market(again.book("124.99", "125.01"))
    assert grid2.status()["state"] == "laying out again"
    again.clock.advance(1)  # ... at its next try, retry_after_s after the last
    grid2.on_market(again.book("124.99", "125.01"))
    assert "state" not in grid2.status()
    assert again.submitted and on_tick([i.price for i in again.submitted], D("0.1"))
