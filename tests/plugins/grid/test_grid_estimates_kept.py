"""What an order's end counted of fills that had not arrived (:attr:`GridStrategy._estimated`) is kept until those
fills come, however many finished orders come after it: it was capped at FINISHED_KEPT like the trade ids of finished
orders (10,000; 2 here), so with more orders waiting for fills the oldest's estimate was dropped, and its fill, when it
came, was counted a second time (the slot's lot taken off twice: it offered 0.2 BTC of the 0.6 it held)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.domain import OrderStatus, Side
from plugins.grid import strategy as grid_module

D = Decimal
KEPT = 2


@pytest.fixture(autouse=True)
def small_memory(monkeypatch):
    monkeypatch.setattr(grid_module, "FINISHED_KEPT", KEPT)


def sells(ctx) -> list[tuple[str, Decimal]]:
    return [(i.client_order_id, i.qty) for i in ctx.submitted if i.side is Side.SELL]


def _end_without_its_fill(grid, ctx, cid: str, qty: str) -> object:
    """``cid`` fills ``qty`` (the fill on its way, not delivered), then is cancelled with that much filled: the grid
    counts it estimated. Returns the fill."""
    late = ctx.fill(None, cid, qty=qty)
    ctx.clock.advance(1)
    ctx.orders[cid].updated_ns = ctx.clock.time_ns()
    ctx.finish(grid, cid, OrderStatus.CANCELLED)
    return late


def _more_estimated_orders_than_kept(grid, ctx) -> list[object]:
    """Slots 0 and 1's buys end the same way after slot 2's sell: KEPT orders estimated after it. Their fills."""
    return [_end_without_its_fill(grid, ctx, cid, "0.5") for cid in ("g-0-1", "g-1-1")]


async def test_the_oldest_estimate_is_kept_while_more_orders_wait_for_their_fills(make_grid, ctx, clock):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    ctx.fill_all(grid, "g-2-1")  # slot 2 holds 1 BTC, offered at 130 (g-2-2)
    late = _end_without_its_fill(grid, ctx, "g-2-2", "0.4")  # counted at 130: the slot holds 0.6
    others = _more_estimated_orders_than_kept(grid, ctx)
    grid.on_fill(late)  # the sell's fill arrives: it corrects the estimate, it is not sold a second time
    for fill in others:
        grid.on_fill(fill)

    clock.advance(30)
    grid.on_market(ctx.book("125", "125.01"))
    assert ("g-2-3", D("0.6")) in sells(ctx), f"the grid holds 0.6 BTC in slot 2: {sells(ctx)}"
    assert grid._estimated == {}
    ctx.fill_all(grid, "g-2-3")
    assert stored_profit(grid, 2) == D(10)  # 0.4 and 0.6 sold at 130 of 1 bought at 120


async def test_the_oldest_estimate_is_found_again_at_a_restart_with_more_orders_waiting(make_grid, ctx, store,
                                                                                       restart, clock):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    buy = ctx.fill(grid, "g-2-1")
    ctx.finish(grid, "g-2-1")
    late = _end_without_its_fill(grid, ctx, "g-2-2", "0.4")
    others = _more_estimated_orders_than_kept(grid, ctx)
    for order in ctx.orders.values():  # what the host stored; then the bot restarts
        store.insert_order(order)
    store.insert_fill(buy, "g")

    again = restart()
    grid2 = await make_grid(context=again)
    grid2.on_fill(late)  # delivered after the restart
    for fill in others:
        grid2.on_fill(fill)
    clock.advance(30)
    grid2.on_market(again.book("125", "125.01"))
    assert ("g-2-3", D("0.6")) in sells(again), f"the grid holds 0.6 BTC in slot 2: {sells(again)}"


def stored_profit(grid, index: int) -> Decimal:
    from plugins.grid.models import load_grid

    return load_grid(grid.ctx.store, grid.name)[1][index].profit
