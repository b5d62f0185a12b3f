"""A venue that changes its tick size between two runs: the grid's stored prices are put on the new tick at start
(buys rounded down, sells up, as when laid out), never sent off it to be refused over and over."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from bot.domain import OrderStatus, Side
from plugins.grid.strategy import GridConfigError

D = Decimal


def on_tick(prices, tick: Decimal) -> bool:
    return all(p == p.quantize(tick) and (p / tick) % 1 == 0 for p in prices)


async def test_a_new_tick_size_moves_the_stored_prices_onto_it(make_grid, ctx, store):
    grid = await make_grid(lower=D(100), upper=D(200), levels=4, spacing="geometric")  # 125.99.., 158.74..
    grid.on_market(ctx.book("124.99", "125.01"))
    ctx.fill_all(grid, "g-0-1")  # slot 0 holds 1 BTC, offered at 125.99 (g-0-2)
    ctx.finish(grid, "g-0-2", OrderStatus.CANCELLED)  # cancelled at shutdown
    for order in ctx.orders.values():
        store.insert_order(order)

    coarser = dataclasses.replace(ctx._exchange.market("BTC/USD"), tick_size=D("0.1"))
    again = type(ctx)(store, ctx.clock, orders=ctx.orders, market=coarser)
    grid2 = await make_grid(context=again, lower=D(100), upper=D(200), levels=4, spacing="geometric")
    assert [(s.buy_price, s.sell_price) for s in grid2._slots] == [(D(100), D("126.0")), (D("125.9"), D("158.8")),
                                                                   (D("158.7"), D(200))]
    grid2.on_market(again.book("125", "125.1"))
    assert (again.last().side, again.last().price) == (Side.SELL, D("126.0"))
    assert on_tick([i.price for i in again.submitted], D("0.1")), again.submitted


async def test_a_tick_too_coarse_for_the_grid_is_refused_at_start(make_grid, ctx, store):
    await make_grid()
    coarse = dataclasses.replace(ctx._exchange.market("BTC/USD"), tick_size=D(20))
    again = type(ctx)(store, ctx.clock, orders=ctx.orders, market=coarse)
    with pytest.raises(GridConfigError, match="tick size 20"):
        await make_grid(context=again)


async def test_an_unchanged_tick_leaves_a_re_centred_grid_as_it_was(make_grid, ctx, store, restart, caplog):
    settings = dict(lower=D(100), upper=D(200), levels=4, spacing="geometric", out_of_range="shift")
    grid = await make_grid(**settings)
    grid.on_market(ctx.book("124.99", "125.01"))
    grid.on_market(ctx.book("233.33", "233.35"))  # above the range: the buys are cancelled, the grid re-centred
    for cid in list(ctx.cancelled):
        ctx.finish(grid, cid, OrderStatus.CANCELLED)
    before = [(s.buy_price, s.sell_price) for s in grid._slots]
    assert before[0][0] > 150

    grid2 = await make_grid(context=restart(), **settings)
    assert [(s.buy_price, s.sell_price) for s in grid2._slots] == before
    assert "tick size" not in caplog.text


async def test_the_stored_layout_s_spacing_places_the_prices_on_the_tick(make_grid, ctx):
    """``_onto_tick`` reads the layout's own spacing, not the settings' (at start the two agree whenever it is
    called: a changed spacing lays the grid out again instead); here they are made to differ."""
    grid = await make_grid(lower=D(100), upper=D(200), levels=4)  # arithmetic: 100, 133.33.., 166.66.., 200
    assert grid._layout is not None
    grid._layout.spacing = "geometric"
    grid._onto_tick(grid._layout, grid._slots)
    assert [(s.buy_price, s.sell_price) for s in grid._slots] == [(D(100), D("126")), (D("125.99"), D("158.75")),
                                                                  (D("158.74"), D(200))]
