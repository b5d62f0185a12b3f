"""A grid whose step cannot pay the two maker fees of a round trip is called out at start."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from bot.domain import AlertLevel
from plugins.grid.strategy import GridStrategy

D = Decimal


def market_with_fees(maker_bps: str):
    from bot.domain import MarketInfo

    return MarketInfo(symbol="BTC/USD", base="BTC", quote="USD", tick_size=D("0.01"), lot_size=D("0.001"),
                      min_qty=D("0.001"), min_notional=D("5"), maker_fee_bps=D(maker_bps), taker_fee_bps=D(40))


async def start(ctx, make_grid, maker_bps: str, **settings) -> GridStrategy:
    ctx._exchange._market = market_with_fees(maker_bps)
    return await make_grid(**settings)


async def test_a_step_below_two_maker_fees_is_a_warning(ctx, make_grid):
    # levels 100..150 arithmetic: the narrowest step is 140 -> 150, 10 / 140 = 714.29 bps
    await start(ctx, make_grid, "400")  # 2 x 400 = 800 bps > 714.29
    assert len(ctx.alerts) == 1
    level, kind, message, fields = ctx.alerts[0]
    assert level is AlertLevel.WARNING and kind == "strategy"
    assert "grid step 10.00 USD (714.3 bps) does not cover the two maker fees of a round trip (800 bps)" in message
    assert fields["buy"] == D(140) and fields["sell"] == D(150)


async def test_a_step_that_pays_its_fees_is_quiet(ctx, make_grid):
    await start(ctx, make_grid, "350")  # 2 x 350 = 700 bps < 714.29
    assert ctx.alerts == []


async def test_unknown_fees_are_not_guessed(ctx, make_grid):
    ctx._exchange._market = dataclasses.replace(market_with_fees("0"), maker_fee_bps=None)
    await make_grid()
    assert ctx.alerts == []
