"""A buy's fill delivered after the fill of the sell that closes it (the venue said the buy FILLED at once, its fill
came late): the grid's /status matches the fills in the time they were made, as the ledger does, so "realized" and
"round trips" are what /pnl and `arbot report` show for the same fills."""

from __future__ import annotations

from bot.domain import OrderStatus
from bot.ledger import strategy_figures
from bot.units import moneys


async def test_status_is_the_ledgers_when_a_buys_fill_comes_after_its_sells(make_grid, ctx, clock):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))  # buys rest at 100, 110 and 120
    grid.on_market(ctx.book("109.99", "110.01"))
    late = ctx.fill(None, "g-1-1")  # slot 1 bought 1 at 110: the venue says FILLED, its fill is not here yet
    ctx.finish(grid, "g-1-1")  # slot 1 offers it at 120 (g-1-2) once the grid's own buy there is cancelled
    ctx.finish(grid, "g-2-1", OrderStatus.CANCELLED)
    clock.advance(1)
    grid.on_market(ctx.book("99.99", "100.01"))
    fills = [late, ctx.fill(grid, "g-0-1")]  # slot 0 bought 1 at 100
    ctx.finish(grid, "g-0-1")
    clock.advance(1)
    grid.on_market(ctx.book("119.99", "120.01"))
    fills.append(ctx.fill(grid, "g-1-2"))  # slot 1's sell at 120, which names slot 1's buy
    ctx.finish(grid, "g-1-2")
    grid.on_fill(late)  # the buy's fill, at last

    closes = {"g-0-2": "g-0-1", "g-1-2": "g-1-1"}
    ledger = strategy_figures([("g", f) for f in fills], closes=closes)["g"]  # fills in time order, as stored
    assert moneys(ledger.realized, ledger.quotes) == "10.00 USD"  # the sell closed the lot it names: 120 - 110
    status = grid.status()
    assert (status["realized"], status["round trips"]) == ("10.00 USD", str(ledger.round_trips))
