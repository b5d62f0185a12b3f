"""A long-running grid keeps what it knows about orders bounded by its open ones, with the same figures."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.api.ledger import Position
from bot.domain import OrderStatus
from plugins.grid import strategy as grid_module

D = Decimal
KEPT = 8


@pytest.fixture(autouse=True)
def small_memory(monkeypatch):
    monkeypatch.setattr(grid_module, "FINISHED_KEPT", KEPT, raising=False)


def memory(grid) -> tuple[int, int, int]:
    return len(grid._counted), len(getattr(grid, "_finished", ())), len(grid._closes)


def ledger_realized(ctx, fills) -> Decimal:
    """The ledger's realized PnL of ``fills``: each sell matched to the lot its order names."""
    book, realized = Position(), D(0)
    for fill in fills:
        realized += book.apply_fill(fill, ctx.orders[fill.client_order_id].closes)
    return realized


def clear_way(grid, ctx) -> None:
    """Slot 1's buy rests at 110, where slot 0 sells: the grid cancels it before it offers there
    (test_grid_self_cross); the venue confirms."""
    for cid in ctx.cancelled:
        if not ctx.orders[cid].status.terminal:
            ctx.finish(grid, cid, OrderStatus.CANCELLED)


async def cycle(grid, ctx, rounds: int, fills: list) -> None:
    """Slot 0 buys at 100 and sells at 110, ``rounds`` times, while slot 2 holds a lot bought at 120."""
    for _ in range(rounds):
        buy = grid._slots[0].order_id
        fills.append(ctx.fill(grid, buy))
        ctx.finish(grid, buy)
        clear_way(grid, ctx)
        sell = grid._slots[0].order_id
        assert ctx.orders[sell].closes == buy
        fills.append(ctx.fill(grid, sell))
        ctx.finish(grid, sell)


@pytest.mark.parametrize("rounds", [10, 100])
async def test_round_trips_keep_memory_bounded_and_the_ledgers_realized_pnl(make_grid, ctx, rounds):
    grid = await make_grid(post_only=False)
    grid.on_market(ctx.book("124.99", "125.01"))
    fills = [ctx.fill(grid, "g-2-1")]
    ctx.finish(grid, "g-2-1")  # slot 2 holds 120: FIFO would close it with slot 0's first sell at 110
    await cycle(grid, ctx, rounds, fills)

    # open: the buys of slots 0 and 1 and slot 2's sell; finished: at most KEPT, whatever the number of rounds
    counted, finished, closes = memory(grid)
    assert counted <= 3 and finished <= KEPT and closes == 3
    assert grid.status()["round trips"] == str(rounds)
    assert grid._figures.realized == ledger_realized(ctx, fills) == 10 * rounds
    assert grid.status()["realized"] == f"{10 * rounds}.00 USD"

    # a late fill of a sell finished long ago (its entries are gone): matched to the lot its order names
    first_sell = "g-0-2"
    assert first_sell not in grid._closes and first_sell not in grid._finished
    buy = grid._slots[0].order_id
    fills.append(ctx.fill(grid, buy))
    ctx.finish(grid, buy)
    clear_way(grid, ctx)
    sell = grid._slots[0].order_id
    late = ctx.fill(None, sell, qty="0.4")  # the venue filled part of the sell; its fill comes after the end
    ctx.finish(grid, sell, status=OrderStatus.CANCELLED)
    assert sell not in grid._closes
    grid.on_fill(late)
    grid.on_fill(late)  # delivered twice: counted once
    fills.append(late)
    assert grid._figures.realized == ledger_realized(ctx, fills) == 10 * rounds + 4


async def test_a_restart_counts_the_stored_history_once_and_keeps_only_the_open_orders(make_grid, ctx, store,
                                                                                        restart):
    grid = await make_grid(post_only=False)
    grid.on_market(ctx.book("124.99", "125.01"))
    fills = [ctx.fill(grid, "g-2-1")]
    ctx.finish(grid, "g-2-1")
    await cycle(grid, ctx, 50, fills)
    fills.append(ctx.fill(grid, grid._slots[1].order_id, qty="0.5"))  # slot 1's buy is half filled and still open
    for order in ctx.orders.values():  # what the host stored meanwhile
        store.insert_order(order)
    for fill in fills:
        store.insert_fill(fill, "g")

    again = restart()
    grid2 = await make_grid(context=again, post_only=False)
    assert grid2._figures.realized == grid._figures.realized == ledger_realized(ctx, fills) == 500
    counted, finished, closes = memory(grid2)
    assert counted == 1 and finished <= KEPT and closes == 3  # g-1-1's trade ids; three open orders
    assert grid2._closes["g-2-2"] == "g-2-1"

    grid2.on_fill(fills[-1])  # the open buy's stored fill, delivered again: not counted twice
    lots = sum((lot.qty for lot in grid2._book.lots), D(0))
    assert lots == D("1.5") and grid2._figures.realized == 500
    grid2.on_market(again.book("124.99", "125.01"))
    await cycle(grid2, again, 20, fills)  # and it goes on with the same figures
    assert grid2._figures.realized == ledger_realized(ctx, fills) == 700
    assert memory(grid2)[1] <= KEPT
