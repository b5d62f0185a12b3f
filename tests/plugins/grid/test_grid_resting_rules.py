"""A sell resting when the venue changes its rules while the grid runs (grid6): the venue holds it as placed, so the
grid leaves it where it is (a cancel and a new order would lose its place in the queue and gain nothing): its fill
is counted at its own price, and only an order placed after the change follows the new rules."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from bot.domain import OrderStatus, Side

D = Decimal

GEOMETRIC = dict(lower=D(100), upper=D(200), levels=4, spacing="geometric")
"""Levels 100, 125.99.., 158.74.., 200: slot 1 buys at 125.99 and sells at 158.75 at a tick of 0.01."""


def change_rules(context, **rules) -> None:
    exchange = context._exchange
    exchange._market = dataclasses.replace(exchange._market, **rules)


async def test_a_sell_resting_at_the_old_tick_and_lot_is_left_to_fill_and_counted_at_its_price(make_grid, ctx):
    grid = await make_grid(order_size=D("0.075"), **GEOMETRIC)
    grid.on_market(ctx.book("126.5", "126.51"))
    ctx.fill_all(grid, "g-1-1")  # slot 1 holds 0.075, offered at 158.75 (g-1-2)
    assert (ctx.last().client_order_id, ctx.last().price, ctx.last().qty) == ("g-1-2", D("158.75"), D("0.075"))
    change_rules(ctx, tick_size=D("0.1"), lot_size=D("0.01"), min_qty=D("0.01"))
    await grid.reconcile()
    assert "g-1-2" not in ctx.cancelled  # the venue holds it as placed
    assert grid._slots[1].order_id == "g-1-2" and grid._slots[1].sell_price == D("158.8")
    assert grid._slots[1].qty == D("0.075")  # the slot still sells what it holds: what the resting sell offers
    ctx.fill_all(grid, "g-1-2")
    assert grid.status()["slots completed"] == "1"
    assert grid._slots[1].profit == D("0.075") * (D("158.75") - D("125.99"))  # at the prices it traded
    ctx.clock.advance(30)
    grid.on_market(ctx.book("126", "126.1"))
    buy = ctx.last()
    assert (buy.client_order_id, buy.side, buy.price, buy.qty) == ("g-1-3", Side.BUY, D("125.9"), D("0.07"))


async def test_a_resting_sell_cancelled_after_the_change_is_offered_again_on_the_new_rules(make_grid, ctx):
    grid = await make_grid(order_size=D("0.075"), **GEOMETRIC)
    grid.on_market(ctx.book("126.5", "126.51"))
    ctx.fill_all(grid, "g-1-1")
    change_rules(ctx, tick_size=D("0.1"), lot_size=D("0.01"), min_qty=D("0.01"))
    await grid.reconcile()
    ctx.finish(grid, "g-1-2", OrderStatus.CANCELLED)  # cancelled by hand, say
    ctx.clock.advance(30)
    grid.on_market(ctx.book("150", "150.1"))
    sell = ctx.last()
    assert (sell.client_order_id, sell.side, sell.price, sell.qty) == ("g-1-3", Side.SELL, D("158.8"), D("0.07"))
