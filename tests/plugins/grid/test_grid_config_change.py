"""Changed grid settings (levels, bounds) at a restart: buys merely resting (nothing filled, nothing held) are
cancelled and the grid laid out again once they have ended, with an alert saying so; a grid that holds base or a
partly filled buy (money at stake) still refuses to start, naming the fix."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.domain import AlertLevel, OrderStatus, Side
from plugins.grid.models import load_grid
from plugins.grid.strategy import GridConfigError

D = Decimal


async def test_resting_buys_are_cancelled_and_the_grid_laid_out_again(make_grid, ctx, store, restart):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))  # buys rest at 100, 110, 120; nothing filled

    again = restart()
    grid2 = await make_grid(context=again, lower=D(90))  # 90, 102, 114, 126, 138, 150
    assert sorted(again.cancelled) == ["g-0-1", "g-1-1", "g-2-1"]
    [alert] = [a for a in again.alerts if "lower 100 -> 90" in a[2]]
    assert "cancelling" in alert[2] and "0, 1, 2" in alert[2]
    grid2.on_market(again.book("124.99", "125.01"))
    assert again.submitted == []  # nothing new while the old buys may still rest
    assert grid2.status()["state"] == "laying out again"
    await grid2.reconcile()  # a cancel may miss an order on its way: asked again
    assert sorted(again.cancelled) == ["g-0-1", "g-0-1", "g-1-1", "g-1-1", "g-2-1", "g-2-1"]

    for cid in ("g-0-1", "g-1-1"):
        again.finish(grid2, cid, OrderStatus.CANCELLED)
    assert again.submitted == []
    again.finish(grid2, "g-2-1", OrderStatus.CANCELLED)  # the last one ended: the grid is laid out anew
    assert [(i.side, i.price) for i in again.submitted] == [(Side.BUY, D(90)), (Side.BUY, D(102)),
                                                            (Side.BUY, D(114))]
    assert again.submitted_ids() == ["g-0-2", "g-1-2", "g-2-2"]
    layout = load_grid(store, "g")[0]
    assert (layout.config_lower, layout.lower) == (D(90), D(90))
    assert any("laid out again" in a[2] for a in again.alerts)
    assert grid2.status()["slots"] == "2 free / 3 pending / 0 locked"
    assert "state" not in grid2.status()


async def test_a_cancelled_buy_that_filled_is_sold_before_the_grid_is_laid_out_again(make_grid, ctx, store,
                                                                                        restart):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))

    again = restart()
    grid2 = await make_grid(context=again, levels=11)  # steps of 5
    grid2.on_market(again.book("124.99", "125.01"))
    again.finish(grid2, "g-0-1", OrderStatus.CANCELLED)
    again.finish(grid2, "g-1-1", OrderStatus.CANCELLED)
    again.fill_all(grid2, "g-2-1")  # filled before the cancel landed: slot 2 holds 1 BTC bought at 120
    assert any(a[0] is AlertLevel.WARNING and "slot 2" in a[2] for a in again.alerts)
    assert load_grid(store, "g")[0].levels == 6  # not laid out while it holds base

    grid2.on_market(again.book("129.9", "129.91"))  # it sells at its old price, 130
    assert (again.last().side, again.last().price, again.last().closes) == (Side.SELL, D(130), "g-2-1")
    again.fill_all(grid2, again.last().client_order_id)
    assert load_grid(store, "g")[0].levels == 11
    assert {i.price for i in again.submitted if i.side is Side.BUY} == {D(100), D(105), D(110), D(115), D(120),
                                                                           D(125)}


async def test_a_partly_filled_buy_still_refuses_the_change(make_grid, ctx, store, restart):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    store.insert_fill(ctx.fill(grid, "g-1-1", qty="0.4"), "g")
    again = restart()
    with pytest.raises(GridConfigError, match=r"lower 100 -> 90.*slot 1 holds.*Restore the previous settings"):
        await make_grid(context=again, lower=D(90))
    assert again.cancelled == []  # nothing is touched


async def test_inventory_still_refuses_the_change(make_grid, ctx, store, restart):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    store.insert_fill(ctx.fill(grid, "g-2-1"), "g")
    ctx.finish(grid, "g-2-1")
    again = restart()
    with pytest.raises(GridConfigError, match=r"levels 6 -> 8.*slot 2 holds"):
        await make_grid(context=again, levels=8)
    assert again.cancelled == []


async def test_a_new_grid_that_cannot_be_laid_out_is_refused_before_anything_is_cancelled(make_grid, ctx, restart):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    again = restart()
    with pytest.raises(GridConfigError, match="minimum order"):
        await make_grid(context=again, lower=D("0.5"), order_size=D("0.002"))
    assert again.cancelled == []
