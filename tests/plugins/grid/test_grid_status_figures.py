"""The grid's /status shows the ledger's figures under the ledger's names: "round trips" and "fees" are what
`arbot report` and /pnl show for the same fills (a sell filled in two parts is two round trips; a fee in a third
asset is shown in that asset); the grid's own count of slot cycles is "slots completed"."""

from __future__ import annotations

from bot.domain import OrderStatus
from bot.ledger import strategy_figures
from bot.report import fees_text


async def test_status_round_trips_is_the_reports_after_a_sell_filled_in_two_parts(make_grid, ctx):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    fills = [ctx.fill(grid, "g-2-1")]  # bought 1 at 120
    ctx.finish(grid, "g-2-1")
    grid.on_market(ctx.book("130.00", "130.02"))
    fills.append(ctx.fill(grid, "g-2-2", qty="0.4"))  # the sell at 130, in two parts
    fills.append(ctx.fill(grid, "g-2-2", qty="0.6"))
    ctx.finish(grid, "g-2-2", OrderStatus.FILLED)

    report = strategy_figures([("g", f) for f in fills])["g"]  # what `arbot report` / the web API count
    assert grid.status()["realized"] == "10.00 USD"  # the same realized PnL as the ledger's ...
    assert grid.status()["round trips"] == str(report.round_trips) == "2"  # ... and the same round trips
    assert grid.status()["slots completed"] == "1"  # the grid's own count, under its own name


async def test_status_fees_is_the_reports_when_a_fee_is_paid_in_a_third_asset(make_grid, ctx):
    """A venue charging its fee in its own token (BNB on a BTC/USD grid): the report, /pnl and /status show
    "0.12 USD + 0.001 BNB"."""
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    fills = [ctx.fill(grid, "g-2-1", fee="0.12")]
    ctx.finish(grid, "g-2-1")
    grid.on_market(ctx.book("130.00", "130.02"))
    fills.append(ctx.fill(grid, "g-2-2", fee="0.001", fee_asset="BNB"))
    ctx.finish(grid, "g-2-2")

    report = strategy_figures([("g", f) for f in fills])["g"]
    assert fees_text(report) == "0.12 USD + 0.001 BNB"
    assert grid.status()["fees"] == fees_text(report)
