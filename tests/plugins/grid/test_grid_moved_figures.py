"""A grid laid out again on another market keeps showing the strategy's figures as the ledger has them: /status's
"round trips", "realized" and "fees" are what `arbot report` shows for the strategy, its fills on the market it
left included."""

from __future__ import annotations

from decimal import Decimal

from bot.domain import MarketInfo, OrderStatus
from bot.ledger import strategy_figures
from bot.report import fees_text
from bot.units import moneys

D = Decimal

ETH = MarketInfo(symbol="ETH/USD", base="ETH", quote="USD", tick_size=D("0.01"), lot_size=D("0.001"),
                 min_qty=D("0.001"), min_notional=D("5"))


async def test_status_keeps_the_figures_of_the_market_the_grid_left(make_grid, ctx, store, restart):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    fills = [ctx.fill(grid, "g-2-1", fee="0.12")]  # bought 1 BTC at 120
    ctx.finish(grid, "g-2-1")
    grid.on_market(ctx.book("130.00", "130.02"))
    fills.append(ctx.fill(grid, "g-2-2", fee="0.13"))  # sold it at 130: 10 USD realized
    ctx.finish(grid, "g-2-2")
    for fill in fills:
        store.insert_fill(fill, "g")
    for cid, order in ctx.orders.items():  # the operator cancels the resting buys and stops the bot
        if not order.status.terminal:
            ctx.finish(None, cid, OrderStatus.CANCELLED)
    await make_grid(context=restart())  # the same settings once: the slots settle, every one free

    moved = restart()
    moved._exchange._market = ETH
    grid3 = await make_grid(context=moved, symbol="ETH/USD", lower=D(1000), upper=D(1500))

    report = strategy_figures([("g", f) for f in fills])["g"]  # what `arbot report` shows for the strategy
    status = grid3.status()
    assert (status["round trips"], status["realized"], status["fees"]) == (
        str(report.round_trips), moneys(report.realized, report.quotes), fees_text(report)) == ("1", "10.00 USD",
                                                                                                "0.25 USD")
